"""Every flow of the manuals against a real ``ninsho serve`` relaying to a real SMTP sink:
the codes are read from the mail as a person would, subjects decoded."""

from __future__ import annotations

import email.utils
import re
import socket
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from ninsho.spec.profile import Profile

from .support import ApiClient, OpenApi, ServerProcess, SmtpSink, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def api(server: ServerProcess, openapi: OpenApi) -> Iterator[ApiClient]:
    client = ApiClient(server.url, openapi)
    yield client
    client.close()


def new_user(api: ApiClient, login_id: str) -> None:
    api.ok("POST", "/admin/users", {"login_id": login_id, "password": "correct horse"}, admin=True)


def register_email(api: ApiClient, sink: SmtpSink, session: str, address: str, profile: Profile) -> None:
    """Mail tab: 「ワンタイムパスワードを送信」, read the mail, 「確認」 (email-change ④–⑦)."""
    before = len(sink.mails_to(address))
    sent = api.ok("POST", "/settings/email", {"address": address}, token=session)
    assert sent["message"]["en"] == f"An email message has been sent to {address}."
    mail = sink.wait_for(address, count=before + 1)
    assert mail.subject == profile.mail_subject_otp  # [MAIL_SUBJECT_OTP]
    assert mail.message["From"] == profile.mail_sender  # [MAIL_SENDER]
    api.ok("POST", "/settings/email/confirm", {"code": mail.code(profile.email_otp_digits)}, token=session)


def email_login(
    api: ApiClient, sink: SmtpSink, login_id: str, address: str, profile: Profile, **kw: bool
) -> dict:
    login = api.login(login_id)
    assert login["stage"] == "first_factor" and "email" in login["methods"]
    before = len(sink.mails_to(address))
    api.ok("POST", "/second-factor/email-code", token=login["session"])
    code = sink.wait_for(address, count=before + 1).code(profile.email_otp_digits)
    verified = api.ok("POST", "/second-factor/email", {"code": code, **kw}, token=login["session"])
    return {"session": login["session"], **verified}


def test_the_server_warns_loudly_that_the_test_clock_is_on(server: ServerProcess) -> None:
    assert "test clock is ENABLED" in server.log()  # [TEST_CLOCK_DISABLED_BY_DEFAULT]


@pytest.mark.parametrize(
    ("path", "media"),
    [("/api/v1/login", "application/json"), ("/login", "application/x-www-form-urlencoded")],
)
def test_a_client_that_leaves_mid_upload_costs_no_traceback(
    server: ServerProcess, path: str, media: str
) -> None:
    """20 such requests once wrote 142 KB of log: two tracebacks each, uvicorn's and ours."""
    before = len(server.log())
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            head = f"POST {path} HTTP/1.1\r\nHost: portal\r\nContent-Type: {media}\r\nContent-Length: 10000\r\n\r\n"
            client.sendall(head.encode() + b'{"login_id": "a')
    assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200  # and it still serves
    grown = server.log()[before:]
    assert "Traceback" not in grown and len(grown) < 2000, grown[:3000]


def test_one_date_header_in_the_portal_time(api: ApiClient) -> None:
    """The harness reads the portal's clock from ``Date``: it must be the test clock's, once."""
    api.advance(3600)
    response = api.http.get("/noop")
    [date] = response.headers.get_list("date")
    served = email.utils.parsedate_to_datetime(date).timestamp()
    assert abs(served - api.now()) < 5
    assert "server" not in response.headers


def test_initial_setup_email_login_and_logout(api: ApiClient, smtp_sink: SmtpSink, profile: Profile) -> None:
    new_user(api, "ann")
    first = api.login("ann")
    assert first["stage"] == "setup"
    register_email(api, smtp_sink, first["session"], "ann@example.org", profile)
    api.ok("POST", "/logout", token=first["session"])
    assert api.call("GET", "/settings", token=first["session"]).status_code == 401  # [LOGOUT]

    done = email_login(api, smtp_sink, "ann", "ann@example.org", profile)
    assert api.ok("GET", "/settings", token=done["session"])["address"] == "ann@example.org"


