"""The address vectors as templates over the profile's blocked domains (ninsho.spec.address_vectors).

What is proved here: the iimc expansion still holds every case of the iimc-only vectors, exactly
(against a frozen copy of that file); every profile's domains are tried in every spelling; the
cases another list leaves out are left out for a stated reason; the reference gives every case
of several other lists its verdict; and the file's mistakes are refused by name.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import idna
import pytest

from ninsho.reference.core import addresses
from ninsho.spec.address_vectors import (
    SPELLINGS,
    AddressCase,
    address_cases,
    domain_names,
    expand,
    main_domain,
    parse_templates,
    spell,
    templates,
)
from ninsho.spec.errors import SpecError
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

DATA = Path(__file__).parent / "data"
FROZEN: list[dict[str, Any]] = tomllib.loads((DATA / "addresses-iimc-frozen.toml").read_text("utf-8"))["case"]
IIMC = load_profile("iimc")
EXACT = IIMC.replace(name="iimc-exact", email_block_subdomains=False)
U_TOKYO = load_profile(DATA / "u-tokyo.toml")
IIMC_DOMAINS = ("st.kyoto-u.ac.jp", "kyoto-u.ac.jp", "ms.c.kyoto-u.ac.jp")


def other(name: str, *domains: str, subdomains: bool = True) -> Profile:
    return IIMC.replace(name=name, email_blocked_domains=domains, email_block_subdomains=subdomains)


# Lists unlike iimc's: one domain under another, an IDN, two unrelated two-label domains (one of
# them a private provider the literal cases use), and exact matching.
OTHER_PROFILES = [
    U_TOKYO,
    other("idn", "xn--r8jz45g.jp"),
    other("flat", "example.org", "gmail.com"),
    other("u-tokyo-exact", "u-tokyo.ac.jp", "ecc.u-tokyo.ac.jp", subdomains=False),
    other("deep", "a.b.c.example.jp", "example.jp"),
]


def _old_requirement(case: dict[str, Any]) -> str:
    """How conformance/probes/addresses.py derived a case's requirement before the vectors said it."""
    if case["verdict"] == "invalid":
        return "EMAIL_ADDRESS_SYNTAX"
    domain = str(case["normalized"]).rpartition("@")[2]
    if case["verdict"] == "blocked":
        return "EMAIL_BLOCKED_DOMAIN" if domain in IIMC_DOMAINS else "EMAIL_BLOCKED_SUBDOMAIN"
    if any(name in domain for name in IIMC_DOMAINS):
        return "EMAIL_LOOKALIKE_ACCEPTED"
    return "EMAIL_ADDRESS_NORMALIZATION"


# --- iimc keeps every case it had ----------------------------------------------------------------


def test_the_frozen_file_is_the_iimc_one() -> None:
    assert IIMC.email_blocked_domains == IIMC_DOMAINS and IIMC.email_block_subdomains
    assert len(FROZEN) == 64


@pytest.mark.parametrize("old", FROZEN, ids=lambda c: c["id"])
def test_iimc_keeps_every_case(old: dict[str, Any]) -> None:
    """Same id, input, verdict, normalised form and requirement as the iimc-only vectors; and
    with the subdomain rule off, the verdict the old file gave for that setting."""
    now = {c.id: c for c in address_cases(IIMC)}[old["id"]]
    assert (now.input, now.verdict, now.normalized) == (old["input"], old["verdict"], old.get("normalized"))
    assert now.requirement == _old_requirement(old)
    exact = {c.id: c for c in address_cases(EXACT)}[old["id"]]
    assert exact.verdict == old.get("verdict_without_subdomain_rule", old["verdict"])


