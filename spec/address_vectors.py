"""The address vectors of ``spec/vectors/addresses.toml``, expanded for one profile.

The file holds *templates* over the profile's ``email.blocked_domains`` (protocol.md §13): a case
whose input holds ``{blocked}`` stands for one case per blocked domain, so another university's
portal is tried in every spelling the iimc domains are, and a case's verdict may depend on a
profile parameter (``[[case.when]]``). This module turns the templates into plain cases; it is
pure and uses the standard library only, so every portal, harness and test that needs the
vectors gets the same list from the same data.

The spellings that involve IDNA use only the Punycode codec (RFC 3492), on labels that need no
mapping. The standard library's ``encodings.idna`` is IDNA 2003 (nameprep): it maps ``ß`` to
``ss`` and accepts ``☃``, where §13 and the vectors expect IDNA 2008 (UTS #46, non-transitional):
``straße.de`` is ``xn--strae-oqa.de`` and ``☃.com`` is invalid. It must not be used here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from ninsho.spec.errors import SpecError
from ninsho.spec.profile import Profile
from ninsho.spec.registry import read_toml

Verdict = Literal["accepted", "blocked", "invalid"]
VERDICTS: tuple[Verdict, ...] = ("accepted", "blocked", "invalid")
VECTORS_FILE = "vectors/addresses.toml"

# Which requirements a verdict can speak for (the header of addresses.toml).
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "invalid": ("EMAIL_ADDRESS_SYNTAX",),
    "blocked": ("EMAIL_BLOCKED_DOMAIN", "EMAIL_BLOCKED_SUBDOMAIN"),
    "accepted": ("EMAIL_ADDRESS_NORMALIZATION", "EMAIL_LOOKALIKE_ACCEPTED"),
}
_FIELDS = {"id", "input", "verdict", "normalized", "requirement", "note", "when"}
_WHEN_FIELDS = {"parameter", "equals", "verdict", "requirement"}
# The spec layer imports only the modules tests/test_layers.py allows (no re, no unicodedata),
# so the few patterns here are sets of characters.
_OPEN = "{blocked"
_LETTERS_DIGITS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_LDH = _LETTERS_DIGITS | {"-"}
_ATEXT = _LETTERS_DIGITS | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&'*+-/=?^_`{|}~")


@dataclass(frozen=True)
class AddressCase:
    """One case under one profile: what the user types and what the portal must answer."""

    id: str
    input: str
    verdict: Verdict
    normalized: str | None  # the stored form; None when invalid
    requirement: str  # the requirement the verdict speaks for
    note: str
    template: str  # the id as the file writes it ("blocked-{name}")
    domain: str | None  # the blocked domain it was made for; None: a case without placeholders


@dataclass(frozen=True)
class LeftOut:
    """A template that makes no case for one domain, and why: a report can say what was not tried."""

    template: str
    domain: str | None
    reason: str


@dataclass(frozen=True)
class Expansion:
    cases: tuple[AddressCase, ...]
    left_out: tuple[LeftOut, ...]


@dataclass(frozen=True)
class _When:
    parameter: str
    equals: object
    verdict: Verdict
    requirement: str


@dataclass(frozen=True)
class _Template:
    id: str
    input: str
    verdict: Verdict
    normalized: str | None
    requirement: str
    note: str
    when: tuple[_When, ...]

    @property
    def over_domains(self) -> bool:
        return bool(placeholders(self.input))


def placeholders(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """Where ``text`` holds ``{blocked}`` or ``{blocked|a|b}``: (start, end, spellings). A
    ``{blocked`` that is neither (``{blockedx}``, no ``}``) is a mistake in the file."""
    found: list[tuple[int, int, tuple[str, ...]]] = []
    start = text.find(_OPEN)
    while start >= 0:
        end = text.find("}", start)
        inner = text[start + len(_OPEN) : end] if end >= 0 else "?"
        if inner and not inner.startswith("|"):
            raise SpecError(f"{text!r}: {_OPEN!r} without '}}' or '|' after it", field="case.input")
        found.append((start, end + 1, tuple(inner.split("|")[1:])))
        start = text.find(_OPEN, end + 1)
    return found


# --- spellings: each takes an ASCII A-label domain and gives its spelling, or None when it does
# not apply to that domain ---------------------------------------------------------------------

_WIDE = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}  # U+FF01..U+FF5E
_CYRILLIC = {
    "a": "\u0430",
    "c": "\u0441",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "x": "\u0445",
    "y": "\u0443",
}


def _first_label(domain: str, change: Callable[[str], str | None]) -> str | None:
    head, dot, rest = domain.partition(".")
    changed = change(head)
    return None if changed is None else changed + dot + rest


def _wide(text: str) -> str:
    return "".join(_WIDE.get(c, c) for c in text)


def _kelvin(domain: str) -> str | None:
    at = domain.find("k")
    return None if at < 0 else domain[:at] + "\u212a" + domain[at + 1 :]


def _zwsp(domain: str) -> str | None:
    end = 0
    while end < len(domain) and domain[end] in _LETTERS_DIGITS:
        end += 1
    return None if end == 0 else domain[:end] + "\u200b" + domain[end:]


def _soft_hyphen(label: str) -> str:
    middle = len(label) // 2
    return label[:middle] + "\u00ad" + label[middle:]


def _cyrillic(label: str) -> str | None:
    """The *last* replaceable letter, so that kyoto-u gives kyot\\u043e-u as the iimc vectors
    always had. An A-label is left alone: a non-ASCII label with "--" at positions 3-4 is
    invalid in IDNA 2008 (RFC 5891 §4.2.3.1), so it would be no lookalike."""
    if label[2:4] == "--":
        return None
    for at in range(len(label) - 1, -1, -1):
        if label[at] in _CYRILLIC:
            return label[:at] + _CYRILLIC[label[at]] + label[at + 1 :]
    return None


def _alabel(domain: str) -> str:
    """Punycode (RFC 3492) of each non-ASCII label. Enough for the labels the spellings make
    (lower case, NFC, PVALID letters), which need no UTS #46 mapping."""
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in domain.split(".")
    )


