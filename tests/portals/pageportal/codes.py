"""Codes: reading them from a form (§12.1), drawing them (§12.2), hashing them, and TOTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from urllib.parse import quote

import pyotp

from .address import WHITE_SPACE

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def read_code(text: str, digits: int) -> str | None:
    """NFKC, drop all white space, then exactly ``digits`` ASCII digits; None otherwise."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(ch for ch in folded if ch not in WHITE_SPACE and not ch.isspace())
    if len(folded) != digits or not all("0" <= ch <= "9" for ch in folded):
        return None
    return folded


def new_code(digits: int) -> str:
    """A uniform code over all 10**digits values, leading zeros kept."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(salt: bytes, account_id: int, purpose: str, code: str) -> str:
    """A salted hash binding the code to its account and purpose."""
    return hashlib.sha256(salt + f"{account_id}:{purpose}:{code}".encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def token_hash(token: str) -> str:
    """Session and trust tokens are high-entropy, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret(nbytes: int) -> str:
    """A fresh TOTP secret in RFC 4648 base32 without padding."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=")


def totp_at_step(secret: str, step: int, digits: int, algorithm: str) -> str:
    """HOTP(K, T) for a given step: the RFC 6238 value of that time step."""
    return pyotp.TOTP(secret, digits=digits, digest=_DIGESTS[algorithm]).generate_otp(step)


def matching_step(
    secret: str, code: str, step: int, past: int, future: int, digits: int, algorithm: str, after: int
) -> int | None:
    """The highest step in the window that is newer than ``after`` and gives ``code``."""
    best: int | None = None
    for s in range(step - past, step + future + 1):
        if s > after and hmac.compare_digest(totp_at_step(secret, s, digits, algorithm), code):
            best = s
    return best


def provisioning_uri(
    issuer: str, login_id: str, secret: str, algorithm: str, digits: int, period: int
) -> str:
    """The Key Uri Format URI of §8.2, both names percent-encoded (space is %20)."""
    iss = quote(issuer, safe="")
    return (
        f"otpauth://totp/{iss}:{quote(login_id, safe='')}?secret={secret}&issuer={iss}"
        f"&algorithm={algorithm}&digits={digits}&period={period}"
    )


def grouped(secret: str) -> str:
    """The manual key in blocks of four characters."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


SCRYPT_LOG2_N = 14


def hash_password(password: str, log2_n: int = SCRYPT_LOG2_N) -> str:
    """scrypt with a 128-bit salt unique per password; the cost is stored with the hash, so a
    cheap one made for tests is verified as cheaply."""
    salt = secrets.token_bytes(16)
    n = 2**log2_n
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=8, p=1)
    return f"scrypt${n}$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Check a password in full against its stored scrypt hash."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)
