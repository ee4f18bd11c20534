"""How a deployed reference portal is put together: the settings and the wiring.

Free of Starlette on purpose: ``ninsho users`` and ``ninsho helpdesk`` build the same portal on
the same database without importing the web stack.

The pepper keys every code and session digest. It must be the same for the server and the
operator commands on one database, and must survive restarts, or every issued code and session
becomes unverifiable. So it comes from ``NINSHO_PEPPER`` (hex), from ``NINSHO_PEPPER_FILE``, or
from a file made once next to the database with mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ninsho.reference.clocks import ShiftedClock, SystemClock, SystemRandom
from ninsho.reference.core.errors import InvalidInput
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.core.portal import Portal
from ninsho.reference.core.ports import Clock, Mailer, OutgoingMail, Store
from ninsho.reference.embedded import PortalMaker
from ninsho.reference.faults import FAULTS
from ninsho.reference.outbox import Outbox
from ninsho.reference.smtp import SmtpMailer
from ninsho.reference.stores.memory import MemoryStore
from ninsho.reference.stores.sealing import Sealer
from ninsho.reference.stores.sqlite import SQLiteStore
from ninsho.spec.profile import Profile

log = logging.getLogger("ninsho")

DEFAULT_HASH_COST = 14  # scrypt n = 2**14: the core's production default
MIN_PEPPER_BYTES = 16


@dataclass(frozen=True)
class ServerConfig:
    profile: Profile
    db_path: Path | None  # None: an in-memory store (demo and in-process tests only)
    pepper: bytes = field(repr=False)
    smtp: tuple[str, int] | None = None  # None: the embedded outbox
    admin_token: str | None = field(default=None, repr=False)  # None: the admin API is refused
    test_clock: bool = False  # [TEST_CLOCK_DISABLED_BY_DEFAULT]
    secure_cookies: bool = False  # set behind https: adds the Secure flag [WEB_COOKIE_FLAGS]
    hash_cost: int = DEFAULT_HASH_COST  # log2 of scrypt's n
    max_body_bytes: int = 16 * 1024
    fault: str | None = None  # a deliberately faulty portal (reference/faults.py), to prove a harness
    public_url: str = "http://127.0.0.1:8000"  # the address users reach, for the reset link (link mode)
    test_clock_file: Path | None = None  # serve --workers: the offset the worker processes share

    def __post_init__(self) -> None:
        if len(self.pepper) < MIN_PEPPER_BYTES:
            raise ValueError(f"the pepper must be at least {MIN_PEPPER_BYTES} bytes")
        if not 1 <= self.hash_cost <= 20:
            raise ValueError("hash_cost must be between 1 and 20 (scrypt n = 2**cost)")

    @property
    def cookie_secret(self) -> str:
        """Signs the session cookie; derived so that it is never the pepper itself."""
        return hmac.new(self.pepper, b"ninsho session cookie", hashlib.sha256).hexdigest()


class DemoOutbox(Outbox):
    """The embedded outbox of a served portal with no relay: the mail also goes to the log,
    since nobody else could read it. For demos only: a code in a log is a code disclosed."""

    def send(self, mail: OutgoingMail) -> None:
        super().send(mail)
        log.info("outbox (no SMTP relay): to %s, subject %r\n%s", mail.to, mail.subject, mail.body)


@dataclass
class Runtime:
    """The core and its ports as one deployed portal runs them."""

    config: ServerConfig
    portal: Portal
    store: Store
    clock: Clock
    outbox: Outbox | None  # set when no SMTP relay is configured
    flaws: frozenset[str] = frozenset()  # a faulty portal's flaws of the pages (reference/faults.py)

    @property
    def test_clock(self) -> ShiftedClock | None:
        return self.clock if isinstance(self.clock, ShiftedClock) else None

    def close(self) -> None:
        if isinstance(self.store, SQLiteStore):
            self.store.close()


def build_runtime(config: ServerConfig, *, serving: bool = True) -> Runtime:
    """The portal on its edges. ``serving=False`` for the operators' commands (users, helpdesk),
    which send no mail: the no-relay warning is for a served portal only."""
    clock: Clock = ShiftedClock(shared=config.test_clock_file) if config.test_clock else SystemClock()
    # With lanes (the test clock), a sweep of expired guards goes by the lane furthest behind.
    sweep = clock.earliest if isinstance(clock, ShiftedClock) else None
    store: Store = (
        SQLiteStore(config.db_path, sealer=Sealer.from_pepper(config.pepper), sweep_clock=sweep)
        if config.db_path is not None
        else MemoryStore(sweep_clock=sweep)
    )
    outbox: Outbox | None = None
    mailer: Mailer
    if config.smtp is not None:
        mailer = SmtpMailer(*config.smtp, clock=clock)
    else:
        if serving:
            log.warning(
                "no SMTP relay (--smtp): mail stays in memory and is written to this log, for demos only"
            )
        mailer = outbox = DemoOutbox()
    make_portal: PortalMaker = Portal
    flaws: frozenset[str] = frozenset()
    if config.fault is not None:
        fault = FAULTS[config.fault]
        flaws = fault.web
        log.warning(
            "FAULTY PORTAL %r: %s. For proving a conformance harness only.", config.fault, fault.description
        )
        make_portal = fault.make_portal
    portal = make_portal(
        config.profile,
        store,
        mailer,
        clock,
        SystemRandom(),
        pepper=config.pepper,
        hasher=PasswordHasher(n=2**config.hash_cost),
    )
    portal.link_base = config.public_url.rstrip("/") + "/reset/link"  # [RESET_LINK_MAIL]
    return Runtime(config, portal, store, clock, outbox, flaws)


def resolve_pepper(db_path: Path | None, env: Mapping[str, str] | None = None) -> bytes:
    """The pepper from the environment, a file, or one made and kept next to the database."""
    env = os.environ if env is None else env
    if env.get("NINSHO_PEPPER"):
        return _decode_pepper(env["NINSHO_PEPPER"], "NINSHO_PEPPER")
    if env.get("NINSHO_PEPPER_FILE"):
        path = Path(env["NINSHO_PEPPER_FILE"])
        return _decode_pepper(path.read_text(encoding="ascii").strip(), str(path))
    if db_path is None:
        return secrets.token_bytes(32)  # in-memory store: nothing outlives the process anyway
    path = pepper_path(db_path)
    if not path.exists():
        # Written aside, then linked into place: link() fails if another process won the race,
        # and nobody ever reads a half-written pepper.
        aside = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(aside, path)
            log.info("made a new pepper in %s: keep it with the database", path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return _decode_pepper(path.read_text(encoding="ascii").strip(), str(path))


def pepper_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".pepper")


def _decode_pepper(text: str, origin: str) -> bytes:
    try:
        pepper = bytes.fromhex(text)
    except ValueError:
        raise InvalidInput(f"{origin}: the pepper must be hex digits", field="pepper") from None
    if len(pepper) < MIN_PEPPER_BYTES:
        raise InvalidInput(f"{origin}: the pepper must be at least {MIN_PEPPER_BYTES} bytes", field="pepper")
    return pepper