def test_app_registration_and_app_login(api: ApiClient, smtp_sink: SmtpSink, profile: Profile) -> None:
    new_user(api, "ben")
    session = api.login("ben")["session"]
    register_email(api, smtp_sink, session, "ben@example.org", profile)
    provisioning = api.ok("POST", "/settings/app", token=session)
    totp = pyotp.parse_uri(provisioning["uri"])
    api.ok("POST", "/settings/app/register", {"code": totp.at(api.now())}, token=session)
    api.ok("POST", "/logout", token=session)

    login = api.login("ben")
    assert sorted(login["methods"]) == ["app", "email"]
    api.advance(profile.totp_period_seconds)  # the step used to register is spent
    verified = api.ok("POST", "/second-factor/app", {"code": totp.at(api.now())}, token=login["session"])
    assert api.ok("GET", "/settings", token=verified["session"])["app_count"] == 1  # [SESSION_TOKEN_RENEWED]


def test_trust_browser(api: ApiClient, smtp_sink: SmtpSink, profile: Profile) -> None:
    new_user(api, "cat")
    session = api.login("cat")["session"]
    register_email(api, smtp_sink, session, "cat@example.org", profile)
    trusted = email_login(api, smtp_sink, "cat", "cat@example.org", profile, trust_browser=True)
    token = trusted["trust_token"]
    assert token
    assert api.login("cat", trust_token=token)["stage"] == "authenticated"
    api.advance(profile.trust_browser_duration_seconds)
    assert api.login("cat", trust_token=token)["stage"] == "first_factor"  # [TRUST_BROWSER_EXPIRY]


def test_change_address(api: ApiClient, smtp_sink: SmtpSink, profile: Profile) -> None:
    """email-change.en.txt Step2 ①–⑩: one address only, the new one replaces the old."""
    new_user(api, "dan")
    session = api.login("dan")["session"]
    register_email(api, smtp_sink, session, "dan.old@example.org", profile)
    register_email(api, smtp_sink, session, "dan.new@example.net", profile)
    assert api.ok("GET", "/settings", token=session)["address"] == "dan.new@example.net"
    api.ok("POST", "/logout", token=session)
    old_count = len(smtp_sink.mails_to("dan.old@example.org"))
    email_login(api, smtp_sink, "dan", "dan.new@example.net", profile)
    assert len(smtp_sink.mails_to("dan.old@example.org")) == old_count  # [EMAIL_SINGLE_ADDRESS]


def test_reset_by_mail(api: ApiClient, smtp_sink: SmtpSink, profile: Profile) -> None:
    """app-reset.en.txt ③–⑪: Initialize, the confirmation code by mail, then the app anew."""
    new_user(api, "eve")
    session = api.login("eve")["session"]
    register_email(api, smtp_sink, session, "eve@example.org", profile)
    old = pyotp.parse_uri(api.ok("POST", "/settings/app", token=session)["uri"])
    api.ok("POST", "/settings/app/register", {"code": old.at(api.now())}, token=session)

    setup = api.ok("POST", "/login-for-setup", {"login_id": "eve", "password": "correct horse"})
    before = len(smtp_sink.mails_to("eve@example.org"))
    screen = api.ok("POST", "/reset/initialize", token=setup["session"])
    assert screen["mailed"] is True and screen["shown_address"].endswith("@example.org")
    mail = smtp_sink.wait_for("eve@example.org", count=before + 1)
    assert mail.subject == profile.mail_subject_reset  # [MAIL_SUBJECT_RESET]
    assert mail.message["From"] == profile.mail_sender
    code = mail.code(profile.confirmation_code_digits)
    assert api.ok("POST", "/reset/confirm", {"code": code}, token=setup["session"])["stage"] == "setup"

    new = pyotp.parse_uri(api.ok("POST", "/settings/app", token=setup["session"])["uri"])
    assert new.secret != old.secret
    api.ok("POST", "/settings/app/register", {"code": new.at(api.now())}, token=setup["session"])
    api.ok("POST", "/logout", token=setup["session"])
    login = api.login("eve")
    api.advance(profile.totp_period_seconds)
    refused = api.call("POST", "/second-factor/app", {"code": old.at(api.now())}, token=login["session"])
    assert refused.status_code == 401  # the old registration is void [RESET_VOIDS_APPS]


