"""Measure django-allauth's behaviour by driving its pages: what allauth.toml and docs/allauth.md
report, measured rather than read from its settings.

    python -m examples.allauth_portal.measure            # JSON on standard output, ~100 s

Each group runs on its own fresh server (a fresh cache, so no rate limit carries over between
groups: allauth's limits are per IP, and every request here comes from 127.0.0.1). The
time-dependent group runs with short settings (login code 10 s, login_failed 5/15s/key, trust
10 s) so that its waits take seconds, on one timeline (about 17 s of sleep); the others run
with allauth's defaults. Real time only: the TOTP groups sleep only to keep a submission 3 s
from a step's end, or to start two logins in one step (at most 8 s each, four times), so the
sleeping stays under a minute in all.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from examples.allauth_portal import flows
from examples.allauth_portal.mailsink import MailSink
from examples.allauth_portal.pages import Browser
from examples.allauth_portal.server import Server, Settings, add_users, run_django, running

# What the portal stored: is the pending login code in the session store in clear, and is the
# password a salted hash? (Django's database sessions are signed, not encrypted.)
STORED_SCRIPT = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
username, code = sys.argv[1], sys.argv[2]
in_clear = [s.session_key[:6] for s in Session.objects.all() if code in json.dumps(s.get_decoded())]
raw = [s.session_key[:6] for s in Session.objects.all() if code in s.session_data]
hashed = get_user_model().objects.get(username=username).password
print(json.dumps({"sessions_with_code_decoded": len(in_clear), "code_in_raw_session_data": bool(raw),
                  "password_hash_format": "$".join(hashed.split("$")[:2]) + "$<salt>$<hash>"}))
"""
SHORT_CODE_SECONDS = 10
SHORT_LOCK_SECONDS = 15
SHORT_TRUST_SECONDS = 10


def _password() -> str:
    return "Ninsho-" + secrets.token_urlsafe(12)


def _with_totp(server: Server, password: str, count: int) -> list[tuple[str, str]]:
    """``count`` new users with an activated authenticator app: (username, secret)."""
    made = []
    for account in add_users(server, count, password, prefix="totp"):
        with Browser(server.base_url) as browser:
            flows.expect(flows.sign_in(browser, account.username, password), flows.MFA_INDEX)
            secret, _ = flows.activate_totp(browser, password)
        made.append((account.username, secret))
    return made


def totp_group(server: Server, password: str) -> dict[str, Any]:
    """The set-up screens, the window (offsets -3…+3), and replay: sequential and concurrent."""
    out: dict[str, Any] = {}
    account = add_users(server, 1, password, prefix="setup")[0]
    with Browser(server.base_url) as browser:
        flows.expect(flows.sign_in(browser, account.username, password), flows.MFA_INDEX)
        first = browser.get(flows.TOTP_ACTIVATE)
        out["activate_asks_password_first"] = first.path == flows.REAUTHENTICATE
        page = browser.submit(first, "Confirm", {"Password": password})
        secret = page.input_value("authenticator_secret")
        uri = flows.qr_uri(page)
        out["qr_uri"] = uri.replace(secret, "<secret>")
        out["qr_secret_equals_shown_key"] = f"secret={secret}" in uri
        out["secret_base32_chars"] = len(secret)
        out["secret_bytes"] = len(secret) * 5 // 8
        wrong = browser.submit(page, "Activate", {"Authenticator code": "000000"})
        out["activate_wrong_code"] = {"path": wrong.path, "errors": wrong.errors()}
        # Scanning alone registers nothing: still "not active" before the code.
        out["before_code_index"] = "not active" in browser.get(flows.MFA_INDEX).text()
        page = browser.get(flows.TOTP_ACTIVATE)
        out["new_secret_on_each_visit"] = page.input_value("authenticator_secret") != secret
        secret = page.input_value("authenticator_secret")
        old_code = flows.totp_code(secret)
        done = browser.submit(page, "Activate", {"Authenticator code": old_code})
        out["activated"] = {"path": done.path, "messages": done.messages()}
        out["recovery_codes_shown"] = len(re.findall(r"\b\d{8}\b", done.text()))
    # The window: each offset on a fresh login, spread over two accounts (login_failed allows
    # 5 failures per 300 s per account and 10 per minute per IP; 6 offsets fail at most).
    users = _with_totp(server, password, 2)
    window: dict[int, bool] = {}
    for index, offset in enumerate((-3, -2, -1, 0, 1, 2, 3)):
        username, secret = users[index % 2]
        with Browser(server.base_url) as browser:
            page = flows.mfa_page(browser, username, password)
            code = flows.totp_code(secret, offset)
            before = flows.step()
            result = flows.submit_totp(browser, page, code)
            if flows.step() != before:
                raise RuntimeError("a TOTP step ended during a submission; run again")
            window[offset] = flows.passed_second_factor(result)
            if not window[offset]:
                out.setdefault("window_refusal", result.errors())
    out["window"] = {str(k): v for k, v in window.items()}
    # A session that passed only the password: what does it reach?
    with Browser(server.base_url) as browser:
        flows.mfa_page(browser, users[0][0], password)
        out["password_only_session_opens"] = {
            path: browser.get(path).path for path in (flows.EMAIL, flows.MFA_INDEX, flows.TOTP_ACTIVATE)
        }
    accepted = [k for k, v in window.items() if v]
    out["window_accepted"] = f"{min(accepted)}…{max(accepted)}" if accepted else "none"
    return out


