"""Accounts a run created through an admin API, written down so that none is left behind.

A run deletes the accounts it created when it ends. A run that is killed cannot, so each run
keeps a journal, one file per run (named by the portal and the run's process ID), of the accounts
it created and has not deleted yet. The next run against the same portal deletes what the
journals of runs no longer alive list, then removes those journals.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path


def journal_folder() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ninsho" / "created-accounts"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Journal:
    """The accounts this run created on one portal and has not deleted yet."""

    def __init__(self, portal: str, folder: Path | None = None) -> None:
        self.folder = folder or journal_folder()
        self.key = hashlib.sha256(portal.encode("utf-8")).hexdigest()[:16]
        self.path = self.folder / f"{self.key}-{os.getpid()}.txt"
        self._lock = threading.Lock()
        self._open: set[str] = set()

    def created(self, login_id: str) -> None:
        with self._lock:
            self._open.add(login_id)
            self._save()

    def deleted(self, *login_ids: str) -> None:
        with self._lock:
            self._open.difference_update(login_ids)
            self._save()

    def open_accounts(self) -> list[str]:
        with self._lock:
            return sorted(self._open)

    def _save(self) -> None:
        if not self._open:
            self.path.unlink(missing_ok=True)
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(f"{login_id}\n" for login_id in sorted(self._open)), "utf-8")

    def sweep(self, delete: Callable[[str], bool]) -> list[str]:
        """Delete the accounts of earlier runs on this portal that are no longer alive; returns
        those deleted. ``delete`` answers whether the portal removed the account (or had none)."""
        removed: list[str] = []
        for journal in sorted(self.folder.glob(f"{self.key}-*.txt")):
            pid = journal.stem.rpartition("-")[2]
            if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
                continue
            left = [line.strip() for line in journal.read_text("utf-8").splitlines() if line.strip()]
            kept = [login_id for login_id in left if not delete(login_id)]
            removed += [login_id for login_id in left if login_id not in kept]
            if kept:
                journal.write_text("".join(f"{login_id}\n" for login_id in kept), "utf-8")
            else:
                journal.unlink(missing_ok=True)
        return removed
