"""profile.parse_profile and ninsho.spec.registry.load_profile: every bundled profile parses, and
every malformed one is refused with a SpecError naming the key at fault."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ninsho.spec.errors import SpecError
from ninsho.spec.profile import Profile, parse_profile
from ninsho.spec.registry import MAX_PROFILE_BYTES, load_profile, read_toml

from .conftest import PROFILE_NAMES

Document = dict[str, Any]


@pytest.fixture
def document() -> Document:
    return copy.deepcopy(read_toml("profiles/iimc.toml"))


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_bundled_profile_parses(name: str) -> None:
    raw = read_toml(f"profiles/{name}.toml")
    base_name = raw["profile"].get("extends")
    base = read_toml(f"profiles/{base_name}.toml") if base_name else {}
    profile = load_profile(name)
    assert isinstance(profile, Profile)
    assert profile.name == raw["profile"]["name"]
    for key, value in profile.parameters.items():
        section, item = key.split(".")
        # a parameter of the profile itself, else (``extends``) its base's
        entry = raw.get(section, {}).get(item) or base[section][item]
        expected = entry["value"]
        assert value == (tuple(expected) if isinstance(expected, list) else expected), key
        provenance = profile.provenance[key]
        assert provenance.assumed or provenance.source, key
        assert not provenance.assumed or provenance.standard, key


def _set(key: str, **entry: Any) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        section, name = key.split(".")
        doc[section][name].update(entry)

    return mutate


def _drop(key: str, *fields: str) -> Callable[[Document], None]:
    def mutate(doc: Document) -> None:
        section, name = key.split(".")
        if fields:
            for f in fields:
                doc[section][name].pop(f, None)
        else:
            del doc[section][name]

    return mutate


def _assume_without_standard(doc: Document) -> None:
    doc["totp"]["period_seconds"] = {"value": 30, "assumed": True}


def _no_source_not_assumed(doc: Document) -> None:
    doc["email_otp"]["digits"] = {"value": 8}


def _unknown_key(doc: Document) -> None:
    doc["totp"]["colour"] = {"value": "blue", "source": "nowhere"}


def _unknown_section(doc: Document) -> None:
    doc["extra"] = 1


def _no_name(doc: Document) -> None:
    del doc["profile"]["name"]


def _bad(case_id: str, key: str, words: str, **entry: Any) -> Any:
    """A case that changes one entry of ``key``; ``words`` must appear in the message."""
    return pytest.param(_set(key, **entry), key, words, id=case_id)


MALFORMED: list[Any] = [
    pytest.param(_drop("totp.digits"), "totp.digits", "missing", id="missing-key"),
    pytest.param(_drop("lockout.threshold", "value"), "lockout.threshold", "no 'value'", id="missing-value"),
    _bad("str-for-int", "totp.digits", "must be of type int", value="6"),
    _bad("bool-for-int", "totp.digits", "must be of type int", value=True),
    _bad("int-for-bool", "email.block_subdomains", "must be of type bool", value=1),
    _bad("str-for-list", "email.blocked_domains", "must be of type list", value="kyoto-u.ac.jp"),
    _bad("upper-case-domain", "email.blocked_domains", "lower-case", value=["Kyoto-U.ac.jp"]),
    _bad("no-domains", "email.blocked_domains", "non-empty", value=[]),
    _bad("u-label-domain", "email.blocked_domains", "xn-- A-label", value=["京都大学.jp"]),
    _bad("full-width-domain", "email.blocked_domains", "in ASCII", value=["ｋｙｏｔｏ-u.ac.jp"]),
    _bad("trailing-dot", "email.blocked_domains", "trailing dot", value=["kyoto-u.ac.jp."]),
    _bad("space-in-domain", "email.blocked_domains", "in ASCII", value=["kyoto u.ac.jp"]),
    _bad("empty-label", "email.blocked_domains", "in ASCII", value=["kyoto-u..jp"]),
    _bad("hyphen-edge", "email.blocked_domains", "in ASCII", value=["-kyoto.ac.jp"]),
    _bad("single-label", "email.blocked_domains", "in ASCII", value=["localhost"]),
    _bad("label-over-63", "email.blocked_domains", "in ASCII", value=["a" * 64 + ".jp"]),
    _bad("lockout-over-100", "lockout.threshold", "between 1 and 100", value=101),
    _bad("lockout-zero", "lockout.threshold", "between 1 and 100", value=0),
    _bad("secret-under-16-bytes", "totp.secret_bytes", "at least 16 bytes", value=15),
    _bad("digits-5", "totp.digits", "between 6 and 10", value=5),
    _bad("digits-11", "email_otp.digits", "between 6 and 10", value=11),
    _bad("period-zero", "totp.period_seconds", "greater than 0", value=0),
    _bad("window-negative", "totp.window_past_steps", "0 or more", value=-1),
    _bad("bad-algorithm", "totp.algorithm", "one of SHA1, SHA256, SHA512", value="MD5"),
    _bad("lower-case-algorithm", "totp.algorithm", "one of", value="sha1"),
    _bad("bad-reset-mode", "reset.mode", "one of code, link", value="sms"),
    _bad("crlf-in-text", "mail.sender", "one non-empty line", value="a@b.c\r\nBcc: x@y.z"),
    _bad("blank-text", "mail.subject_otp", "one non-empty line", value="  "),
    _bad("blank-source", "totp.digits", "needs a 'source'", source="  "),
    _bad("assumed-not-bool", "totp.algorithm", "needs a 'source'", assumed="yes"),
    pytest.param(_no_source_not_assumed, "email_otp.digits", "needs a 'source'", id="no-source-not-assumed"),
    pytest.param(
        _assume_without_standard, "totp.period_seconds", "names no 'standard'", id="assumed-without-standard"
    ),
    pytest.param(_unknown_key, "totp.colour", "unknown parameter", id="unknown-key"),
    pytest.param(_unknown_section, "extra", "unknown parameter", id="unknown-top-level"),
    pytest.param(_no_name, "profile.name", "'name'", id="no-profile-name"),
]


@pytest.mark.parametrize(("mutate", "key", "words"), MALFORMED)
def test_malformed_profile_names_the_key(
    document: Document, mutate: Callable[[Document], None], key: str, words: str
) -> None:
    parse_profile(document, origin="probe")  # the unmodified document is fine
    mutate(document)
    with pytest.raises(SpecError) as info:
        parse_profile(document, origin="probe")
    assert info.value.field == key
    assert words in str(info.value)
    assert str(info.value).startswith("probe: ")
    assert info.value.requirement == "INPUT_ERRORS_PRECISE"


def test_a_section_that_is_not_a_table_is_a_missing_key(document: Document) -> None:
    document["totp"] = "six digits"
    with pytest.raises(SpecError) as info:
        parse_profile(document)
    assert info.value.field == "totp.digits"


def test_replace_makes_a_changed_copy(document: Document) -> None:
    profile = parse_profile(document)
    other = profile.replace(email_block_subdomains=False)
    assert other.email_block_subdomains is False and profile.email_block_subdomains is True
    assert {k: v for k, v in other.parameters.items() if k != "email.block_subdomains"} == {
        k: v for k, v in profile.parameters.items() if k != "email.block_subdomains"
    }


# --- reading files: ninsho.spec.registry.load_profile ----------------------------------------------


def test_load_profile_by_path(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "spec" / "profiles" / "iimc.toml"
    target = tmp_path / "vendor.toml"
    target.write_bytes(source.read_bytes())
    assert load_profile(target) == load_profile("iimc")


def test_load_profile_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SpecError) as info:
        load_profile(missing)
    assert info.value.field == "profile"
    assert f"no profile {str(missing)!r}" in str(info.value)
    for name in PROFILE_NAMES:  # the message lists the bundled choices
        assert name in str(info.value)


def test_load_profile_directory_is_not_a_profile(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no profile") as info:
        load_profile(tmp_path)
    assert info.value.field == "profile"


def test_load_profile_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text("[profile\nname = 'x'\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert info.value.field == "profile"
    assert str(info.value).startswith(f"{path}: not valid UTF-8 TOML: ")
    assert "line 1" in str(info.value)


def test_load_profile_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_bytes(b'[profile]\nname = "\xff\xfe"\n')
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert info.value.field == "profile"
    assert str(info.value).startswith(f"{path}: not valid UTF-8 TOML: ")
    assert "utf-8" in str(info.value).lower()


def test_load_profile_oversized(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_bytes(b"# padding\n" * (MAX_PROFILE_BYTES // 10 + 1))
    assert path.stat().st_size > MAX_PROFILE_BYTES
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert info.value.field == "profile"
    assert str(info.value) == f"{path}: larger than {MAX_PROFILE_BYTES} bytes"


def test_load_profile_valid_toml_bad_profile_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "profile.toml"
    path.write_text('[profile]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert info.value.field == "totp.digits"
    assert str(info.value).startswith(f"{path}: [totp.digits]")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vendor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_vendor_profile_extends_a_bundled_one(tmp_path: Path) -> None:
    base = load_profile("iimc")
    path = _write(
        tmp_path,
        '[profile]\nname = "vendor"\nextends = "iimc"\n'
        '[lockout.threshold]\nvalue = 7\nsource = "vendor policy §3"\n',
    )
    profile = load_profile(path)
    assert profile.name == "vendor" and profile.lockout_threshold == 7
    assert profile.provenance["lockout.threshold"].source == "vendor policy §3"
    assert profile.replace(name=base.name, title=base.title, lockout_threshold=base.lockout_threshold) == base


@pytest.mark.parametrize(("extends", "words"), [('"nope"', "not one of"), ('"fast-test"', "extends another")])
def test_extends_only_a_bundled_base_profile(tmp_path: Path, extends: str, words: str) -> None:
    path = _write(tmp_path, f'[profile]\nname = "vendor"\nextends = {extends}\n')
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert info.value.field == "profile.extends"
    assert words in str(info.value) and str(info.value).startswith(f"{path}: ")


def test_an_extending_profile_is_still_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[profile]\nname = "v"\nextends = "iimc"\n[lockout.threshold]\nvalue = 101\nsource = "x"\n'
    )
    with pytest.raises(SpecError) as info:
        load_profile(path)
    assert info.value.field == "lockout.threshold"