def replay_group(server: Server, password: str) -> dict[str, Any]:
    """The same code twice (two logins in one step), and one code from 4 browsers at once."""
    out: dict[str, Any] = {}
    (username, secret), (racer, racer_secret), (stepper, stepper_secret) = _with_totp(server, password, 3)
    flows.wait_away_from_edge()
    if 30 - time.time() % 30 < 8:  # two logins must fit in one step
        time.sleep(30 - time.time() % 30 + 0.5)
    code = flows.totp_code(secret)
    results = []
    for _ in range(2):
        with Browser(server.base_url) as browser:
            results.append(flows.submit_totp(browser, flows.mfa_page(browser, username, password), code))
    out["same_code_twice"] = [flows.passed_second_factor(r) for r in results]
    out["replay_refusal"] = results[1].errors()
    # An older step after a newer one (meaningful only with MFA_TOTP_TOLERANCE above 0).
    if 30 - time.time() % 30 < 8:
        time.sleep(30 - time.time() % 30 + 0.5)
    newer, older = flows.totp_code(stepper_secret, 1), flows.totp_code(stepper_secret, 0)
    late = []
    for code in (newer, older):
        with Browser(server.base_url) as browser:
            late.append(flows.submit_totp(browser, flows.mfa_page(browser, stepper, password), code))
    out["newer_then_older_step"] = [flows.passed_second_factor(r) for r in late]
    # Concurrent: four browsers at the second factor, one code, submitted together.
    browsers = [Browser(server.base_url) for _ in range(4)]
    try:
        pages = [flows.mfa_page(b, racer, password) for b in browsers]
        flows.wait_away_from_edge()
        code = flows.totp_code(racer_secret)
        with ThreadPoolExecutor(max_workers=4) as pool:
            outcomes = list(
                pool.map(lambda bp: flows.submit_totp(bp[0], bp[1], code), zip(browsers, pages, strict=True))
            )
        out["concurrent_accepted_of_4"] = sum(flows.passed_second_factor(o) for o in outcomes)
        out["concurrent_statuses"] = sorted(o.status for o in outcomes)
    finally:
        for browser in browsers:
            browser.__exit__()
    return out


