"""The binding's error names [BINDING_ERROR_NAMES] (spec/protocol.md §16.3).

Every other check judges a refusal by its kind, told by its status and the requirement it
carries (conformance/refusals.py), so a portal that names its refusals otherwise FAILs none of
them; every refusal any check meets is also held against its name as it is seen
(transcript.RecordingDriver). This check makes sure the requirement is judged in every run: it
provokes the refusals a user meets, one of each kind, and compares status and name with §16.3.
A refusal the portal does not make (a blocked address it accepts) is another requirement's
FAIL, not this one's.
"""

from __future__ import annotations

import pytest

from ninsho.conformance.actions import mailed_code, wrong_mailed_code
from ninsho.conformance.errors import NotApplicable, expect
from ninsho.conformance.interfaces import Account, Outcome
from ninsho.conformance.probes.enrol import enrol_email
from ninsho.conformance.refusals import name_departs
from ninsho.conformance.target import Target


def _provoked(portal: Target) -> dict[str, Outcome]:
    """One refusal of each kind a user can meet, by the kind §16.3 gives it; NOT_APPLICABLE at
    the first when the driver sees no names, before anything else is asked of the portal."""
    p = portal.profile
    stranger = portal.account()
    wrong = portal.browser().login(Account(stranger.login_id, stranger.password + "-wrong"))
    if wrong.refused and "error_name" not in wrong.data:
        raise NotApplicable("the driver sees no error names (a page-only portal has none: §16.3)")
    seen = {
        "authentication_failed": wrong,
        "session_expired": portal.browser().settings(),  # a browser that never logged in
    }
    enrolled = enrol_email(portal)
    account, driver = enrolled.account, enrolled.driver
    driver.login(account)
    seen["not_permitted"] = driver.settings()  # before the second factor
    since = portal.clock.now()
    driver.request_email_code()
    code = mailed_code(portal.inbox, account.address or "", p.mail_subject_otp, since, p.email_otp_digits)
    seen["code_rejected"] = driver.submit_email_code(wrong_mailed_code(code))
    expect(driver.submit_email_code(code).ok, "BINDING_ERROR_NAMES", "the mailed code did not log in")
    seen["invalid_address"] = driver.register_email("not an address")
    if p.email_blocked_domains:
        seen["blocked_address"] = driver.register_email(f"names@{p.email_blocked_domains[0]}")
    return seen


@pytest.mark.BINDING_ERROR_NAMES
def test_each_kind_of_refusal_has_its_binding_name(portal: Target) -> None:
    """A wrong password, no session, the wrong stage, a wrong code, an invalid and a blocked
    address: each refused with the status and the name the binding gives it."""
    seen = {kind: outcome for kind, outcome in _provoked(portal).items() if outcome.refused}
    portal.measure("names", {kind: outcome.data.get("error_name") for kind, outcome in seen.items()})
    wrong = [
        f"{kind}: {why}" for kind, outcome in seen.items() if (why := _departure(kind, outcome)) is not None
    ]
    expect(not wrong, "BINDING_ERROR_NAMES", "; ".join(wrong))


def _departure(kind: str, outcome: Outcome) -> str | None:
    """Why a refusal expected to be of ``kind`` departs from §16.3: another status or name."""
    if outcome.error != kind:
        answered = f"{outcome.data.get('status')} {outcome.data.get('error_name')!r} [{outcome.requirement}]"
        return f"answered {answered}, a refusal of the kind {outcome.error!r}"
    return name_departs(outcome)
