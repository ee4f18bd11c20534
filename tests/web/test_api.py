"""The JSON API in process: every flow of the manuals, each exchange checked against
spec/openapi.yaml by the ``portal`` fixture."""

from __future__ import annotations

import email.utils

import pyotp
import pytest

from ninsho.reference.clocks import MAX_LANES
from ninsho.reference.web.config import ServerConfig
from ninsho.spec.profile import Profile

from .conftest import MakePortal, WebPortal

pytestmark = pytest.mark.anyio


async def test_initial_email_setup_then_email_login(portal: WebPortal, profile: Profile) -> None:
    await portal.add_user("alice")
    first = await portal.login("alice")
    assert first["stage"] == "setup" and first["methods"] == []  # [SETUP_WITHOUT_FACTOR]
    session = first["session"]

    settings = (await portal.api("GET", "/settings", token=session)).json()
    assert settings["stage"] == "setup" and settings["address"] is None
    assert settings["blocked_domains"] == list(profile.email_blocked_domains)

    sent = await portal.api("POST", "/settings/email", {"address": "Alice@Example.ORG"}, token=session)
    assert sent.status_code == 200
    assert sent.json()["address"] == "Alice@example.org"  # the domain is folded, the local part kept
    assert sent.json()["message"]["en"] == "An email message has been sent to Alice@example.org."
    [(to, subject, _)] = portal.outbox_codes
    assert (to, subject) == ("Alice@example.org", profile.mail_subject_otp)

    code = portal.last_code("Alice@example.org", profile.email_otp_digits)
    done = await portal.api("POST", "/settings/email/confirm", {"code": code}, token=session)
    assert done.status_code == 200 and done.json()["stage"] == "authenticated"
    assert (await portal.api("POST", "/logout", token=session)).status_code == 204
    assert (await portal.api("GET", "/settings", token=session)).status_code == 401  # [LOGOUT]

    second = await portal.login("alice")
    assert second["stage"] == "first_factor" and second["methods"] == ["email"]
    session = second["session"]
    assert (
        await portal.api("GET", "/settings", token=session)
    ).status_code == 403  # [SECOND_FACTOR_REQUIRED]
    assert (await portal.api("POST", "/second-factor/email-code", token=session)).status_code == 200
    code = portal.last_code("Alice@example.org", profile.email_otp_digits)
    ok = await portal.api("POST", "/second-factor/email", {"code": code}, token=session)
    body = ok.json()
    renewed = body["session"]  # the password step's token is dead [SESSION_TOKEN_RENEWED]
    assert body == {"stage": "authenticated", "trust_token": None, "session": renewed}
    assert isinstance(renewed, str) and renewed != session
    assert (await portal.api("GET", "/settings", token=session)).status_code == 401
    assert (await portal.api("GET", "/settings", token=renewed)).json()["stage"] == "authenticated"


async def test_app_registration_login_and_replay(portal: WebPortal, profile: Profile) -> None:
    await portal.add_user("bob")
    session = (await portal.login("bob"))["session"]
    provisioning = (await portal.api("POST", "/settings/app", token=session)).json()
    totp = pyotp.parse_uri(provisioning["uri"])
    assert isinstance(totp, pyotp.TOTP)
    assert totp.secret == provisioning["manual_key"]  # [APP_MANUAL_KEY]
    assert (totp.digits, totp.interval) == (profile.totp_digits, profile.totp_period_seconds)

    clock = portal.runtime.clock
    wrong = str((int(totp.at(clock.now())) + 1) % 10**totp.digits).zfill(totp.digits)
    refused = await portal.api("POST", "/settings/app/register", {"code": wrong}, token=session)
    assert refused.status_code == 401 and refused.json()["requirement"] == "APP_REGISTER_REQUIRES_CODE"
    registered = await portal.api(
        "POST", "/settings/app/register", {"code": totp.at(clock.now())}, token=session
    )
    assert registered.status_code == 200
    await portal.api("POST", "/logout", token=session)

    login = await portal.login("bob")
    assert login["methods"] == ["app"]
    await portal.advance(profile.totp_period_seconds)  # the registering step is used up
    code = totp.at(clock.now())
    ok = await portal.api("POST", "/second-factor/app", {"code": code}, token=login["session"])
    assert ok.status_code == 200

    again = await portal.login("bob")
    replay = await portal.api("POST", "/second-factor/app", {"code": code}, token=again["session"])
    assert replay.status_code == 401 and replay.json()["requirement"] == "TOTP_REPLAY"


