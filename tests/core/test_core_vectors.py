"""The data-driven vectors of spec/vectors/: RFC 6238 Appendix B, RFC 4226 Appendix D and the
address cases (templates over each profile's blocked domains), against the core and (for the
RFC values) against pyotp as a second opinion."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pyotp
import pytest

from ninsho.reference.core import addresses, otp
from ninsho.reference.core.errors import BlockedAddress, InvalidAddress
from ninsho.spec.address_vectors import AddressCase, address_cases
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

from .conftest import RFC6238

DATA = Path(__file__).parent / "data"

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
# The vectors are templates over the profile's blocked domains: each profile below gets its own
# cases, and the reference must give every one its verdict and normalised form.

IIMC = load_profile("iimc")
VECTOR_PROFILES: dict[str, Profile] = {
    "iimc": IIMC,
    "iimc-exact": IIMC.replace(name="iimc-exact", email_block_subdomains=False),
    "u-tokyo": load_profile(DATA / "u-tokyo.toml"),
}
ADDRESS_CASES = [(name, case) for name, p in VECTOR_PROFILES.items() for case in address_cases(p)]


def test_address_case_ids_are_unique() -> None:
    for profile in VECTOR_PROFILES.values():
        ids = [case.id for case in address_cases(profile)]
        assert len(ids) == len(set(ids)), profile.name


@pytest.mark.parametrize(("name", "case"), ADDRESS_CASES, ids=[f"{n}-{c.id}" for n, c in ADDRESS_CASES])
def test_address_case(name: str, case: AddressCase) -> None:
    profile = VECTOR_PROFILES[name]
    blocked, subdomains = profile.email_blocked_domains, profile.email_block_subdomains
    verdict = addresses.verdict(case.input, blocked, subdomains=subdomains)
    assert verdict.value == case.verdict, case.note
    if case.verdict == "invalid":
        assert case.normalized is None
        with pytest.raises(InvalidAddress) as info:
            addresses.check(case.input, blocked, subdomains=subdomains)
        assert info.value.field == "address"
        assert info.value.requirement == case.requirement == "EMAIL_ADDRESS_SYNTAX"
    else:
        assert str(addresses.normalize(case.input)) == case.normalized
    if case.verdict == "blocked":
        assert case.normalized is not None
        with pytest.raises(BlockedAddress) as blocked_info:
            addresses.check(case.input, blocked, subdomains=subdomains)
        domain = case.normalized.rpartition("@")[2]
        expected = "EMAIL_BLOCKED_DOMAIN" if domain in blocked else "EMAIL_BLOCKED_SUBDOMAIN"
        assert blocked_info.value.requirement == expected == case.requirement
        assert blocked_info.value.field == "address"
    if case.verdict == "accepted":
        assert str(addresses.check(case.input, blocked, subdomains=subdomains)) == case.normalized


def test_address_cases_without_subdomain_rule_change_only_where_the_vectors_say() -> None:
    """A case keeps its verdict when ``email.block_subdomains`` is false unless its template
    says otherwise (``[[case.when]]``): only subdomains of a listed domain become accepted."""
    with_rule = {c.id: c for c in address_cases(IIMC)}
    without = {c.id: c for c in address_cases(VECTOR_PROFILES["iimc-exact"])}
    changed = {i for i in with_rule.keys() & without.keys() if with_rule[i].verdict != without[i].verdict}
    assert changed, "no case speaks for the subdomain rule"
    for cid in changed:
        assert (with_rule[cid].verdict, without[cid].verdict) == ("blocked", "accepted"), cid
        assert with_rule[cid].requirement == "EMAIL_BLOCKED_SUBDOMAIN"
        assert without[cid].requirement == "EMAIL_ADDRESS_NORMALIZATION"