def test_iimc_gains_cases_and_leaves_out_only_what_its_list_decides_otherwise() -> None:
    expansion = expand(IIMC)
    assert len(expansion.cases) == 160 > len(FROZEN)  # 151, then the encoded-word cases
    assert {(o.template, o.domain) for o in expansion.left_out} == {
        ("lookalike-prefix", "st.kyoto-u.ac.jp"),  # notst.kyoto-u.ac.jp lies under kyoto-u.ac.jp
        ("lookalike-prefix", "ms.c.kyoto-u.ac.jp"),
        ("lookalike-{name}-hyphen", "ms.c.kyoto-u.ac.jp"),  # ms-c.kyoto-u.ac.jp, likewise
        ("parent-domain", "st.kyoto-u.ac.jp"),  # kyoto-u.ac.jp itself
        ("parent-domain", "ms.c.kyoto-u.ac.jp"),  # c.kyoto-u.ac.jp
        ("lookalike-cyrillic-o", "st.kyoto-u.ac.jp"),  # no a c e o p x y in "st" or "ms"
        ("lookalike-cyrillic-o", "ms.c.kyoto-u.ac.jp"),
        ("idn-ulabel-blocked", "st.kyoto-u.ac.jp"),  # no A-label to spell as a U-label
        ("idn-ulabel-blocked", "kyoto-u.ac.jp"),
        ("idn-ulabel-blocked", "ms.c.kyoto-u.ac.jp"),
    }


# --- every profile's domains, in every spelling -------------------------------------------------

# A spelling the issue names -> templates that try it on the blocked domain itself.
SPELLING_TEMPLATES = {
    "case": {"uppercase-domain", "uppercase-address"},
    "trailing dot": {"trailing-dot-blocked", "two-trailing-dots"},
    "IDN": {"ideographic-full-stop-blocked", "halfwidth-ideographic-full-stop"},
    "full width": {"fullwidth-domain", "fullwidth-at", "fullwidth-everything"},
    "white space": {"surrounding-tabs-blocked", "ideographic-spaces-around", "no-break-spaces-around"},
    "zero width": {"zwsp-inside", "zwsp-end", "soft-hyphen", "word-joiner-before-domain", "bidi-override"},
    "subdomains": {"subdomain-mail", "subdomain-deep", "subdomain-upper-trailing-dot"},
    "lookalikes": {"lookalike-suffix-example-com", "lookalike-jp-mail-com", "lookalike-longer-tld"},
    "last @": {"several-at-blocked-first", "several-at-blocked-last", "quoted-hides-blocked"},
    "subaddress": {"subaddress-blocked", "subaddress-blocked-upper"},
}


@pytest.mark.parametrize("profile", [IIMC, *OTHER_PROFILES], ids=lambda p: p.name)
def test_every_blocked_domain_is_tried_in_every_spelling(profile: Profile) -> None:
    cases = address_cases(profile)
    for domain in profile.email_blocked_domains:
        tried = {c.template for c in cases if c.domain == domain}
        assert "blocked-{name}" in tried, domain
        for spelling, needed in SPELLING_TEMPLATES.items():
            assert needed <= tried, f"{domain}: {spelling}: not tried {sorted(needed - tried)}"


@pytest.mark.parametrize("profile", OTHER_PROFILES, ids=lambda p: p.name)
def test_the_reference_gives_every_case_of_another_list_its_verdict(profile: Profile) -> None:
    """The embedded reference's rule (reference.core.addresses, which Rules.check_address calls
    with the profile's list and subdomain setting) against every case of the profile."""
    blocked, subdomains = profile.email_blocked_domains, profile.email_block_subdomains
    for case in address_cases(profile):
        got = addresses.verdict(case.input, blocked, subdomains=subdomains).value
        assert got == case.verdict, (case.id, case.input)
        if case.normalized is not None:
            assert str(addresses.normalize(case.input)) == case.normalized, case.id


@pytest.mark.parametrize("profile", [IIMC, *OTHER_PROFILES], ids=lambda p: p.name)
def test_requirements_agree_with_the_list(profile: Profile) -> None:
    """A blocked case speaks for DOMAIN exactly when its domain is listed; an accepted one that
    a naive ``endswith(listed)`` would refuse speaks for LOOKALIKE (so the faulty portal
    ``endswith-domain-check`` FAILs that requirement and no other, under any list)."""
    listed = profile.email_blocked_domains
    for case in address_cases(profile):
        domain = (case.normalized or "").rpartition("@")[2]
        if case.verdict == "blocked":
            exact = domain in listed
            assert case.requirement == ("EMAIL_BLOCKED_DOMAIN" if exact else "EMAIL_BLOCKED_SUBDOMAIN"), (
                case.id
            )
        if case.verdict == "accepted" and profile.email_block_subdomains and domain.endswith(listed):
            assert case.requirement == "EMAIL_LOOKALIKE_ACCEPTED", case.id