async def test_trust_browser_skips_second_factor_until_it_expires(
    portal: WebPortal, profile: Profile
) -> None:
    await portal.user_with_email("carol", "carol@example.net")
    session = (await portal.login("carol"))["session"]
    await portal.api("POST", "/second-factor/email-code", token=session)
    code = portal.last_code("carol@example.net")
    verified = await portal.api(
        "POST", "/second-factor/email", {"code": code, "trust_browser": True}, token=session
    )
    trust = verified.json()["trust_token"]
    assert isinstance(trust, str) and trust

    assert (await portal.login("carol", trust_token=trust))["stage"] == "authenticated"  # [TRUST_BROWSER]
    assert (await portal.login("carol", trust_token=trust + "x"))["stage"] == "first_factor"
    await portal.advance(profile.trust_browser_duration_seconds + 1)
    assert (await portal.login("carol", trust_token=trust))[
        "stage"
    ] == "first_factor"  # [TRUST_BROWSER_EXPIRY]


async def test_email_code_expires_on_the_test_clock(portal: WebPortal, profile: Profile) -> None:
    await portal.user_with_email("dave", "dave@example.net")
    session = (await portal.login("dave"))["session"]
    await portal.api("POST", "/second-factor/email-code", token=session)
    code = portal.last_code("dave@example.net")
    await portal.advance(profile.email_otp_lifetime_seconds)
    # A fresh session, so that it is the code's lifetime that is tested, not the session's.
    session = (await portal.login("dave"))["session"]
    refused = await portal.api("POST", "/second-factor/email", {"code": code}, token=session)
    assert refused.status_code == 401
    assert refused.json()["requirement"] == "EMAIL_OTP_LIFETIME"


async def test_reset_by_mail_with_resend(portal: WebPortal, profile: Profile) -> None:
    await portal.user_with_email("erin", "erin.smith@example.net")
    setup = await portal.api("POST", "/login-for-setup", {"login_id": "erin", "password": "correct horse"})
    assert setup.json()["stage"] == "reset"
    session = setup.json()["session"]

    screen = (await portal.api("POST", "/reset/initialize", token=session)).json()
    assert screen["mailed"] is True and screen["login_id"] == "erin"
    assert screen["shown_address"] != "erin.smith@example.net" and "*" in screen["shown_address"]
    assert screen["shown_address"].endswith("@example.net")
    first = portal.last_code("erin.smith@example.net", profile.confirmation_code_digits)
    assert portal.runtime.outbox is not None
    assert portal.runtime.outbox.messages[-1].subject == profile.mail_subject_reset

    await portal.api("POST", "/reset/resend", token=session)
    second = portal.last_code("erin.smith@example.net", profile.confirmation_code_digits)
    if first != second:  # [RESEND_VOIDS_PREVIOUS]: the first code no longer works
        stale = await portal.api("POST", "/reset/confirm", {"code": first}, token=session)
        assert stale.status_code == 401
    confirmed = await portal.api("POST", "/reset/confirm", {"code": second}, token=session)
    assert confirmed.status_code == 200 and confirmed.json()["stage"] == "setup"
    view = (await portal.api("GET", "/settings", token=session)).json()
    assert view["stage"] == "setup" and view["app_count"] == 0
    assert (view["address"] is None) is profile.reset_clears_email


async def test_reset_without_address_through_the_helpdesk_api(portal: WebPortal, profile: Profile) -> None:
    await portal.add_user("frank")
    session = (await portal.login("frank"))["session"]
    totp = pyotp.parse_uri((await portal.api("POST", "/settings/app", token=session)).json()["uri"])
    await portal.api(
        "POST", "/settings/app/register", {"code": totp.at(portal.runtime.clock.now())}, token=session
    )

    early = await portal.api("POST", "/admin/helpdesk/frank/code", admin=True)
    assert early.status_code == 409 and early.json()["requirement"] == "HELPDESK_PENDING_ONLY"

    setup = (
        await portal.api("POST", "/login-for-setup", {"login_id": "frank", "password": "correct horse"})
    ).json()
    screen = (await portal.api("POST", "/reset/initialize", token=setup["session"])).json()
    assert screen == {
        "login_id": "frank",
        "shown_address": profile.reset_placeholder_address,
        "mailed": False,
        "message": None,
    }
    no_token = await portal.api("POST", "/admin/helpdesk/frank/code")
    assert no_token.status_code == 401
    issued = await portal.api("POST", "/admin/helpdesk/frank/code", admin=True)
    assert issued.status_code == 200
    assert issued.json()["helpdesk_hours"] == profile.helpdesk_hours
    code = issued.json()["code"]
    assert len(code) == profile.confirmation_code_digits
    done = await portal.api("POST", "/reset/confirm", {"code": code}, token=setup["session"])
    assert done.status_code == 200 and done.json()["stage"] == "setup"