def _ulabel(domain: str) -> str | None:
    out, changed = [], False
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                decoded = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                return None
            round_trip = "xn--" + decoded.encode("punycode").decode("ascii")
            if round_trip != label or decoded.lower() != decoded:
                return None  # not a U-label a user could type and get this A-label back from
            out.append(decoded)
            changed = True
        else:
            out.append(label)
    return ".".join(out) if changed else None


def _dot_hyphen(domain: str) -> str | None:
    return domain.replace(".", "-", 1) if domain.count(".") >= 2 else None


def _chop(domain: str) -> str | None:
    return domain[:-1] if len(domain.rpartition(".")[2]) > 1 else None


def _parent(domain: str) -> str | None:
    return domain.partition(".")[2] if domain.count(".") >= 2 else None


SPELLINGS: dict[str, Callable[[str], str | None]] = {
    "upper": str.upper,
    "title": lambda d: _first_label(d, str.title),
    "wide": _wide,
    "wide_label": lambda d: _first_label(d, _wide),
    "ideographic_dots": lambda d: d.replace(".", "\u3002"),
    "halfwidth_dots": lambda d: d.replace(".", "\uff61"),
    "kelvin": _kelvin,
    "zwsp": _zwsp,
    "soft_hyphen": lambda d: _first_label(d, _soft_hyphen),
    "reversed": lambda d: d[::-1],
    "cyrillic": lambda d: _first_label(d, _cyrillic),
    "alabel": _alabel,
    "ulabel": _ulabel,
    "dot_hyphen": _dot_hyphen,
    "chop": _chop,
    "parent": _parent,
}


class _DoesNotApply(Exception):
    """A spelling that has no form for this domain ("kelvin" without a "k")."""