def login_code_group(server: Server, sink: MailSink, password: str) -> dict[str, Any]:
    """Login by mailed code with allauth's defaults: the mail, the format, where it leads, single
    use (sequential and concurrent in one session), 3 wrong codes, a second request, the
    request limit."""
    out: dict[str, Any] = {}
    plain = add_users(server, 9, password, prefix="code")
    totp_user, totp_secret = _with_totp(server, password, 1)[0]
    totp_email = f"{totp_user}@ninsho.test"
    # The mail and the format; where the code leads for an account without an app.
    with Browser(server.base_url) as browser:
        since = time.time()
        page = flows.request_login_code(browser, plain[0].email)
        out["request_page"] = {"path": page.path, "messages": page.messages()}
        mail = sink.wait_for(plain[0].email, since)
        code = flows.code_in(mail.body)
        out["mail"] = {
            "from": mail.sender,
            "subject": mail.subject,
            "content_type": mail.message["Content-Type"],
            "body": mail.body.replace(code, "<code>"),
            "code_shape": re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", code)),
            "received_after_seconds": round(mail.received - since, 2),
        }
        page = browser.get(flows.LOGIN_CODE_CONFIRM)
        out["confirm_page_buttons"] = [b.text for f in page.forms() for b in f.buttons]
        lower = flows.confirm_login_code(browser, page, code.lower().replace("-", ""))
        out["lower_case_without_dash_accepted"] = lower.path == flows.MFA_INDEX
        out["signed_in_after_code"] = flows.is_signed_in(browser)
    # An account with an app: does the mailed code skip the TOTP?
    with Browser(server.base_url) as browser:
        since = time.time()
        page = flows.request_login_code(browser, totp_email)
        code = flows.code_in(sink.wait_for(totp_email, since).body)
        after = flows.confirm_login_code(browser, page, code)
        out["code_then_for_totp_user"] = after.path
        if after.path == flows.MFA_AUTHENTICATE:
            out["code_then_totp_passes"] = flows.passed_second_factor(
                flows.submit_totp(browser, after, flows.totp_code(totp_secret))
            )
    # Single use: the same code again after success, in the same browser.
    with Browser(server.base_url) as browser:
        since = time.time()
        page = flows.request_login_code(browser, plain[1].email)
        code = flows.code_in(sink.wait_for(plain[1].email, since).body)
        flows.confirm_login_code(browser, page, code)
        flows.sign_out(browser)
        again = browser.get(flows.LOGIN_CODE_CONFIRM)
        out["confirm_page_after_use"] = again.path
    # Concurrent: one session, one code, four submissions at once; three times.
    races = []
    for account in plain[6:9]:
        with Browser(server.base_url) as browser:
            since = time.time()
            page = flows.request_login_code(browser, account.email)
            code = flows.code_in(sink.wait_for(account.email, since).body)
            if account is plain[6]:
                out["stored"] = json.loads(run_django(server, STORED_SCRIPT, account.username, code))
            form = page.form("Confirm")
            data = {**form.values, "code": code}
            with ThreadPoolExecutor(max_workers=4) as pool:
                answers = list(
                    pool.map(
                        lambda post: browser.client.post(post[0], data=post[1], follow_redirects=False),
                        [(form.action, data)] * 4,
                    )
                )
            races.append(sum(a.headers.get("location", "") == flows.MFA_INDEX for a in answers))
    out["concurrent_same_session_accepted_of_4"] = races
    # Three wrong codes, then the right one; then a new request, and its right code.
    with Browser(server.base_url) as browser:
        since = time.time()
        page = flows.request_login_code(browser, plain[3].email)
        code = flows.code_in(sink.wait_for(plain[3].email, since).body)
        wrong = []
        for attempt in ("BBBB-BBBB", "CCCC-CCCC", "DDDD-DDDD"):
            page = flows.confirm_login_code(browser, page, attempt)
            wrong.append({"path": page.path, "errors": page.errors(), "messages": page.messages()})
            if page.path != flows.LOGIN_CODE_CONFIRM:
                break
        out["three_wrong_codes"] = wrong
        late = browser.client.post(
            flows.LOGIN_CODE_CONFIRM,
            data={"code": code, "csrfmiddlewaretoken": browser.client.cookies.get("csrftoken", "")},
        )
        out["right_code_after_three_wrong"] = {"path": late.url.path, "status": late.status_code}
        out["signed_in_after_three_wrong"] = flows.is_signed_in(browser)
        since = time.time()
        page = flows.request_login_code(browser, plain[3].email)
        fresh = flows.code_in(sink.wait_for(plain[3].email, since).body)
        out["new_code_after_three_wrong_accepted"] = (
            flows.confirm_login_code(browser, page, fresh).path == flows.MFA_INDEX
        )
    # Two requests for one address from two browsers: is the first code void? (A browser with
    # a pending code is sent back to its Confirm page; LOGIN_BY_CODE_SUPPORTS_RESEND is off.)
    with Browser(server.base_url) as first_browser, Browser(server.base_url) as second_browser:
        since = time.time()
        first_page = flows.request_login_code(first_browser, plain[4].email)
        first = flows.code_in(sink.wait_for(plain[4].email, since).body)
        out["login_page_with_pending_code"] = first_browser.get(flows.LOGIN).path
        since = time.time()
        second_page = flows.request_login_code(second_browser, plain[4].email)
        second = flows.code_in(sink.wait_for(plain[4].email, since).body)
        out["first_code_after_second_request"] = flows.confirm_login_code(
            first_browser, first_page, first
        ).path
        out["second_code_after_first_used"] = flows.confirm_login_code(
            second_browser, second_page, second
        ).path
    # request_login_code: 3 per minute per address; four browsers, one fresh address.
    statuses = []
    for _ in range(4):
        with Browser(server.base_url) as browser:
            page = flows.request_login_code(browser, plain[5].email)
            statuses.append({"path": page.path, "errors": page.errors()})
    out["four_requests_one_address"] = statuses
    return out