async def test_admin_api_is_refused_without_a_configured_token(make_portal: MakePortal) -> None:
    portal = await make_portal(admin_token=None)
    r = await portal.api("POST", "/admin/users", {"login_id": "x", "password": "y"}, admin=True)
    assert r.status_code == 403 and r.json()["field"] == "authorization"
    r = await portal.api("DELETE", "/admin/users/x", admin=True)
    assert r.status_code == 403


async def test_admin_remove_user(portal: WebPortal) -> None:
    await portal.add_user("gone")
    assert (await portal.api("DELETE", "/admin/users/gone", admin=True)).status_code == 204
    assert (await portal.api("DELETE", "/admin/users/gone", admin=True)).status_code == 404
    r = await portal.api("POST", "/login", {"login_id": "gone", "password": "correct horse"})
    assert r.status_code == 401


@pytest.mark.TEST_CLOCK_DISABLED_BY_DEFAULT
async def test_test_clock_is_disabled_by_default(make_portal: MakePortal, profile: Profile) -> None:
    assert ServerConfig(profile=profile, db_path=None, pepper=b"p" * 16).test_clock is False
    portal = await make_portal(test_clock=False)
    for method, body in (("GET", None), ("POST", {"advance_seconds": 10})):
        r = await portal.api(method, "/test-clock", body)
        assert r.status_code == 404
        assert r.json()["requirement"] == "TEST_CLOCK_DISABLED_BY_DEFAULT"
        assert "--test-clock" in r.json()["message"]["en"]
        assert "x-ninsho-test-clock" not in r.headers  # §17: announced only while enabled


async def test_test_clock_moves_the_portal_time_and_the_date_header(portal: WebPortal) -> None:
    before = (await portal.api("GET", "/test-clock")).json()
    moved = await portal.api("POST", "/test-clock", {"advance_seconds": 86400})
    assert moved.json()["offset_seconds"] == before["offset_seconds"] + 86400
    assert moved.json()["now"] - before["now"] >= 86400
    served = email.utils.parsedate_to_datetime(moved.headers["date"]).timestamp()
    assert moved.headers["x-ninsho-test-clock"] == "enabled"  # §17, the header the binding names
    assert abs(served - moved.json()["now"]) < 5


async def test_test_clock_lanes_each_move_their_own_time(portal: WebPortal, profile: Profile) -> None:
    """§17 "Lanes": a lane's moves are its own, every decision of a request in it uses its time
    (here a mailed code's lifetime), and a request without the header keeps the portal's own."""
    moved = (await portal.api("POST", "/test-clock", {"advance_seconds": 600}, lane="gw-a")).json()
    assert (moved["offset_seconds"], moved["lanes"]) == (600, True)
    for lane, offset in ((None, 0), ("gw-b", 0), ("gw-a", 600)):
        answer = await portal.api("GET", "/test-clock", lane=lane)
        assert answer.json()["offset_seconds"] == offset, lane
        served = email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()
        assert abs(served - answer.json()["now"]) < 5, lane  # the Date header is the lane's time too
    await portal.add_user("ivy")
    session = (await portal.login("ivy"))["session"]
    sent = await portal.api("POST", "/settings/email", {"address": "ivy@gmail.com"}, token=session)
    assert sent.status_code == 200, sent.text
    code = portal.last_code("ivy@gmail.com")
    await portal.api(
        "POST", "/test-clock", {"advance_seconds": profile.email_otp_lifetime_seconds}, lane="gw-b"
    )
    late = await portal.api("POST", "/settings/email/confirm", {"code": code}, token=session, lane="gw-b")
    assert late.status_code == 401 and late.json()["requirement"] == "EMAIL_OTP_LIFETIME", late.text
    on_time = await portal.api("POST", "/settings/email/confirm", {"code": code}, token=session)
    assert on_time.status_code == 200, on_time.text


async def test_a_lane_ahead_never_sweeps_what_a_lane_behind_still_counts(
    portal: WebPortal, profile: Profile
) -> None:
    """The store drops expired guards of every account as it writes one. A request in a lane two
    days ahead must not drop the mail limit another lane's address is still under (§17 "Lanes":
    a sweep goes by the lane furthest behind)."""
    await portal.user_with_email("kai", "kai@gmail.com")
    session = (await portal.login("kai"))["session"]
    answers = []
    for _ in range(profile.mail_limit_per_address + 1):
        answers.append((await portal.api("POST", "/second-factor/email-code", token=session)).status_code)
        if answers[-1] == 429:
            break
    assert answers[-1] == 429, answers  # the address is at its limit
    await portal.api("POST", "/test-clock", {"advance_seconds": 2 * 86400}, lane="ahead")
    await portal.add_user("lee")
    wrong = await portal.api("POST", "/login", {"login_id": "lee", "password": "not it"}, lane="ahead")
    assert wrong.status_code == 401, wrong.text  # a guard written (and a sweep) two days ahead
    again = await portal.api("POST", "/second-factor/email-code", token=session)
    assert again.status_code == 429, again.text