def spell(domain: str, spellings: Iterable[str]) -> str | None:
    """``domain`` through ``spellings`` left to right; None when one of them does not apply."""
    try:
        return _spell(domain, spellings)
    except _DoesNotApply:
        return None


def _spell(domain: str, spellings: Iterable[str]) -> str:
    current = domain
    for name in spellings:
        spelled = SPELLINGS[name](current)
        if spelled is None:
            raise _DoesNotApply(f"the spelling {name!r} does not apply to {current!r}")
        current = spelled
    return current


def _fill(text: str, domain: str) -> str:
    """``text`` with every placeholder spelled out for ``domain``; :class:`_DoesNotApply` if one
    cannot be."""
    out, done = [], 0
    for start, end, spellings in placeholders(text):
        out += [text[done:start], _spell(domain, spellings)]
        done = end
    return "".join([*out, text[done:]])


# --- the blocked domains: short names and the main one ----------------------------------------


def _under(domain: str, parent: str) -> bool:
    return domain.endswith("." + parent)


def _entries(profile: Profile) -> tuple[str, ...]:
    """The profile's blocked domains, once each, checked to be what §13 compares with: the
    normalised (A-label) form. A U-label or an upper-case entry could never equal a normalised
    domain, so vectors made from it would claim verdicts no portal can give."""
    entries = tuple(dict.fromkeys(profile.email_blocked_domains))
    for entry in entries:
        if not well_formed_domain(entry):
            raise SpecError(
                f"email.blocked_domains: {entry!r} is not a normalised domain (A-labels, a-z 0-9 -, "
                "two labels or more): §13 compares the normalised form, so it can never match",
                field="email.blocked_domains",
            )
    return entries


def domain_names(entries: Iterable[str]) -> dict[str, str]:
    """Each blocked domain's short name, for case ids: its labels before the longest other
    listed domain it lies under (st, ms-c under kyoto-u.ac.jp), or else its first label
    (kyoto-u). Names that would clash are the whole domain instead."""
    listed = list(dict.fromkeys(entries))
    names: dict[str, str] = {}
    for entry in listed:
        parents = [other for other in listed if _under(entry, other)]
        if parents:
            names[entry] = entry[: -len(max(parents, key=len)) - 1].replace(".", "-")
        else:
            names[entry] = entry.partition(".")[0]
    counts = Counter(names.values())
    return {entry: name if counts[name] == 1 else entry for entry, name in names.items()}


def main_domain(entries: Iterable[str]) -> str:
    """The broadest blocked domain: under no other listed one, with the fewest labels, first in
    the list on a tie. Its cases keep the template's id as written, as the iimc vectors named
    their kyoto-u.ac.jp cases."""
    listed = list(dict.fromkeys(entries))
    tops = [e for e in listed if not any(_under(e, other) for other in listed)]
    return min(tops, key=lambda e: (e.count("."), listed.index(e)))


# --- well-formedness and the list rule ---------------------------------------------------------


def well_formed_domain(domain: str) -> bool:
    """§13 step 5 on an already normal domain: LDH labels of 1-63, at least two, 253 in all,
    and no "--" at positions 3-4 except in an A-label (IDNA 2008 refuses it)."""
    labels = domain.split(".")
    return (
        domain.isascii()
        and len(labels) >= 2
        and len(domain) <= 253
        and all(_ldh(label) and (label[2:4] != "--" or label.startswith("xn--")) for label in labels)
    )


def _ldh(label: str) -> bool:
    return (
        1 <= len(label) <= 63 and set(label) <= _LDH and not label.startswith("-") and not label.endswith("-")
    )


def _dot_atom(local: str) -> bool:
    return 1 <= len(local) <= 64 and all(atom and set(atom) <= _ATEXT for atom in local.split("."))


def well_formed(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at) and len(address) <= 254 and _dot_atom(local) and well_formed_domain(domain)


