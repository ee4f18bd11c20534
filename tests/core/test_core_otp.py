"""otp.py beyond the RFC vectors: mailed-code randomness, the TOTP window arithmetic, the
provisioning URI and the manual key."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter

import pyotp
import pytest

from ninsho.reference.clocks import SeededRandom
from ninsho.reference.core import otp
from ninsho.spec.profile import ALGORITHMS, Profile

from .conftest import base32_decode


class ScriptedSource:
    """A random source that yields the given integers, each as the bytes it is asked for."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.requests: list[int] = []

    def randbytes(self, n: int) -> bytes:
        self.requests.append(n)
        return self.values.pop(0).to_bytes(n, "big")


def _rejection_limit(n: int, bound: int) -> int:
    """The largest multiple of ``bound`` that fits in ``n`` bytes: draws at or above it are biased."""
    return 256**n - (256**n % bound)


@pytest.mark.parametrize("digits", [6, 8, 10])
@pytest.mark.CODE_CSPRNG
def test_random_code_keeps_leading_zeros(digits: int) -> None:
    source = ScriptedSource(7)
    assert otp.random_code(source, digits) == "7".zfill(digits)
    assert len(otp.random_code(ScriptedSource(0), digits)) == digits


@pytest.mark.parametrize("digits", [6, 8, 10])
def test_random_code_rejection_sampling_boundary(digits: int) -> None:
    bound = 10**digits
    probe = ScriptedSource(0)
    otp.random_code(probe, digits)
    (n,) = probe.requests
    assert 256**n >= 256 * bound  # at least a byte of headroom keeps rejections rare
    limit = _rejection_limit(n, bound)
    # a draw at the limit (and the largest possible draw) is rejected, the next one kept
    source = ScriptedSource(limit, 256**n - 1, limit - 1)
    assert otp.random_code(source, digits) == str((limit - 1) % bound).zfill(digits)
    assert source.requests == [n, n, n]
    # the last accepted value maps to the largest code, without bias
    assert otp.random_code(ScriptedSource(limit - 1), digits) == "9" * digits


@pytest.mark.CODE_CSPRNG
def test_random_code_is_uniform_ish() -> None:
    source = SeededRandom(2024)
    draws = 20_000
    codes = [otp.random_code(source, 6) for _ in range(draws)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert any(c.startswith("0") for c in codes)
    for position in range(6):
        counts = Counter(c[position] for c in codes)
        assert set(counts) == set("0123456789")
        # chi-square with 9 degrees of freedom: 27.9 is the p = 0.001 critical value
        expected = draws / 10
        chi2 = sum((counts[d] - expected) ** 2 / expected for d in "0123456789")
        assert chi2 < 27.9, (position, counts)
    assert len(set(codes)) > draws * 0.97  # few repeats among a million possible codes


SECRET = bytes(range(1, 21))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("past", "future"), [(1, 1), (0, 0), (2, 0), (1, 3)])
def test_matching_step_window_edges(algorithm: str, past: int, future: int) -> None:
    current = 1000

    def match(step: int) -> int | None:
        code = otp.hotp(SECRET, step, digits=6, algorithm=algorithm)
        return otp.matching_step(
            SECRET, code, current, past=past, future=future, digits=6, algorithm=algorithm
        )

    for offset in range(-past, future + 1):
        assert match(current + offset) == current + offset
    assert match(current - past - 1) is None
    assert match(current + future + 1) is None


def test_matching_step_never_tries_negative_steps() -> None:
    code0 = otp.hotp(SECRET, 0)
    with pytest.raises(OverflowError):
        otp.hotp(SECRET, -1)  # what the window would hit if it did not skip negative steps
    assert otp.matching_step(SECRET, code0, 0, past=3, future=0, digits=6, algorithm="SHA1") == 0
    code1 = otp.hotp(SECRET, 1)
    assert otp.matching_step(SECRET, code1, 1, past=5, future=0, digits=6, algorithm="SHA1") == 1
    wrong = str((int(code0) + 1) % 10**6).zfill(6)
    assert otp.matching_step(SECRET, wrong, 0, past=2, future=0, digits=6, algorithm="SHA1") is None


