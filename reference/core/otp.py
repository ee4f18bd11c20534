"""One-time password arithmetic: HOTP (RFC 4226), TOTP (RFC 6238), mailed codes and digests.

Pure functions of their arguments. Randomness comes in as a :class:`RandomSource` and the time
as a number, so the same inputs always give the same outputs, which is what the RFC vectors in
``spec/vectors/rfc6238.toml`` check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlencode

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


class RandomSource(Protocol):
    """A CSPRNG, injected: ``secrets.token_bytes`` in production, a seeded one in tests."""

    def randbytes(self, n: int) -> bytes: ...


def hotp(secret: bytes, counter: int, *, digits: int = 6, algorithm: str = "SHA1") -> str:
    """RFC 4226 §5.3: HMAC, dynamic truncation, modulo 10^digits, zero-padded."""
    mac = hmac.new(secret, counter.to_bytes(8, "big"), _DIGESTS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    binary = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def time_step(unix_time: float, period: int) -> int:
    """RFC 6238 §4.2: T = floor((now - T0) / X) with T0 = 0."""
    return int(unix_time // period)


def totp(secret: bytes, unix_time: float, *, digits: int, period: int, algorithm: str) -> str:
    return hotp(secret, time_step(unix_time, period), digits=digits, algorithm=algorithm)


def matching_step(
    secret: bytes,
    code: str,
    current_step: int,
    *,
    past: int,
    future: int,
    digits: int,
    algorithm: str,
) -> int | None:
    """The highest step in ``[current - past, current + future]`` whose code is ``code``, or None.

    The highest, so that a replay check on "step > last accepted" refuses every step that
    shared the code (spec/protocol.md §4.2). Every candidate is compared in constant time and
    the loop never stops early, so the time taken does not reveal which offset matched.
    """
    found: int | None = None
    for step in range(current_step - past, current_step + future + 1):
        if step >= 0 and hmac.compare_digest(hotp(secret, step, digits=digits, algorithm=algorithm), code):
            found = step
    return found


def random_below(source: RandomSource, bound: int) -> int:
    """A uniform integer in ``[0, bound)`` by rejection sampling (no modulo bias)."""
    nbytes = (bound.bit_length() + 7) // 8 + 1
    limit = (256**nbytes // bound) * bound
    while True:
        value = int.from_bytes(source.randbytes(nbytes), "big")
        if value < limit:
            return value % bound


def random_code(source: RandomSource, digits: int) -> str:
    """A mailed code: ``digits`` decimal digits, uniform, leading zeros kept [CODE_CSPRNG]."""
    return str(random_below(source, 10**digits)).zfill(digits)


def code_digest(pepper: bytes, login_id: str, purpose: str, code: str) -> str:
    """What the store keeps instead of the code [CODE_STORED_HASHED].

    A keyed hash (HMAC-SHA-256 with the server's pepper) rather than a salted slow hash: codes
    live minutes and are rate-limited by the lockout, and a deterministic digest lets the store
    compare and consume in a single atomic step.
    """
    message = f"{purpose}\x00{login_id}\x00{code}".encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def base32_secret(secret: bytes) -> str:
    """The manual key shown under "QRコードを読み込めない場合" [APP_MANUAL_KEY]."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class ProvisioningUri:
    """The otpauth:// URI of Google's Key Uri Format, shown as a QR code [APP_PROVISIONING_URI]."""

    secret: bytes
    issuer: str
    account: str
    digits: int
    period: int
    algorithm: str

    def __str__(self) -> str:
        label = quote(f"{self.issuer}:{self.account}", safe=":@")
        query = urlencode(
            {
                "secret": base32_secret(self.secret),
                "issuer": self.issuer,
                "algorithm": self.algorithm,
                "digits": self.digits,
                "period": self.period,
            },
            quote_via=quote,
        )
        return f"otpauth://totp/{label}?{query}"