def listed_as(domain: str, entries: Iterable[str], *, subdomains: bool) -> tuple[Verdict, str | None]:
    """§13 step 6 on a normalised domain: the verdict and the requirement it speaks for. Used
    only to leave out cases that the profile's *other* domains decide otherwise."""
    listed = tuple(entries)
    if domain in listed:
        return "blocked", "EMAIL_BLOCKED_DOMAIN"
    if subdomains and any(_under(domain, entry) for entry in listed):
        return "blocked", "EMAIL_BLOCKED_SUBDOMAIN"
    return "accepted", None


# --- the file ---------------------------------------------------------------------------------


def parse_templates(document: Mapping[str, Any], *, origin: str = VECTORS_FILE) -> tuple[_Template, ...]:
    """The cases of a decoded addresses.toml, checked: every field known, verdicts and
    requirements that go together, placeholders that name known spellings."""
    raw = document.get("case")
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{origin}: no [[case]]", field="case")
    templates = tuple(_template(entry, origin) for entry in raw)
    ids = Counter(t.id for t in templates)
    twice = sorted(i for i, n in ids.items() if n > 1)
    if twice:
        raise SpecError(f"{origin}: case ids used twice: {', '.join(twice)}", field="case.id")
    return templates


def _template(entry: Any, origin: str) -> _Template:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
        raise SpecError(f"{origin}: a [[case]] without a string id", field="case.id")
    cid = str(entry["id"])
    where = f"{origin}: case {cid!r}"
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}", field=f"case.{unknown[0]}")
    for key in ("input", "note"):
        if not isinstance(entry.get(key), str):
            raise SpecError(f"{where}: {key!r} must be text", field=f"case.{key}")
    verdict, requirement = _verdict(entry, where)
    normalized = entry.get("normalized")
    if (verdict == "invalid") != (normalized is None) or not isinstance(normalized, str | None):
        raise SpecError(
            f"{where}: 'normalized' is for accepted and blocked cases only", field="case.normalized"
        )
    text = [str(entry["input"])] + ([normalized] if normalized else [])
    for name in (name for t in text for _, _, spellings in placeholders(t) for name in spellings):
        if name not in SPELLINGS:
            raise SpecError(f"{where}: no spelling {name!r}", field="case.input")
    over = bool(placeholders(str(entry["input"])))
    if "{name}" in cid and not over:
        raise SpecError(f"{where}: '{{name}}' in the id of a case without '{{blocked}}'", field="case.id")
    if normalized is not None and over != bool(placeholders(normalized)):
        raise SpecError(
            f"{where}: 'input' and 'normalized' must both or neither hold '{{blocked}}'", field="case"
        )
    whens = entry.get("when", [])
    if not isinstance(whens, list):
        raise SpecError(f"{where}: 'when' must be [[case.when]] tables", field="case.when")
    return _Template(
        id=cid,
        input=str(entry["input"]),
        verdict=verdict,
        normalized=normalized,
        requirement=requirement,
        note=str(entry["note"]),
        when=tuple(_when(w, where, verdict) for w in whens),
    )


def _verdict(entry: Mapping[str, Any], where: str) -> tuple[Verdict, str]:
    verdict, requirement = entry.get("verdict"), entry.get("requirement")
    if verdict not in VERDICTS:
        raise SpecError(f"{where}: verdict must be one of {', '.join(VERDICTS)}", field="case.verdict")
    if requirement not in REQUIREMENTS[str(verdict)]:
        allowed = " or ".join(REQUIREMENTS[str(verdict)])
        raise SpecError(f"{where}: a {verdict} case speaks for {allowed}", field="case.requirement")
    return cast(Verdict, verdict), str(requirement)


def _when(entry: Any, where: str, base: Verdict) -> _When:
    if not isinstance(entry, Mapping) or set(entry) != _WHEN_FIELDS:
        raise SpecError(
            f"{where}: [[case.when]] needs exactly {', '.join(sorted(_WHEN_FIELDS))}", field="case.when"
        )
    verdict, requirement = _verdict(entry, f"{where} [[case.when]]")
    if "invalid" in (verdict, base) and verdict != base:
        # A profile decides only what a valid address's domain means, never its syntax.
        raise SpecError(f"{where}: no profile parameter makes a case valid or invalid", field="case.when")
    return _When(str(entry["parameter"]), entry["equals"], verdict, requirement)