@pytest.mark.parametrize("helpdesk", ["cli", "admin-api"])
def test_reset_without_address_through_the_helpdesk(
    api: ApiClient, server: ServerProcess, profile: Profile, helpdesk: str
) -> None:
    """initial-setup.en.txt "If you don't have an email address": the ICT Support Center reads
    out the confirmation code [HELPDESK_ISSUES_CODE]."""
    login_id = f"fay-{helpdesk}"
    new_user(api, login_id)
    session = api.login(login_id)["session"]
    totp = pyotp.parse_uri(api.ok("POST", "/settings/app", token=session)["uri"])
    api.ok("POST", "/settings/app/register", {"code": totp.at(api.now())}, token=session)

    setup = api.ok("POST", "/login-for-setup", {"login_id": login_id, "password": "correct horse"})
    screen = api.ok("POST", "/reset/initialize", token=setup["session"])
    assert screen["shown_address"] == profile.reset_placeholder_address and screen["mailed"] is False
    if helpdesk == "cli":
        api.clock_back_to_real_time()  # the operator command runs on the real clock
        done = run_cli("helpdesk", "issue-code", login_id, "--db", str(server.db))
        assert done.returncode == 0, done.stderr
        assert profile.helpdesk_hours in done.stdout
        code = re.findall(rf"(?<!\d)\d{{{profile.confirmation_code_digits}}}(?!\d)", done.stdout)[0]
    else:
        code = api.ok("POST", f"/admin/helpdesk/{login_id}/code", admin=True)["code"]
    assert api.ok("POST", "/reset/confirm", {"code": code}, token=setup["session"])["stage"] == "setup"
    assert api.ok("GET", "/settings", token=setup["session"])["app_count"] == 0


def test_header_injection_never_reaches_the_relay(api: ApiClient, smtp_sink: SmtpSink) -> None:
    """CR/LF and Unicode line breaks in the address, and RFC 2047 encoded-words that a mail
    library would decode into other recipients, are refused before any mail is sent
    [MAIL_HEADER_INJECTION]."""
    new_user(api, "gus")
    session = api.login("gus")["session"]
    before = len(smtp_sink.received)
    for address in (
        "gus@example.org\r\nBcc: attacker@example.net",
        "gus@example.org\nSubject: owned",
        "gus@example.org\u2028Bcc: attacker@example.net",
        "gus@example.org\u0085Bcc: attacker@example.net",
        "gus@example.org,attacker@example.net",
        "=?utf-8?b?YXR0YWNrZXJAZXhhbXBsZS5uZXQsIGd1cw==?=@example.org",  # attacker@example.net, gus
        "=?utf-8?b?QXR0YWNrZXIgPGF0dGFja2VyQGV4YW1wbGUubmV0Pg==?=@example.org",  # Attacker <attacker@...>
        "=?utf-8?b?DQpCY2M6IGF0dGFja2VyQGV4YW1wbGUubmV0?=@example.org",  # CR LF Bcc: attacker@...
        "=?utf-8?q?=00?=@example.org",  # a NUL
    ):
        refused = api.call("POST", "/settings/email", {"address": address}, token=session)
        assert refused.status_code == 400, address
        assert refused.json()["field"] == "address"
    assert len(smtp_sink.received) == before
    assert not [
        m for m in smtp_sink.received if b"attacker@" in m.raw or "attacker@example.net" in m.rcpt_tos
    ]
