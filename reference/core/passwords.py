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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