def test_another_list_has_its_own_cases_and_ids() -> None:
    by_id = {c.id: c for c in address_cases(U_TOKYO)}
    assert by_id["blocked-u-tokyo"].input == "taro@u-tokyo.ac.jp"
    assert by_id["blocked-ecc"].input == "taro@ecc.u-tokyo.ac.jp"
    assert by_id["uppercase-domain"].input == "taro@U-TOKYO.AC.JP"
    assert by_id["uppercase-domain@ecc"].input == "taro@ECC.U-TOKYO.AC.JP"
    assert by_id["kelvin-sign"].input == "taro@u-to\u212ayo.ac.jp"
    assert (by_id["subdomain-of-ecc"].verdict, by_id["subdomain-of-ecc"].normalized) == (
        "blocked",
        "taro@x.ecc.u-tokyo.ac.jp",
    )
    assert by_id["lookalike-prefix"].normalized == "taro@notu-tokyo.ac.jp"
    assert "lookalike-prefix@ecc" not in by_id  # notecc.u-tokyo.ac.jp lies under u-tokyo.ac.jp
    assert not any("kyoto" in c.input for c in by_id.values())
    assert len(by_id) == 121


def test_a_literal_case_the_list_blocks_is_left_out() -> None:
    expansion = expand(other("flat", "example.org", "gmail.com"))
    assert "private-gmail" not in {c.id for c in expansion.cases}
    (gmail,) = [o for o in expansion.left_out if o.template == "private-gmail"]
    assert "EMAIL_BLOCKED_DOMAIN" in gmail.reason


def test_the_subdomain_rule_is_data() -> None:
    exact = {c.id: c for c in address_cases(other("u-tokyo-exact", "u-tokyo.ac.jp", subdomains=False))}
    assert (exact["subdomain-mail"].verdict, exact["subdomain-mail"].requirement) == (
        "accepted",
        "EMAIL_ADDRESS_NORMALIZATION",
    )
    assert exact["blocked-u-tokyo"].verdict == "blocked"


# --- names, spellings, IDNA -----------------------------------------------------------------------


def test_short_names_and_the_main_domain() -> None:
    assert domain_names(IIMC_DOMAINS) == {
        "st.kyoto-u.ac.jp": "st",
        "kyoto-u.ac.jp": "kyoto-u",
        "ms.c.kyoto-u.ac.jp": "ms-c",
    }
    assert main_domain(IIMC_DOMAINS) == "kyoto-u.ac.jp"
    assert main_domain(("ecc.u-tokyo.ac.jp", "u-tokyo.ac.jp")) == "u-tokyo.ac.jp"
    assert domain_names(("mail.example.jp", "mail.example.org")) == {
        "mail.example.jp": "mail.example.jp",  # both would be "mail"
        "mail.example.org": "mail.example.org",
    }


def test_spellings() -> None:
    d = "kyoto-u.ac.jp"
    assert spell(d, ["upper"]) == "KYOTO-U.AC.JP"
    assert spell(d, ["title"]) == "Kyoto-U.ac.jp"
    assert spell(d, ["wide_label"]) == "ｋｙｏｔｏ－ｕ.ac.jp"
    assert spell(d, ["wide"]) == "ｋｙｏｔｏ－ｕ．ａｃ．ｊｐ"
    assert spell(d, ["zwsp"]) == "kyoto\u200b-u.ac.jp"
    assert spell(d, ["soft_hyphen"]) == "kyo\u00adto-u.ac.jp"
    assert spell(d, ["reversed"]) == "pj.ca.u-otoyk"
    assert spell(d, ["cyrillic"]) == "kyot\u043e-u.ac.jp"
    assert spell("example.org", ["kelvin"]) is None
    assert spell("example.org", ["dot_hyphen"]) is None and spell("example.org", ["parent"]) is None
    assert spell("xn--r8jz45g.jp", ["ulabel"]) == "例え.jp"
    assert spell("xn--r8jz45g.jp", ["cyrillic"]) is None  # an A-label is no lookalike's base
    assert spell(d, ["ulabel"]) is None
    assert set(SPELLINGS) >= {"upper", "alabel", "ulabel", "chop"}