def timed_group(server: Server, sink: MailSink, password: str) -> dict[str, Any]:
    """With short settings: the login code's lifetime, the lock's end after 5 wrong passwords and
    after 5 wrong TOTP codes, and the trust's end. All waits overlap: one sleep of ~16 s."""
    out: dict[str, Any] = {}
    users = add_users(server, 3, password, prefix="timed")
    (totp_user, totp_secret), (trust_user, trust_secret) = _with_totp(server, password, 2)
    early, late = Browser(server.base_url), Browser(server.base_url)
    trusted = Browser(server.base_url)
    try:
        since = time.time()
        early_page = flows.request_login_code(early, users[0].email)
        early_code = flows.code_in(sink.wait_for(users[0].email, since).body)
        late_page = flows.request_login_code(late, users[1].email)
        late_code = flows.code_in(sink.wait_for(users[1].email, since).body)
        issued = time.time()
        # Trust this browser.
        page = flows.submit_totp(
            trusted, flows.mfa_page(trusted, trust_user, password), flows.totp_code(trust_secret)
        )
        page = flows.answer_trust(trusted, page, trust=True)
        trusted_at = time.time()
        cookie = next((c for c in trusted.client.cookies.jar if c.name == "mfa_trusted"), None)
        out["trust_cookie"] = (
            {
                "name": cookie.name,
                "max_age_seconds": round(cookie.expires - trusted_at) if cookie.expires else None,
                "httponly": cookie.has_nonstandard_attr("HttpOnly"),
            }
            if cookie
            else None
        )
        flows.sign_out(trusted)
        out["trusted_skips_totp"] = flows.sign_in(trusted, trust_user, password).path
        flows.sign_out(trusted)
        # Five wrong passwords, then the right one.
        with Browser(server.base_url) as browser:
            answers = [flows.sign_in(browser, users[2].username, "wrong-" + password) for _ in range(5)]
            out["wrong_password_errors"] = [a.errors() for a in answers[-2:]]
            right = flows.sign_in(browser, users[2].username, password)
            out["right_password_after_5_wrong"] = {"path": right.path, "errors": right.errors()}
            locked_at = time.time()
        # Five wrong TOTP codes, then the right one.
        with Browser(server.base_url) as browser:
            errors = []
            page = flows.mfa_page(browser, totp_user, password)
            for _ in range(5):
                page = flows.submit_totp(browser, page, "000000")
                errors.append(page.errors())
            page = flows.submit_totp(browser, page, flows.totp_code(totp_secret))
            out["totp_errors_4th_5th"] = errors[-2:]
            out["right_totp_after_5_wrong"] = {"path": page.path, "errors": page.errors()}

        # The checks, each at its time: one timeline, so the waits overlap.
        def early_check() -> None:
            out["code_at_seconds"] = round(time.time() - issued, 1)
            out["code_accepted_before_timeout"] = flows.confirm_login_code(early, early_page, early_code).path

        def late_check() -> None:
            out["late_code_at_seconds"] = round(time.time() - issued, 1)
            expired = flows.confirm_login_code(late, late_page, late_code)
            out["code_after_timeout"] = {"path": expired.path, "messages": expired.messages()}

        def trust_check() -> None:
            out["trust_checked_at_seconds"] = round(time.time() - trusted_at, 1)
            out["after_trust_age"] = flows.sign_in(trusted, trust_user, password).path

        def lock_check() -> None:
            with Browser(server.base_url) as browser:
                out["password_lock_checked_at_seconds"] = round(time.time() - locked_at, 1)
                out["right_password_after_lock_time"] = flows.sign_in(
                    browser, users[2].username, password
                ).path
            with Browser(server.base_url) as browser:
                page = flows.mfa_page(browser, totp_user, password)
                out["right_totp_after_lock_time"] = flows.passed_second_factor(
                    flows.submit_totp(browser, page, flows.totp_code(totp_secret))
                )

        timeline = [
            (issued + SHORT_CODE_SECONDS - 4, early_check),
            (issued + SHORT_CODE_SECONDS + 2, late_check),
            (trusted_at + SHORT_TRUST_SECONDS + 1.5, trust_check),
            (locked_at + SHORT_LOCK_SECONDS + 1.5, lock_check),
        ]
        for at, check in sorted(timeline, key=lambda event: event[0]):
            time.sleep(max(0.0, at - time.time()))
            check()
    finally:
        for browser in (early, late, trusted):
            browser.__exit__()
    return out


