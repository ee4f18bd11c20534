"""TOTP secrets sealed at rest, so that a copy of the database alone does not give them up.

NIST SP 800-63B §5.1.4.2 asks that the secrets a verifier keeps for an OTP device be protected
by access controls and, where they are stored, encrypted with a key kept apart from them. The
database holds every app's TOTP secret (and a scanned secret not yet registered); anyone with a
copy of the file (a backup, a stolen disk, a world-readable WAL) could otherwise mint codes.

Why these choices:

- **The key comes from the pepper.** The pepper is already the secret an operator keeps apart
  from the database (``reference/web/config.py``: its own file, mode 0600, or an environment
  variable), and losing it already voids every code and session digest. A second key file would
  be one more secret to lose, with no gain: whoever has the pepper has the portal. The key is
  derived with HKDF-SHA256 under a label of its own, so it is never the pepper itself.
- **AES-256-GCM, bound to the account.** The login ID is the associated data: a sealed secret
  copied into another account's record does not open there.
- **Old records still open.** A secret stored before sealing (no prefix) is read as it is and
  sealed at the account's next write, so an upgrade needs no migration step.
- **A wrong key is refused at start**, with the file named: a portal that could not open its
  secrets would refuse every app code as if it were wrong.
- **cryptography is imported when a sealer is made**, not with this module: the embedded
  reference (``ninsho check`` with no portal) keeps its accounts in memory and seals nothing,
  and OpenSSL's libraries were 6.5 MiB of that run's peak memory.
"""

from __future__ import annotations

import base64
import os
from typing import Any

PREFIX = "sealed:v1:"
_LABEL = b"ninsho: TOTP secrets at rest"
_NONCE_BYTES = 12
# The fields of an account record (reference/core/state.py: AccountState.to_json) that hold secrets.
_APP_SECRET, _PENDING_SECRET = "secret_hex", "pending_app_secret_hex"


class SealError(RuntimeError):
    """The key does not open a sealed secret: the database was made with another pepper."""


class Sealer:
    """Seals and opens the secret fields of one account record."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    @classmethod
    def from_pepper(cls, pepper: bytes) -> Sealer:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(pepper)
        return cls(key)

    def seal(self, login_id: str, secret_hex: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, bytes.fromhex(secret_hex), login_id.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, login_id: str, stored: str) -> str:
        from cryptography.exceptions import InvalidTag

        if not stored.startswith(PREFIX):
            return stored  # written before sealing: sealed at this account's next write
        blob = base64.urlsafe_b64decode(stored[len(PREFIX) :])
        try:
            secret = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], login_id.encode("utf-8"))
        except InvalidTag:
            raise SealError(
                f"the TOTP secrets of account {login_id!r} do not open with this pepper: "
                "the database was made with another pepper (keep the pepper file with the database)"
            ) from None
        return secret.hex()

    def seal_record(self, login_id: str, record: dict[str, Any]) -> dict[str, Any]:
        return self._each_secret(record, lambda value: self.seal(login_id, value))

    def open_record(self, login_id: str, record: dict[str, Any]) -> dict[str, Any]:
        return self._each_secret(record, lambda value: self.open(login_id, value))

    @staticmethod
    def holds_unsealed(record: dict[str, Any]) -> bool:
        """Whether ``record``, as stored, holds a secret written before sealing: the store then
        writes it back at the account's next transaction, even one that changes nothing else."""
        values = [app[_APP_SECRET] for app in record.get("apps", [])]
        if record.get(_PENDING_SECRET) is not None:
            values.append(record[_PENDING_SECRET])
        return any(not str(value).startswith(PREFIX) for value in values)

    @staticmethod
    def _each_secret(record: dict[str, Any], change: Any) -> dict[str, Any]:
        """A copy of ``record`` with ``change`` applied to every secret field it holds."""
        copy = dict(record)
        copy["apps"] = [{**app, _APP_SECRET: change(app[_APP_SECRET])} for app in record.get("apps", [])]
        if copy.get(_PENDING_SECRET) is not None:
            copy[_PENDING_SECRET] = change(copy[_PENDING_SECRET])
        return copy
