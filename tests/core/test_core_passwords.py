"""passwords.py: scrypt hashing; a malformed stored hash verifies False and never raises."""

from __future__ import annotations

import pytest

from ninsho.reference.clocks import SeededRandom
from ninsho.reference.core.passwords import PasswordHasher
from ninsho.reference.embedded import FAST_HASHER

PASSWORDS = [
    "correct horse battery staple",
    "パスワード",
    "pw",
    "x" * 256,
    "tab\tand\nnewline",
    "\udc80 lone surrogate",
]


@pytest.mark.parametrize("password", PASSWORDS, ids=range(len(PASSWORDS)))
def test_hash_then_verify(password: str) -> None:
    encoded = FAST_HASHER.hash(password, SeededRandom(1))
    assert password not in encoded
    assert encoded.split("$")[:4] == ["scrypt", str(FAST_HASHER.n), str(FAST_HASHER.r), str(FAST_HASHER.p)]
    assert FAST_HASHER.verify(password, encoded)
    assert not FAST_HASHER.verify(password + "x", encoded)
    assert not FAST_HASHER.verify(password[:-1], encoded)


@pytest.mark.PASSWORD_STORED_HASHED
def test_wrong_password_and_salting() -> None:
    random = SeededRandom(2)
    first, second = FAST_HASHER.hash("secret", random), FAST_HASHER.hash("secret", random)
    assert first != second  # a fresh salt each time
    assert FAST_HASHER.verify("secret", first) and FAST_HASHER.verify("secret", second)
    assert not FAST_HASHER.verify("Secret", first)
    assert not FAST_HASHER.verify("", first)


def test_verify_uses_the_cost_stored_in_the_hash() -> None:
    encoded = PasswordHasher(n=2**5, r=4, p=1).hash("secret", SeededRandom(3))
    assert FAST_HASHER.verify("secret", encoded)


def _tamper(index: int, value: str) -> str:
    parts = FAST_HASHER.hash("secret", SeededRandom(4)).split("$")
    parts[index] = value
    return "$".join(parts)


MALFORMED = {
    "empty": "",
    "no-fields": "scrypt",
    "other-scheme": _tamper(0, "bcrypt"),
    "too-many-fields": _tamper(5, "AAAA$AAAA"),
    "n-not-a-number": _tamper(1, "sixteen"),
    "n-not-power-of-two": _tamper(1, "15"),
    "n-negative": _tamper(1, "-16"),
    "n-huge": _tamper(1, str(2**70)),
    "r-zero": _tamper(2, "0"),
    "r-negative": _tamper(2, "-1"),
    "memory-over-limit": _tamper(1, str(2**30)),
    "salt-not-base64": _tamper(4, "%%%"),
    "digest-not-base64": _tamper(5, "not base64!"),
    "digest-truncated": _tamper(5, "AAAA"),
    "digest-empty": _tamper(5, ""),
}


@pytest.mark.parametrize("encoded", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_stored_hash_verifies_false(encoded: str) -> None:
    assert FAST_HASHER.verify("secret", encoded) is False


@pytest.mark.parametrize("encoded", [None, b"scrypt$16$8$1$AA==$AA==", 42], ids=["none", "bytes", "int"])
def test_non_text_stored_hash_verifies_false(encoded: object) -> None:
    assert FAST_HASHER.verify("secret", encoded) is False  # type: ignore[arg-type]


def _work(hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch, encoded: str | None) -> tuple[bool, int]:
    """What ``verify_evenly`` answers, and the scrypt work it did (the sum of n: scrypt's time
    and memory are linear in n)."""
    costs: list[int] = []
    derive = PasswordHasher._derive

    def counted(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        costs.append(n)
        return derive(password, salt, n, r, p)

    monkeypatch.setattr(PasswordHasher, "_derive", staticmethod(counted))
    answer = hasher.verify_evenly("correct horse", encoded)
    monkeypatch.setattr(PasswordHasher, "_derive", staticmethod(derive))
    return answer, sum(costs)


@pytest.mark.parametrize("stored_cost", [2**4, 2**6, 2**8])
def test_an_unknown_id_costs_what_a_known_one_costs(
    monkeypatch: pytest.MonkeyPatch, stored_cost: int
) -> None:
    """A database hashed at a lower cost than the server's (``--hash-cost`` raised) must not
    tell known IDs from unknown ones by time: every answer does the server's cost of work."""
    server = PasswordHasher(n=2**8, r=1, p=1)
    stored = PasswordHasher(n=stored_cost, r=1, p=1).hash("correct horse", SeededRandom(3))
    wrong = PasswordHasher(n=stored_cost, r=1, p=1).hash("another one", SeededRandom(4))
    assert _work(server, monkeypatch, None) == (False, server.n)
    assert _work(server, monkeypatch, stored) == (True, server.n)
    assert _work(server, monkeypatch, wrong) == (False, server.n)