def email_group(server: Server, sink: MailSink, password: str) -> dict[str, Any]:
    """ "Change Email" (ACCOUNT_CHANGE_EMAIL): the code to the new address, the old one until
    the code is confirmed, one address after it; a university address is not refused."""
    out: dict[str, Any] = {}
    account = add_users(server, 1, password, prefix="mail")[0]
    new = "someone@kyoto-u.ac.jp"
    with Browser(server.base_url) as browser:
        flows.expect(flows.sign_in(browser, account.username, password), flows.MFA_INDEX)
        page = flows.expect(browser.get(flows.EMAIL), flows.EMAIL)
        out["current_email_before"] = page.input_value("current_email")
        since = time.time()
        sent = browser.submit(page, "Change Email", {"Change to": new})
        out["after_change_request"] = {
            "path": sent.path,
            "heading": sent.heading,
            "messages": sent.messages(),
            "errors": sent.errors(),
            "labels": sent.labels(),
            "buttons": [b.text for f in sent.forms() for b in f.buttons],
        }
        mail = sink.wait_for(new, since)
        code = flows.code_in(mail.body)
        out["verification_mail"] = {
            "to": list(mail.to),
            "subject": mail.subject,
            "body": mail.body.replace(code, "<code>"),
        }
        before = browser.get(flows.EMAIL)
        out["current_email_while_pending"] = before.input_value("current_email")
        with Browser(server.base_url) as other:
            since = time.time()
            flows.request_login_code(other, new)
            out["login_code_request_for_pending_address"] = sink.wait_for(new, since).subject
        verify = browser.get(sent.path)
        done = browser.submit(verify, "Confirm", {"Code": code})
        out["after_confirm"] = {"path": done.path, "messages": done.messages(), "errors": done.errors()}
        after = browser.get(flows.EMAIL)
        out["current_email_after"] = after.input_value("current_email")
    with Browser(server.base_url) as browser:
        since = time.time()
        flows.request_login_code(browser, account.email)
        out["login_code_request_for_old_address"] = sink.wait_for(account.email, since).subject
    return out