_READ: list[tuple[_Template, ...]] = []  # the bundled file, once parsed
_EXPANDED: dict[Profile, tuple[AddressCase, ...]] = {}


def templates() -> tuple[_Template, ...]:
    """The templates of the installed spec package (read once)."""
    if not _READ:
        _READ.append(parse_templates(read_toml(VECTORS_FILE)))
    return _READ[0]


# --- expansion ---------------------------------------------------------------------------------


def expand(profile: Profile, source: tuple[_Template, ...] | None = None) -> Expansion:
    """Every template for every blocked domain of ``profile``, and what was left out and why."""
    entries = _entries(profile)
    names, main = domain_names(entries), main_domain(entries)
    parameters = profile.parameters
    cases: list[AddressCase] = []
    left_out: list[LeftOut] = []
    for template in templates() if source is None else source:
        verdict, requirement = _specialise(template, parameters)
        for domain in entries if template.over_domains else (None,):
            try:
                case = _instance(template, domain, verdict, requirement, names, main)
            except _DoesNotApply as exc:
                left_out.append(LeftOut(template.id, domain, str(exc)))
                continue
            reason = _why_left_out(case, entries, profile.email_block_subdomains)
            if reason is None:
                cases.append(case)
            else:
                left_out.append(LeftOut(template.id, domain, reason))
    ids = Counter(c.id for c in cases)
    twice = sorted(i for i, n in ids.items() if n > 1)
    if twice:
        raise SpecError(
            f"{VECTORS_FILE}: under {profile.name}, ids made twice: {', '.join(twice)}", field="case.id"
        )
    return Expansion(tuple(cases), tuple(left_out))


def _specialise(template: _Template, parameters: Mapping[str, object]) -> tuple[Verdict, str]:
    for when in template.when:
        if when.parameter not in parameters:
            raise SpecError(
                f"{VECTORS_FILE}: case {template.id!r}: no profile parameter {when.parameter!r}",
                field="case.when.parameter",
            )
        if parameters[when.parameter] == when.equals:
            return when.verdict, when.requirement
    return template.verdict, template.requirement


def _instance(
    template: _Template,
    domain: str | None,
    verdict: Verdict,
    requirement: str,
    names: Mapping[str, str],
    main: str,
) -> AddressCase:
    if domain is None:
        return AddressCase(
            template.id,
            template.input,
            verdict,
            template.normalized,
            requirement,
            template.note,
            template.id,
            None,
        )
    normalized = None if template.normalized is None else _fill(template.normalized, domain)
    if "{name}" in template.id:
        cid = template.id.replace("{name}", names[domain])
    else:
        cid = template.id if domain == main else f"{template.id}@{names[domain]}"
    text = _fill(template.input, domain)
    return AddressCase(cid, text, verdict, normalized, requirement, template.note, template.id, domain)


def _why_left_out(case: AddressCase, entries: tuple[str, ...], subdomains: bool) -> str | None:
    """Why ``case`` must not be tried under this profile, or None: it says what it claims."""
    if case.normalized is None:
        return None
    if not well_formed(case.normalized):
        return f"{case.normalized!r} would not be a well-formed address"
    verdict, requirement = listed_as(case.normalized.rpartition("@")[2], entries, subdomains=subdomains)
    if verdict != case.verdict or (verdict == "blocked" and requirement != case.requirement):
        return f"the profile's blocked domains make {case.normalized!r} {requirement or verdict}"
    return None


def address_cases(profile: Profile) -> list[AddressCase]:
    """The address vectors under ``profile``: what a portal with its blocked domains and
    parameters must answer, case by case. Each profile is expanded once: a check asks for
    its cases at collection and again in every test."""
    if profile not in _EXPANDED:
        _EXPANDED[profile] = expand(profile).cases
    return list(_EXPANDED[profile])
