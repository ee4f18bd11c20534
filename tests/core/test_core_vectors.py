"""The data-driven vectors of spec/vectors/: RFC 6238 Appendix B, RFC 4226 Appendix D and the
address cases, against the core and (for the RFC values) against pyotp as a second opinion."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pyotp
import pytest

from ninsho.reference.core import addresses, otp
from ninsho.reference.core.errors import BlockedAddress, InvalidAddress
from ninsho.spec.profile import Profile

from .conftest import ADDRESS_CASES, RFC6238

META = RFC6238["meta"]
SEEDS = {name: bytes.fromhex(value) for name, value in RFC6238["seeds"].items()}
TOTP_VECTORS = RFC6238["vector"]
HOTP_VECTORS = RFC6238["hotp"]


def _totp_id(v: dict[str, Any]) -> str:
    return f"{v['algorithm']}-{v['unix_time']}"


def test_the_vectors_cover_every_algorithm_and_the_rfc_times() -> None:
    assert {v["algorithm"] for v in TOTP_VECTORS} == set(otp._DIGESTS) == set(SEEDS)
    times = {v["unix_time"] for v in TOTP_VECTORS}
    assert times == {59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000}  # RFC 6238 Table 1
    assert len(TOTP_VECTORS) == len(times) * len(SEEDS)
    assert [h["counter"] for h in HOTP_VECTORS] == list(range(10))  # RFC 4226 Appendix D


@pytest.mark.parametrize("vector", TOTP_VECTORS, ids=_totp_id)
def test_rfc6238_appendix_b(vector: dict[str, Any]) -> None:
    seed, algorithm = SEEDS[vector["algorithm"]], vector["algorithm"]
    step = otp.time_step(vector["unix_time"] - META["t0"], META["period_seconds"])
    assert step == int(vector["step_hex"], 16)
    code = otp.totp(
        seed, vector["unix_time"], digits=META["digits"], period=META["period_seconds"], algorithm=algorithm
    )
    assert code == vector["totp"]
    assert otp.hotp(seed, step, digits=META["digits"], algorithm=algorithm) == vector["totp"]


@pytest.mark.parametrize("vector", TOTP_VECTORS, ids=_totp_id)
def test_rfc6238_vectors_agree_with_pyotp(vector: dict[str, Any]) -> None:
    key = base64.b32encode(SEEDS[vector["algorithm"]]).decode()
    reference = pyotp.TOTP(
        key,
        digits=META["digits"],
        interval=META["period_seconds"],
        digest=getattr(hashlib, vector["algorithm"].lower()),
    )
    assert reference.at(vector["unix_time"]) == vector["totp"]


@pytest.mark.parametrize("vector", TOTP_VECTORS, ids=_totp_id)
def test_matching_step_finds_each_vector_at_its_own_step(vector: dict[str, Any]) -> None:
    step = int(vector["step_hex"], 16)
    found = otp.matching_step(
        SEEDS[vector["algorithm"]],
        vector["totp"],
        step,
        past=1,
        future=1,
        digits=META["digits"],
        algorithm=vector["algorithm"],
    )
    assert found == step


@pytest.mark.parametrize("vector", HOTP_VECTORS, ids=lambda v: f"counter-{v['counter']}")
def test_rfc4226_appendix_d(vector: dict[str, Any]) -> None:
    secret = SEEDS["SHA1"]
    digits = len(vector["hotp"])
    assert otp.hotp(secret, vector["counter"], digits=digits) == vector["hotp"]
    assert (
        pyotp.HOTP(base64.b32encode(secret).decode(), digits=digits).at(vector["counter"]) == vector["hotp"]
    )
    # the intermediate values of Appendix D, Tables 1 and 2
    mac = hmac.new(secret, vector["counter"].to_bytes(8, "big"), hashlib.sha1).hexdigest()
    assert mac == vector["hmac_sha1"]
    assert int(vector["truncated_hex"], 16) & 0x7FFFFFFF == vector["truncated"]
    assert str(vector["truncated"] % 10**digits).zfill(digits) == vector["hotp"]


# --- addresses -------------------------------------------------------------------------------


def test_address_case_ids_are_unique() -> None:
    ids = [case["id"] for case in ADDRESS_CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", ADDRESS_CASES, ids=lambda c: c["id"])
def test_address_case(case: dict[str, Any], iimc: Profile) -> None:
    blocked = iimc.email_blocked_domains
    assert iimc.email_block_subdomains is True  # the vectors are worked out for this setting
    verdict = addresses.verdict(case["input"], blocked, subdomains=True)
    assert verdict.value == case["verdict"], case["note"]
    if case["verdict"] == "invalid":
        assert "normalized" not in case
        with pytest.raises(InvalidAddress) as info:
            addresses.check(case["input"], blocked, subdomains=True)
        assert info.value.field == "address"
        assert info.value.requirement == "EMAIL_ADDRESS_SYNTAX"
    else:
        assert str(addresses.normalize(case["input"])) == case["normalized"]
    if case["verdict"] == "blocked":
        with pytest.raises(BlockedAddress) as blocked_info:
            addresses.check(case["input"], blocked, subdomains=True)
        domain = case["normalized"].rpartition("@")[2]
        expected = "EMAIL_BLOCKED_DOMAIN" if domain in blocked else "EMAIL_BLOCKED_SUBDOMAIN"
        assert blocked_info.value.requirement == expected
        assert blocked_info.value.field == "address"
    if case["verdict"] == "accepted":
        assert str(addresses.check(case["input"], blocked, subdomains=True)) == case["normalized"]


@pytest.mark.parametrize("case", ADDRESS_CASES, ids=lambda c: c["id"])
def test_address_case_without_subdomain_rule(case: dict[str, Any], iimc: Profile) -> None:
    """Cases without ``verdict_without_subdomain_rule`` keep their verdict when the rule is off."""
    profile = iimc.replace(email_block_subdomains=False)
    expected = case.get("verdict_without_subdomain_rule", case["verdict"])
    verdict = addresses.verdict(case["input"], profile.email_blocked_domains, subdomains=False)
    assert verdict.value == expected, case["note"]
