"""Password storage with scrypt [PASSWORD_STORED_HASHED].

scrypt is in the standard library and memory-hard, which NIST SP 800-63B §5.1.1.2 asks of a
password hash. The cost is a parameter, not a constant: production keeps the default
(n=2**14, r=8, p=1, about 16 MiB and tens of milliseconds), tests lower it to stay fast.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from .otp import RandomSource

MAX_PASSWORD_CHARS = 256
"""Longer passwords are refused by the portal, never silently truncated."""


@dataclass(frozen=True)
class PasswordHasher:
    n: int = 2**14
    r: int = 8
    p: int = 1

    def hash(self, password: str, source: RandomSource) -> str:
        salt = source.randbytes(16)
        digest = self._derive(password, salt, self.n, self.r, self.p)
        return "$".join(["scrypt", str(self.n), str(self.r), str(self.p), _b64(salt), _b64(digest)])

    def verify(self, password: str, encoded: str) -> bool:
        """Constant-time comparison; a malformed stored hash verifies nothing."""
        if not isinstance(encoded, str):
            return False
        try:
            scheme, n, r, p, salt, digest = encoded.split("$")
            if scheme != "scrypt":
                return False
            expected = base64.b64decode(digest)
            actual = self._derive(password, base64.b64decode(salt), int(n), int(r), int(p))
        except (ValueError, TypeError):  # scrypt raises TypeError for a negative or huge cost
            return False
        return hmac.compare_digest(actual, expected)

    def verify_evenly(self, password: str, encoded: str | None) -> bool:
        """:meth:`verify`, at the same cost whether the account exists or not [FIRST_FACTOR_NO_ENUMERATION].

        ``encoded`` is None for an unknown ID: the password is then derived once at this hasher's
        cost and refused. A stored hash made at a lower cost (a database from before the cost
        was raised: measured 104 ms for a known ID against 461 ms for an unknown one) is padded
        with derivations that add up to this hasher's cost, so both answers take one derivation
        at ``n``: scrypt's work is linear in n, and 2**c - 2**s is the sum of 2**k for s <= k < c.
        A stored hash dearer than ``n`` is not padded down: lower the cost only with the
        accounts' passwords rehashed.
        """
        if encoded is None:
            self._derive(password, _DUMMY_SALT, self.n, self.r, self.p)
            return False
        ok = self.verify(password, encoded)
        stored_n = _stored_cost(encoded)
        if stored_n is not None and stored_n < self.n:
            k = stored_n
            while k < self.n:
                self._derive(password, _DUMMY_SALT, k, self.r, self.p)
                k *= 2
        return ok

    @staticmethod
    def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            maxmem=256 * 1024 * 1024,
            dklen=32,
        )


_DUMMY_SALT = bytes(16)  # the padding derivations are thrown away: their salt protects nothing


def _stored_cost(encoded: str) -> int | None:
    """The n of a well-formed stored hash that is a power of two, else None (verify refused it)."""
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or not parts[1].isdigit():
        return None
    n = int(parts[1])
    return n if n > 1 and n & (n - 1) == 0 else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