def test_matching_step_wrong_length_code_never_matches() -> None:
    code = otp.hotp(SECRET, 50, digits=8)
    assert otp.matching_step(SECRET, code[2:], 50, past=1, future=1, digits=8, algorithm="SHA1") is None


def test_time_step_edges() -> None:
    assert otp.time_step(0, 30) == 0
    assert otp.time_step(29.999, 30) == 0
    assert otp.time_step(30, 30) == 1
    assert otp.time_step(59, 30) == 1


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("account", ["taro", "taro.yamada_2-x"])
def test_provisioning_uri_round_trips_through_pyotp(iimc: Profile, algorithm: str, account: str) -> None:
    p = iimc.replace(totp_algorithm=algorithm)
    secret = SeededRandom(7).randbytes(p.totp_secret_bytes)
    uri = str(
        otp.ProvisioningUri(secret, p.totp_issuer, account, p.totp_digits, p.totp_period_seconds, algorithm)
    )
    assert uri.startswith("otpauth://totp/")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.digits == p.totp_digits
    assert parsed.interval == p.totp_period_seconds
    assert parsed.digest is getattr(hashlib, algorithm.lower())
    assert parsed.issuer == p.totp_issuer
    assert parsed.name == account
    assert parsed.byte_secret() == secret
    for t in (0, 1_700_000_000, 2_000_000_029):
        expected = otp.totp(
            secret, t, digits=p.totp_digits, period=p.totp_period_seconds, algorithm=algorithm
        )
        assert parsed.at(t) == expected


def test_provisioning_uri_with_other_digits_and_period(iimc: Profile) -> None:
    secret = SeededRandom(8).randbytes(32)
    uri = str(otp.ProvisioningUri(secret, "Ninsho QA & Co", "hanako", 8, 60, "SHA256"))
    parsed = pyotp.parse_uri(uri)
    assert (parsed.digits, parsed.interval, parsed.issuer) == (8, 60, "Ninsho QA & Co")
    assert parsed.byte_secret() == secret


@pytest.mark.parametrize("length", [16, 17, 19, 20, 21, 32, 40, 64])
def test_base32_manual_key_decodes_to_the_secret(length: int) -> None:
    secret = SeededRandom(length).randbytes(length)
    key = otp.base32_secret(secret)
    assert "=" not in key
    assert key == key.upper() and key.isalnum()
    assert base32_decode(key) == secret
    assert base64.b32decode(pyotp.TOTP(key).secret + "=" * (-len(key) % 8)) == secret


def test_code_digest_binds_pepper_login_purpose_and_code() -> None:
    pepper = b"p" * 32
    base = otp.code_digest(pepper, "taro", "login", "12345678")
    assert base == otp.code_digest(pepper, "taro", "login", "12345678")
    assert "12345678" not in base
    others = {
        otp.code_digest(b"q" * 32, "taro", "login", "12345678"),
        otp.code_digest(pepper, "hanako", "login", "12345678"),
        otp.code_digest(pepper, "taro", "reset", "12345678"),
        otp.code_digest(pepper, "taro", "login", "12345679"),
        # the separators keep ("ab", "c") and ("a", "bc") apart
        otp.code_digest(pepper, "taro", "login\x00taro", "12345678"),
    }
    assert base not in others and len(others) == 5


def test_matching_step_returns_the_highest_matching_step() -> None:
    """spec/protocol.md §4.2: if several steps of the window match, L becomes the highest.

    With one digit, codes of neighbouring steps collide often enough to find such a window."""
    collisions = [
        s for s in range(1, 500) if otp.hotp(SECRET, s - 1, digits=1) == otp.hotp(SECRET, s + 1, digits=1)
    ]
    assert collisions
    for s in collisions:
        code = otp.hotp(SECRET, s - 1, digits=1)
        found = otp.matching_step(SECRET, code, s, past=1, future=1, digits=1, algorithm="SHA1")
        assert found == s + 1