def password_group(server: Server, password: str) -> dict[str, Any]:
    """allauth's default limits on passwords: 5 per account per 300 s, 10 per IP per minute; does
    a success reset the account's count; an unknown ID against a wrong password."""
    out: dict[str, Any] = {}
    users = add_users(server, 3, password, prefix="pw")
    with Browser(server.base_url) as browser:
        unknown = flows.sign_in(browser, "nobody-here", password)
        wrong = flows.sign_in(browser, users[0].username, "wrong-" + password)
        out["unknown_id_vs_wrong_password"] = {"unknown": unknown.errors(), "wrong": wrong.errors()}
        for _ in range(3):
            flows.sign_in(browser, users[0].username, "wrong-" + password)
        out["after_4_wrong_right_signs_in"] = flows.sign_in(browser, users[0].username, password).path
        flows.sign_out(browser)
        flows.sign_in(browser, users[0].username, "wrong-" + password)  # the fifth failure
        again = flows.sign_in(browser, users[0].username, password)
        out["success_then_1_wrong_then_right"] = {"path": again.path, "errors": again.errors()}
        for _ in range(5):
            flows.sign_in(browser, users[1].username, "wrong-" + password)
        other = flows.sign_in(browser, users[2].username, password)
        out["third_account_after_10_failures_from_ip"] = {"path": other.path, "errors": other.errors()}
    return out


def login_limit_group(server: Server, password: str) -> dict[str, Any]:
    """ "login": 30/m/ip: how many Sign In submissions one IP gets per minute, right or wrong."""
    account = add_users(server, 1, password, prefix="many")[0]
    statuses = []
    for _ in range(32):
        with Browser(server.base_url) as browser:
            form = flows.expect(browser.get(flows.LOGIN), flows.LOGIN).form("Sign In")
            data = {**form.values, "login": account.username, "password": password}
            statuses.append(browser.client.post(flows.LOGIN, data=data, follow_redirects=False).status_code)
    return {
        "sign_in_statuses": statuses,
        "first_429_at": statuses.index(429) + 1 if 429 in statuses else None,
    }


def code_after_password_group(server: Server, sink: MailSink, password: str) -> dict[str, Any]:
    """With ACCOUNT_LOGIN_BY_CODE_REQUIRED = {"password"} and 8-digit codes: the mailed code as
    a second factor after the password, and what an account with an app is asked."""
    out: dict[str, Any] = {}
    account = add_users(server, 1, password, prefix="num")[0]
    with Browser(server.base_url) as browser:
        since = time.time()
        page = flows.sign_in(browser, account.username, password)
        out["after_password"] = {"path": page.path, "heading": page.heading, "messages": page.messages()}
        code = flows.code_in(sink.wait_for(account.email, since).body)
        out["code_shape"] = re.sub(r"\d", "9", code)
        out["after_code"] = flows.confirm_login_code(browser, page, code).path
    return out


def main() -> int:
    password = _password()
    began = time.monotonic()
    report: dict[str, Any] = {}
    try:
        _measure(report, password)
    finally:
        report["seconds"] = round(time.monotonic() - began, 1)
        json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
        print()
    return 0


def _measure(report: dict[str, Any], password: str) -> None:
    """Every group, each on its own server; ``report`` fills as they finish."""
    with MailSink() as sink:
        defaults = Settings(smtp_port=sink.port)
        with running(defaults) as server:
            report["totp"] = totp_group(server, password)
        with running(defaults) as server:
            report["replay"] = replay_group(server, password)
        with running(Settings(smtp_port=sink.port, totp_tolerance=1)) as server:
            report["tolerance_1"] = totp_group(server, password)
            report["tolerance_1_replay"] = replay_group(server, password)
        with running(defaults) as server:
            report["login_code"] = login_code_group(server, sink, password)
        with running(defaults) as server:
            report["email"] = email_group(server, sink, password)
        with running(defaults) as server:
            report["password"] = password_group(server, password)
        with running(defaults) as server:
            report["login_limit"] = login_limit_group(server, password)
        short = Settings(
            smtp_port=sink.port,
            login_code_timeout=SHORT_CODE_SECONDS,
            trust_age_seconds=SHORT_TRUST_SECONDS,
            # The per-IP part raised, so that the per-account lock is measured alone.
            rate_limits=(("login_failed", f"100/m/ip,5/{SHORT_LOCK_SECONDS}s/key"),),
        )
        with running(short) as server:
            report["timed"] = timed_group(server, sink, password)
        with running(Settings(smtp_port=sink.port, numeric_codes=True, login_code_required=True)) as server:
            report["code_after_password"] = code_after_password_group(server, sink, password)


if __name__ == "__main__":
    sys.exit(main())