@pytest.mark.parametrize("domain", ["kyoto-u.ac.jp", "u-tokyo.ac.jp", "ecc.u-tokyo.ac.jp", "example.org"])
def test_the_punycode_a_label_is_the_idna_2008_one(domain: str) -> None:
    """``alabel`` uses only the Punycode codec; on the labels the spellings make it agrees with
    the ``idna`` package (IDNA 2008, UTS #46), which the reference and §13 use."""
    lookalike = spell(domain, ["cyrillic"])
    assert lookalike is not None
    assert spell(domain, ["cyrillic", "alabel"]) == idna.encode(lookalike, uts46=True).decode("ascii")


def test_the_standard_librarys_idna_codec_is_not_the_vectors_idna() -> None:
    """Why address_vectors never uses ``encodings.idna``: it is IDNA 2003, and two cases of the
    vectors (kept from the iimc file) say IDNA 2008."""
    by_id = {c.id: c for c in address_cases(IIMC)}
    assert "straße.de".encode("idna") == b"strasse.de"  # IDNA 2003 nameprep maps ß
    assert by_id["idn-eszett-nontransitional"].normalized == "taro@xn--strae-oqa.de"
    assert "☃.com".encode("idna") == b"xn--n3h.com"  # IDNA 2003 allows the symbol
    assert by_id["idn-disallowed-symbol"].verdict == "invalid"


# --- the file's mistakes -----------------------------------------------------------------------


def _one(**fields: Any) -> dict[str, Any]:
    case = {"id": "c", "input": "taro@{blocked}", "verdict": "blocked", "normalized": "taro@{blocked}"}
    case |= {"requirement": "EMAIL_BLOCKED_DOMAIN", "note": "n"}
    case.update(fields)
    return {"case": [{k: v for k, v in case.items() if v is not None}]}


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (_one(input="taro@{blocked|nope}"), "no spelling 'nope'"),
        (_one(input="taro@{blockedx}"), "without '}' or '|'"),
        (_one(verdict_without_subdomain_rule="accepted"), "unknown field"),
        (_one(requirement="EMAIL_ADDRESS_SYNTAX"), "speaks for"),
        (_one(verdict="invalid", requirement="EMAIL_ADDRESS_SYNTAX"), "'normalized'"),
        (_one(normalized="taro@example.org"), "both or neither"),
        (_one(id="x-{name}", input="taro@example.org", normalized="taro@example.org"), "{name}"),
        (
            _one(when=[{"parameter": "email.block_subdomains", "equals": False, "verdict": "invalid"}]),
            "needs exactly",
        ),
        (
            _one(
                when=[
                    {
                        "parameter": "email.block_subdomains",
                        "equals": False,
                        "verdict": "invalid",
                        "requirement": "EMAIL_ADDRESS_SYNTAX",
                    }
                ]
            ),
            "valid or invalid",
        ),
        ({"case": [_one()["case"][0], _one()["case"][0]]}, "used twice"),
    ],
)
def test_mistakes_in_the_file_are_refused(document: dict[str, Any], says: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_templates(document)
    assert says in str(info.value)


def test_an_unknown_parameter_and_an_unnormalised_domain_are_refused() -> None:
    when = {
        "parameter": "email.nope",
        "equals": 1,
        "verdict": "accepted",
        "requirement": "EMAIL_ADDRESS_NORMALIZATION",
    }
    source = parse_templates(_one(when=[when]))
    with pytest.raises(SpecError, match=r"no profile parameter 'email\.nope'"):
        expand(IIMC, source)
    with pytest.raises(SpecError, match="not a normalised domain"):
        expand(other("u-label", "例え.jp"))


def test_the_bundled_file_parses_and_every_case_is_made_somewhere() -> None:
    made = {c.template for p in [IIMC, *OTHER_PROFILES] for c in address_cases(p)}
    assert made == {t.id for t in templates()}


def test_cases_are_plain_values() -> None:
    case = address_cases(IIMC)[0]
    assert isinstance(case, AddressCase) and hash(case) == hash(address_cases(IIMC)[0])