@pytest.mark.parametrize("lane", ["", "a b", "x" * 65, "ü"])
async def test_a_malformed_lane_is_invalid_input_naming_the_header(portal: WebPortal, lane: str) -> None:
    before = (await portal.api("GET", "/test-clock")).json()["offset_seconds"]
    answer = await portal.client.post(
        "/api/v1/test-clock",
        json={"advance_seconds": 60},
        headers={"Ninsho-Test-Clock-Lane": lane.encode("utf-8")},  # bytes: as a client may send them
    )
    assert answer.status_code == 400, answer.text
    assert (answer.json()["error"], answer.json()["field"]) == ("invalid_input", "Ninsho-Test-Clock-Lane")
    assert answer.json()["message"]["ja"] and answer.json()["message"]["en"]
    assert (await portal.api("GET", "/test-clock")).json()["offset_seconds"] == before


async def test_a_lane_beyond_the_bound_is_invalid_input_and_moves_nothing(portal: WebPortal) -> None:
    """The web edge's answer to ``clocks.TooManyLanes``: a 400 naming the header, under the test
    clock's requirement, in both languages; the lanes it keeps still answer as before."""
    for n in range(MAX_LANES):
        moved = await portal.api("POST", "/test-clock", {"advance_seconds": 1}, lane=f"lane-{n}")
        assert moved.status_code == 200, moved.text
    answer = await portal.api("POST", "/test-clock", {"advance_seconds": 1}, lane="one-more")
    assert answer.status_code == 400, answer.text
    document = answer.json()
    assert (document["error"], document["field"], document["requirement"]) == (
        "invalid_input",
        "Ninsho-Test-Clock-Lane",
        "TEST_CLOCK_DISABLED_BY_DEFAULT",
    )
    assert document["message"]["ja"] and document["message"]["en"]
    assert (await portal.api("GET", "/test-clock", lane="one-more")).json()["offset_seconds"] == 0
    assert (await portal.api("GET", "/test-clock", lane="lane-0")).json()["offset_seconds"] == 1


async def test_wrong_password_and_unknown_id_look_the_same(portal: WebPortal) -> None:
    await portal.add_user("grace")
    wrong = await portal.api("POST", "/login", {"login_id": "grace", "password": "nope"})
    unknown = await portal.api("POST", "/login", {"login_id": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()  # [FIRST_FACTOR_NO_ENUMERATION]
    assert wrong.json()["requirement"] == "FIRST_FACTOR_PASSWORD"


async def test_blocked_domains_are_refused(portal: WebPortal, profile: Profile) -> None:
    await portal.add_user("heidi")
    session = (await portal.login("heidi"))["session"]
    for domain in profile.email_blocked_domains:
        for address in (f"heidi@{domain}", f"heidi@{domain.upper()}."):
            r = await portal.api("POST", "/settings/email", {"address": address}, token=session)
            assert r.status_code == 422, address
            assert r.json()["requirement"] in ("EMAIL_BLOCKED_DOMAIN", "EMAIL_BLOCKED_SUBDOMAIN")
            assert r.json()["message"]["ja"] and r.json()["message"]["en"]
    assert portal.outbox_codes == []
    blocked = profile.email_blocked_domains
    lookalikes = ["not" + d for d in blocked if not any(("not" + d).endswith("." + b) for b in blocked)]
    assert lookalikes, "the profile's domains leave no lookalike to try"
    for domain in lookalikes:  # e.g. notkyoto-u.ac.jp [EMAIL_LOOKALIKE_ACCEPTED]
        r = await portal.api("POST", "/settings/email", {"address": f"heidi@{domain}"}, token=session)
        assert r.status_code == 200, domain


async def test_noop_and_healthz(portal: WebPortal) -> None:
    assert (await portal.api("GET", "/noop")).status_code == 204
    health = await portal.client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


async def test_unknown_endpoint_and_method_use_the_error_shape(portal: WebPortal) -> None:
    missing = await portal.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    portal.openapi._validate({"$ref": "#/components/schemas/Error"}, missing.json())
    wrong_method = await portal.client.get("/api/v1/login")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


async def test_a_dead_relay_is_503_with_the_manuals_guidance(make_portal: MakePortal) -> None:
    from .support import free_port

    portal = await make_portal(smtp=("127.0.0.1", free_port()))  # nothing listens there
    await portal.add_user("ivy")
    session = (await portal.login("ivy"))["session"]
    r = await portal.api("POST", "/settings/email", {"address": "ivy@example.org"}, token=session)
    assert r.status_code == 503
    assert r.json()["error"] == "mail_not_sent"
    assert "情報環境支援センター" in r.json()["message"]["ja"]
