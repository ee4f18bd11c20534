"""The checks' flows as direct calls on reference.core.Portal: no pytest, no driver, no transcript.

This is the yardstick of benchmarks/embedded_overhead.py: the same portal operations the bundled
checks (conformance/checks/) make against the embedded reference, in the same order, on a fresh
embedded portal per check (as the harness does), with the virtual clock and the in-memory store.
What the harness adds on top (pytest, the driver and its Outcome objects, the recording of
evidence, verdicts and reports) is the difference. Assertions are kept as plain ``assert``s so a
broken flow cannot pass for a fast one.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyotp

if __package__ in (None, ""):  # run as `python benchmarks/x.py`: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference.core.errors import NinshoError
from reference.core.profile import Profile
from reference.embedded import Embedded, embedded_portal
from reference.spec import load_profile, read_toml

CONCURRENT = 8
MARGIN = 1.0  # the embedded target's margin_seconds


class Browser:
    """One browser: a session and a "trust this browser" token."""

    def __init__(self, e: Embedded) -> None:
        self.e, self.p = e, e.portal
        self.session = "-"
        self.trust: str | None = None

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """The result, or the refusal (a NinshoError instance) as a value."""
        try:
            return fn(*args, **kw)
        except NinshoError as exc:
            return exc

    def login(self, login_id: str, password: str) -> Any:
        r = self.call(self.p.login, login_id, password, trust_token=self.trust)
        if not isinstance(r, NinshoError):
            self.session = r.session
        return r

    def login_for_reset(self, login_id: str, password: str) -> Any:
        r = self.call(self.p.login_for_reset, login_id, password)
        if not isinstance(r, NinshoError):
            self.session = r.session
        return r

    def s(self, method: str, *args: Any, **kw: Any) -> Any:
        r = self.call(getattr(self.p, method), self.session, *args, **kw)
        token = getattr(r, "trust_token", None)
        if token:
            self.trust = token
        return r


def refused(r: object) -> bool:
    return isinstance(r, NinshoError)


class Check:
    """The state one check needs: a fresh portal, numbered accounts, the outbox."""

    def __init__(self, profile: Profile) -> None:
        self.e = embedded_portal(profile)
        self.profile = profile
        self.n = 0

    def now(self) -> float:
        return self.e.clock.now()

    def advance(self, seconds: float) -> None:
        self.e.clock.advance(seconds)  # type: ignore[attr-defined]

    def account(self) -> tuple[str, str, str]:
        self.n += 1
        login_id, password = f"t{self.n:07d}", f"pw-{self.n}-secret"
        self.e.portal.add_user(login_id, password)
        return login_id, password, f"user{self.n}@example.com"

    def code(self, to: str, digits: int, index: int = -1) -> str:
        mails = [m for m in self.e.outbox.messages if m.to.lower() == to.lower()]
        found = re.search(rf"(?<!\d)\d{{{digits}}}(?!\d)", mails[index].body)
        assert found is not None
        return found.group(0)

    def enrol_email(self) -> tuple[tuple[str, str, str], Browser]:
        acct, b = self.account(), Browser(self.e)
        b.login(acct[0], acct[1])
        assert not refused(b.s("start_email_registration", acct[2]))
        assert not refused(
            b.s("confirm_email_registration", self.code(acct[2], self.profile.email_otp_digits))
        )
        b.s("logout")
        return acct, b

    def login_code(self, acct: tuple[str, str, str], b: Browser) -> str:
        r = b.login(acct[0], acct[1])
        assert r.stage.value == "first_factor"
        assert not refused(b.s("send_login_code"))
        return self.code(acct[2], self.profile.email_otp_digits)

    def second_factor_by_mail(self, acct: tuple[str, str, str], b: Browser, trust: bool = False) -> None:
        b.s("send_login_code")
        assert not refused(
            b.s("verify_email_code", self.code(acct[2], self.profile.email_otp_digits), trust_browser=trust)
        )

    def step(self) -> int:
        return int(self.now() // self.profile.totp_period_seconds)

    def settle(self, needed: float) -> None:
        period = self.profile.totp_period_seconds
        into = self.now() % period
        if into < MARGIN or into > period - MARGIN - needed:
            self.advance(period - into + MARGIN)

    def wait_for_step(self, step: int) -> None:
        start = step * self.profile.totp_period_seconds + MARGIN
        if self.now() < start:
            self.advance(start - self.now())

    def enrol_app(self, with_email: bool = True) -> tuple[tuple[str, str, str], Browser, pyotp.TOTP, int]:
        if with_email:
            acct, b = self.enrol_email()
            b.login(acct[0], acct[1])
            self.second_factor_by_mail(acct, b)
        else:
            acct, b = self.account(), Browser(self.e)
            b.login(acct[0], acct[1])
        totp = pyotp.parse_uri(b.s("start_app_registration").uri)
        assert isinstance(totp, pyotp.TOTP)
        self.settle(2 * MARGIN)
        step = self.step()
        assert not refused(b.s("confirm_app_registration", totp.generate_otp(step)))
        b.s("logout")
        return acct, b, totp, step

    def reset_by_mail(self, acct: tuple[str, str, str], b: Browser) -> None:
        b.login_for_reset(acct[0], acct[1])
        b.s("initialize")
        assert not refused(b.s("confirm_reset", self.code(acct[2], self.profile.confirmation_code_digits)))


def wrong(code: str) -> str:
    return "".join(str((int(c) + 5) % 10) for c in code)


def wrong_totp(totp: pyotp.TOTP, step: int, spread: int = 12) -> str:
    near = {totp.generate_otp(s) for s in range(step - spread, step + spread + 1)}
    candidate = int(totp.generate_otp(step))
    while f"{candidate:0{totp.digits}d}" in near:
        candidate = (candidate + 1) % 10**totp.digits
    return f"{candidate:0{totp.digits}d}"


# --- the checks' flows, one function each ---------------------------------------------------
def email_before(c: Check) -> None:
    acct, b = c.enrol_email()
    code = c.login_code(acct, b)
    c.advance(c.profile.email_otp_lifetime_seconds - MARGIN)
    fresh = Browser(c.e)
    fresh.login(acct[0], acct[1])
    assert not refused(fresh.s("verify_email_code", code))


def email_after(c: Check) -> None:
    acct, b = c.enrol_email()
    code = c.login_code(acct, b)
    c.advance(c.profile.email_otp_lifetime_seconds + MARGIN)
    fresh = Browser(c.e)
    fresh.login(acct[0], acct[1])
    assert refused(fresh.s("verify_email_code", code))


def email_single_use(c: Check) -> None:
    acct, b = c.enrol_email()
    code = c.login_code(acct, b)
    assert not refused(b.s("verify_email_code", code))
    b.s("logout")
    b.login(acct[0], acct[1])
    assert refused(b.s("verify_email_code", code))


def email_concurrent(c: Check) -> None:
    acct, _ = c.enrol_email()
    browsers = [Browser(c.e) for _ in range(CONCURRENT)]
    for b in browsers:
        b.login(acct[0], acct[1])
    code = c.login_code(acct, Browser(c.e))
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        outcomes = list(pool.map(lambda b: b.s("verify_email_code", code), browsers))
    assert sum(not refused(o) for o in outcomes) == 1


def resend_voids(c: Check) -> None:
    acct, b = c.enrol_email()
    first = c.login_code(acct, b)
    c.advance(MARGIN)
    b.s("send_login_code")
    second = c.code(acct[2], c.profile.email_otp_digits)
    if first != second:
        assert refused(b.s("verify_email_code", first))
        assert not refused(b.s("verify_email_code", second))


def resend_keeps_count(c: Check) -> None:
    acct, b = c.enrol_email()
    code = c.login_code(acct, b)
    for _ in range(c.profile.lockout_threshold - 1):
        assert refused(b.s("verify_email_code", wrong(code)))
    c.advance(MARGIN)
    b.s("send_login_code")
    newest = c.code(acct[2], c.profile.email_otp_digits)
    b.s("verify_email_code", wrong(newest))
    assert refused(b.s("verify_email_code", newest))


def lockout_threshold(c: Check) -> None:
    t = c.profile.lockout_threshold
    acct, b = c.enrol_email()
    code = c.login_code(acct, b)
    for _ in range(t - 1):
        b.s("verify_email_code", wrong(code))
    assert not refused(b.s("verify_email_code", code))
    b.s("logout")
    code = c.login_code(acct, b)
    for _ in range(t):
        b.s("verify_email_code", wrong(code))
    assert refused(b.s("verify_email_code", code))


def lockout_duration(c: Check) -> None:
    p = c.profile
    acct, b = c.enrol_email()
    code = c.login_code(acct, b)
    for _ in range(p.lockout_threshold):
        b.s("verify_email_code", wrong(code))
    c.advance(p.lockout_duration_seconds - MARGIN)
    b.s("logout")
    code = c.login_code(acct, b)
    assert refused(b.s("verify_email_code", code))
    c.advance(2 * MARGIN)
    b.s("logout")
    code = c.login_code(acct, b)
    assert not refused(b.s("verify_email_code", code))


def mail_contract(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login(acct[0], acct[1])
    b.s("send_login_code")
    mail = c.e.outbox.latest(acct[2])
    assert mail is not None and mail.sender.lower() == c.profile.mail_sender.lower()
    assert mail.subject == c.profile.mail_subject_otp
    assert not refused(b.s("verify_email_code", c.code(acct[2], c.profile.email_otp_digits)))


def first_login_setup(c: Check) -> None:
    acct, b = c.account(), Browser(c.e)
    assert b.login(acct[0], acct[1]).stage.value == "setup"
    acct, b = c.enrol_email()
    assert b.login(acct[0], acct[1]).stage.value == "first_factor"
    assert refused(b.s("start_email_registration", "another@example.org"))


def wrong_password(c: Check) -> None:
    acct = c.account()
    w = Browser(c.e).login(acct[0], acct[1] + "x")
    u = Browser(c.e).login(acct[0] + "zz9", acct[1])
    assert refused(w) and refused(u) and (w.code, w.message_en) == (u.code, u.message_en)


def one_address(c: Check) -> None:
    acct, b = c.enrol_email()
    second = "second." + acct[2]
    b.login(acct[0], acct[1])
    c.second_factor_by_mail(acct, b)
    assert not refused(b.s("start_email_registration", second))
    assert not refused(b.s("confirm_email_registration", c.code(second, c.profile.email_otp_digits)))
    b.s("logout")
    b.login(acct[0], acct[1])
    c.advance(MARGIN)
    before = len(c.e.outbox.messages)
    b.s("send_login_code")
    assert [m.to for m in c.e.outbox.messages[before:]] == [second]


def app_needs_register(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login(acct[0], acct[1])
    c.second_factor_by_mail(acct, b)
    totp = pyotp.parse_uri(b.s("start_app_registration").uri)
    assert isinstance(totp, pyotp.TOTP)
    assert refused(b.s("confirm_app_registration", wrong_totp(totp, c.step())))
    b.s("logout")
    assert "app" not in b.login(acct[0], acct[1]).methods
    c.settle(2 * MARGIN)
    assert refused(b.s("verify_app_code", totp.generate_otp(c.step())))


def reset_by_mail(c: Check) -> None:
    acct, b, totp, step = c.enrol_app()
    b.login_for_reset(acct[0], acct[1])
    screen = b.s("initialize")
    assert "*" in screen.shown_address
    assert b.s("confirm_reset", c.code(acct[2], c.profile.confirmation_code_digits)).value == "setup"
    assert b.s("settings").address is None
    new = "after-reset." + acct[2]
    b.s("start_email_registration", new)
    b.s("confirm_email_registration", c.code(new, c.profile.email_otp_digits))
    b.s("logout")
    c.wait_for_step(step + 1)
    b.login(acct[0], acct[1])
    c.settle(2 * MARGIN)
    assert refused(b.s("verify_app_code", totp.generate_otp(c.step())))


def reset_code_after(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login_for_reset(acct[0], acct[1])
    b.s("initialize")
    code = c.code(acct[2], c.profile.confirmation_code_digits)
    c.advance(c.profile.confirmation_code_lifetime_seconds + MARGIN)
    b.login_for_reset(acct[0], acct[1])
    assert refused(b.s("confirm_reset", code))


def reset_code_before(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login_for_reset(acct[0], acct[1])
    b.s("initialize")
    code = c.code(acct[2], c.profile.confirmation_code_digits)
    c.advance(c.profile.confirmation_code_lifetime_seconds - MARGIN)
    b.login_for_reset(acct[0], acct[1])
    assert not refused(b.s("confirm_reset", code))
    assert refused(b.s("confirm_reset", code))


def helpdesk(c: Check) -> None:
    acct, b, _, _ = c.enrol_app(with_email=False)
    assert refused(b.call(c.e.portal.helpdesk_issue_code, acct[0]))
    b.login_for_reset(acct[0], acct[1])
    assert b.s("initialize").shown_address == c.profile.reset_placeholder_address
    code = c.e.portal.helpdesk_issue_code(acct[0])
    assert not refused(b.s("confirm_reset", code))


def trust_browser(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login(acct[0], acct[1])
    c.second_factor_by_mail(acct, b, trust=True)
    b.s("logout")
    assert b.login(acct[0], acct[1]).stage.value == "authenticated"
    assert Browser(c.e).login(acct[0], acct[1]).stage.value == "first_factor"
    b.s("logout")
    c.advance(c.profile.trust_browser_duration_seconds + MARGIN)
    assert b.login(acct[0], acct[1]).stage.value == "first_factor"


def logout(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login(acct[0], acct[1])
    c.second_factor_by_mail(acct, b)
    assert not refused(b.s("settings"))
    assert not refused(b.s("logout"))
    assert refused(b.s("settings"))


def offered_factors(c: Check) -> None:
    acct, b = c.enrol_email()
    assert list(b.login(acct[0], acct[1]).methods) == ["email"]
    acct, b, _, _ = c.enrol_app()
    assert sorted(b.login(acct[0], acct[1]).methods) == ["app", "email"]


def first_factor_expiry(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login(acct[0], acct[1])
    c.advance(c.profile.session_first_factor_seconds + MARGIN)
    assert refused(b.s("send_login_code"))


def idle_expiry(c: Check) -> None:
    acct, b = c.enrol_email()
    b.login(acct[0], acct[1])
    c.second_factor_by_mail(acct, b)
    c.advance(c.profile.session_idle_seconds - MARGIN)
    assert not refused(b.s("settings"))
    c.advance(c.profile.session_idle_seconds + MARGIN)
    assert refused(b.s("settings"))


def reset_revokes_trust(c: Check) -> None:
    acct, b = c.enrol_email()
    trusted = Browser(c.e)
    trusted.login(acct[0], acct[1])
    c.second_factor_by_mail(acct, trusted, trust=True)
    trusted.s("logout")
    c.reset_by_mail(acct, b)
    again = "again." + acct[2]
    b.s("start_email_registration", again)
    b.s("confirm_email_registration", c.code(again, c.profile.email_otp_digits))
    assert trusted.login(acct[0], acct[1]).stage.value == "first_factor"


def malformed(bad: str) -> Callable[[Check], None]:
    def run(c: Check) -> None:
        acct, b = c.enrol_email()
        b.login(acct[0], acct[1])
        outcomes = [b.s("verify_email_code", bad) for _ in range(c.profile.lockout_threshold)]
        assert all(refused(o) for o in outcomes) and outcomes[0].field == "code"
        c.second_factor_by_mail(acct, b)

    return run


def totp_window(c: Check) -> None:
    p = c.profile
    past_limit = p.totp_window_past_steps + 1
    acct, b, totp, step = c.enrol_app()
    c.wait_for_step(step + past_limit + 1)
    logged_in = False
    results: dict[int, bool] = {}

    def attempt(offset: int) -> bool:
        nonlocal logged_in
        if not logged_in:
            logged_in = b.login(acct[0], acct[1]).stage.value == "first_factor"
        c.settle(2 * MARGIN)
        ok = not refused(b.s("verify_app_code", totp.generate_otp(c.step() + offset)))
        results[offset] = ok
        if ok:
            b.s("logout")
            logged_in = False
        return ok

    for offset in range(-past_limit, 1):
        attempt(offset)
    offset = 1
    while attempt(offset) and offset < p.totp_window_future_steps + 5:
        offset += 1
    assert results[0] and not results[-past_limit]


def totp_twice(c: Check) -> None:
    acct, b, totp, step = c.enrol_app()
    c.wait_for_step(step + 1)
    c.settle(4 * MARGIN)
    code = totp.generate_otp(c.step())
    b.login(acct[0], acct[1])
    assert not refused(b.s("verify_app_code", code))
    b.s("logout")
    b.login(acct[0], acct[1])
    assert refused(b.s("verify_app_code", code))


def totp_older(c: Check) -> None:
    acct, b, totp, step = c.enrol_app()
    c.wait_for_step(step + 2)
    c.settle(4 * MARGIN)
    now = c.step()
    b.login(acct[0], acct[1])
    assert not refused(b.s("verify_app_code", totp.generate_otp(now)))
    b.s("logout")
    b.login(acct[0], acct[1])
    assert refused(b.s("verify_app_code", totp.generate_otp(now - 1)))


def totp_concurrent(c: Check) -> None:
    acct, _, totp, step = c.enrol_app()
    browsers = [Browser(c.e) for _ in range(CONCURRENT)]
    for b in browsers:
        b.login(acct[0], acct[1])
    c.wait_for_step(step + 1)
    c.settle(4 * MARGIN)
    code = totp.generate_otp(c.step())
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        outcomes = list(pool.map(lambda b: b.s("verify_app_code", code), browsers))
    assert sum(not refused(o) for o in outcomes) == 1


def totp_provisioning(c: Check) -> None:
    acct, b = c.account(), Browser(c.e)
    b.login(acct[0], acct[1])
    shown = b.s("start_app_registration")
    totp = pyotp.parse_uri(shown.uri)
    assert isinstance(totp, pyotp.TOTP) and totp.digits == c.profile.totp_digits
    assert shown.manual_key.replace(" ", "").upper().rstrip("=") == totp.secret.upper().rstrip("=")


def address_case(case: dict[str, Any]) -> Callable[[Check], None]:
    def run(c: Check) -> None:
        acct, b = c.account(), Browser(c.e)
        b.login(acct[0], acct[1])
        outcome = b.s("start_email_registration", case["input"])
        assert refused(outcome) == (case["verdict"] != "accepted"), case["id"]

    return run


def flows() -> list[tuple[str, Callable[[Check], None]]]:
    """Every collected check of conformance/checks, as (name, flow)."""
    named: list[tuple[str, Callable[[Check], None]]] = [
        (f.__name__, f)
        for f in (
            email_before, email_after, email_single_use, email_concurrent, resend_voids, resend_keeps_count,
            lockout_threshold, lockout_duration, mail_contract, first_login_setup, wrong_password,
            one_address,
            app_needs_register, reset_by_mail, reset_code_after, reset_code_before, helpdesk, trust_browser,
            logout, offered_factors, first_factor_expiry, idle_expiry, reset_revokes_trust, totp_window,
            totp_twice, totp_older, totp_concurrent, totp_provisioning,
        )
    ]  # fmt: skip
    bad_codes = ["", "12ab5678", "1" * 65, "１２３４５６７８９", "12345678\r\nX: y", "' OR 1=1 --"]
    named += [(f"malformed[{bad!r}]", malformed(bad)) for bad in bad_codes]
    named += [
        (f"address[{case['id']}]", address_case(case)) for case in read_toml("vectors/addresses.toml")["case"]
    ]
    return named


def run(profile_name: str = "iimc") -> tuple[int, float]:
    """Run every flow once on its own fresh portal; returns (count, seconds)."""
    profile = load_profile(profile_name)
    began = time.perf_counter()
    items = flows()
    for _, flow in items:
        flow(Check(profile))
    return len(items), time.perf_counter() - began


if __name__ == "__main__":
    started = time.perf_counter()
    n, seconds = run(sys.argv[1] if len(sys.argv) > 1 else "iimc")
    print(f"raw core: {n} flows in {seconds:.3f} s (process so far {time.perf_counter() - started:.3f} s)")
