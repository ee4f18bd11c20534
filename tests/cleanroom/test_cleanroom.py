"""Quick tests of the clean-room portal: vectors, then the user flows over real HTTP and SMTP.

Each flow starts the server on a free loopback port in a thread and an aiosmtpd sink, and stops
both in ``finally``; the test clock moves time instead of sleeping.
"""

from __future__ import annotations

import email
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiosmtpd.controller import Controller

from tests.address_cases import case_dicts

from .binding import TEST_CLOCK_HEADER, RunningServer, make_server
from .clock import OffsetClock, SystemClock, SystemRandom
from .mail import Mailer
from .portal import Portal, PortalError
from .profile import ProfileError, load_profile
from .rules import hotp, mask_address, normalize_address, read_code, time_step
from .store import Store
from .texts import ERROR_NAMES

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "spec"
IIMC = SPEC / "profiles" / "iimc.toml"
ADMIN = "admin-token-for-tests"

# --- vectors -----------------------------------------------------------------------------------


def _toml(name: str) -> dict[str, Any]:
    with (SPEC / "vectors" / name).open("rb") as handle:
        return tomllib.load(handle)


RFC6238 = _toml("rfc6238.toml")
ADDRESSES = {"case": case_dicts()}  # the templates of addresses.toml, expanded under iimc


@pytest.mark.parametrize("vector", RFC6238["vector"], ids=lambda v: f"{v['algorithm']}-{v['unix_time']}")
def test_rfc6238_vector(vector: dict[str, Any]) -> None:
    seed = bytes.fromhex(RFC6238["seeds"][vector["algorithm"]])
    step = time_step(vector["unix_time"], RFC6238["meta"]["period_seconds"])
    assert step == int(vector["step_hex"], 16)
    assert hotp(seed, step, RFC6238["meta"]["digits"], vector["algorithm"]) == vector["totp"]


def test_rfc4226_hotp_vectors() -> None:
    seed = bytes.fromhex(RFC6238["seeds"]["SHA1"])
    for row in RFC6238["hotp"]:
        assert hotp(seed, row["counter"], 6) == row["hotp"]


@pytest.mark.parametrize("case", ADDRESSES["case"], ids=lambda c: c["id"])
def test_address_vector(case: dict[str, Any]) -> None:
    blocked = load_profile(IIMC)["email.blocked_domains"]
    verdict = normalize_address(case["input"], blocked, True)
    assert (verdict.verdict, verdict.normalized) == (case["verdict"], case.get("normalized"))
    if "verdict_without_subdomain_rule" in case:
        assert (
            normalize_address(case["input"], blocked, False).verdict == case["verdict_without_subdomain_rule"]
        )


def test_mask_and_code_reading() -> None:
    assert mask_address("taro.yamada@gmail.com") == "ta*****@gmail.com"
    assert mask_address("ab@example.jp") == "a*****@example.jp"
    assert mask_address("x@example.jp") == "*****@example.jp"
    assert read_code("１２３ ４５６", 6) == "123456"
    assert read_code("123\t456", 6) == "123456"
    assert read_code("12345", 6) is None
    assert read_code("١٢٣٤٥٦", 6) is None


def test_profiles(tmp_path: Path) -> None:
    fast = load_profile(SPEC / "profiles" / "fast-test.toml")
    assert fast.name == "fast-test"
    assert fast["email_otp.lifetime_seconds"] == 6 and fast["totp.digits"] == 6
    assert load_profile(SPEC / "profiles" / "nist-strict.toml")["totp.window_future_steps"] == 0
    (tmp_path / "iimc.toml").write_bytes(IIMC.read_bytes())
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[profile]\nname = "b"\ntitle = "b"\nextends = "iimc"\n[totp.colour]\nvalue = 1\nassumed = true\nstandard = "x"\n'
    )
    with pytest.raises(ProfileError, match=r"totp\.colour"):
        load_profile(bad)
    bad.write_text(
        '[profile]\nname = "b"\ntitle = "b"\nextends = "iimc"\n[lockout.threshold]\nvalue = 101\nsource = "x"\n'
    )
    with pytest.raises(ProfileError, match=r"lockout\.threshold"):
        load_profile(bad)
    bad.write_text('[profile]\nname = "b"\ntitle = "b"\nextends = "iimc"\n[totp.digits]\nvalue = 6\n')
    with pytest.raises(ProfileError, match=r"totp\.digits"):
        load_profile(bad)


def test_error_names_are_the_bindings() -> None:
    text = (SPEC / "openapi.yaml").read_text(encoding="utf-8")
    assert all(re.fullmatch(r"[a-z][a-z_]*", name) for name in ERROR_NAMES)
    listed = re.search(r"x-error-codes:\n((?:\s+- \w+.*\n)+)", text)
    if listed:  # the list is newer than the schema's pattern
        assert set(re.findall(r"- (\w+)", listed.group(1))) >= ERROR_NAMES


# --- harness -----------------------------------------------------------------------------------


class Sink:
    """An SMTP sink that keeps every envelope."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.mails)

    def last_code(self, digits: int = 8) -> str:
        with self._lock:
            body = self.mails[-1][2].get_content()
        runs = re.findall(r"(?<![0-9])[0-9]{6,}(?![0-9])", body)
        assert runs and all(run == runs[0] for run in runs) and len(runs[0]) == digits
        return str(runs[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Env:
    """A running portal and its sink, with a small JSON client."""

    server: RunningServer
    sink: Sink
    last_headers: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)
        try:
            headers = {}
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            if data is not None:
                headers["Content-Type"] = content_type
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, "/api/v1" + path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, (json.loads(payload) if payload else None)
        finally:
            conn.close()

    def now(self) -> float:
        status, body = self.call("GET", "/test-clock")
        assert status == 200
        return float(body["now"])

    def advance(self, seconds: float) -> None:
        assert self.call("POST", "/test-clock", {"advance_seconds": seconds})[0] == 200

    def add_user(self, login_id: str, password: str) -> None:
        assert (
            self.call("POST", "/admin/users", {"login_id": login_id, "password": password}, ADMIN)[0] == 201
        )

    def login(self, login_id: str, password: str, **extra: Any) -> dict[str, Any]:
        status, body = self.call("POST", "/login", {"login_id": login_id, "password": password, **extra})
        assert status == 200, body
        return dict(body)

    def setup_login(self, login_id: str, password: str) -> str:
        status, body = self.call("POST", "/login-for-setup", {"login_id": login_id, "password": password})
        assert status == 200 and body["stage"] == "reset", body
        return str(body["session"])

    def register_address(self, token: str, address: str) -> str:
        status, body = self.call("POST", "/settings/email", {"address": address}, token)
        assert status == 200, body
        status, body = self.call("POST", "/settings/email/confirm", {"code": self.sink.last_code()}, token)
        assert status == 200, body
        return str(body["address"])

    def register_app(self, token: str) -> pyotp.TOTP:
        status, body = self.call("POST", "/settings/app", token=token)
        assert status == 200, body
        app = pyotp.TOTP(body["manual_key"], digits=6, interval=30)
        status, body = self.call("POST", "/settings/app/register", {"code": app.at(self.now())}, token)
        assert status == 200 and body["stage"] == "authenticated", body
        return app


@contextmanager
def portal_env(
    tmp_path: Path,
    *,
    test_clock: bool = True,
    admin: str | None = ADMIN,
    reset_binding: str = "session",
    rotate_tokens: bool = False,
) -> Iterator[Env]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        offset = OffsetClock() if test_clock else None
        portal = Portal(
            load_profile(IIMC),
            Store(tmp_path / "portal.sqlite"),
            Mailer("127.0.0.1", controller.port),
            offset or SystemClock(),
            SystemRandom(),
            admin,
            reset_binding,
            rotate_tokens,
        )
        server = RunningServer(make_server(portal, 0, offset)).start()
        try:
            yield Env(server, sink)
        finally:
            server.stop()
    finally:
        controller.stop()


# --- flows -------------------------------------------------------------------------------------


def test_walk(tmp_path: Path) -> None:
    with portal_env(tmp_path) as env:
        call = env.call
        # operator
        assert call("POST", "/admin/users", {"login_id": "taro", "password": "pw-" * 30})[0] == 401
        env.add_user("taro", "correct horse battery staple")
        assert call("POST", "/admin/users", {"login_id": "taro", "password": "x"}, ADMIN)[0] == 409
        assert env.last_headers[TEST_CLOCK_HEADER.lower()].startswith("enabled")
        # first factor: unknown ID and wrong password look the same
        wrong = call("POST", "/login", {"login_id": "taro", "password": "nope"})
        unknown = call("POST", "/login", {"login_id": "jiro", "password": "nope"})
        assert wrong == unknown and wrong[0] == 401 and wrong[1]["requirement"] == "FIRST_FACTOR_PASSWORD"
        assert wrong[1]["error"] == "authentication_failed" and set(wrong[1]["message"]) == {"ja", "en"}
        # initial setup: email first
        first = env.login(" taro ", "correct horse battery staple")
        assert first["stage"] == "setup" and first["methods"] == []
        setup = first["session"]
        status, body = call("POST", "/second-factor/app", {"code": "123456"}, setup)
        assert (status, body["error"]) == (403, "not_permitted")
        assert call("GET", "/settings", token=setup)[1]["address"] is None
        status, body = call("POST", "/settings/email", {"address": "taro@KYOTO-U.ac.jp"}, setup)
        assert (status, body["requirement"], body["field"]) == (422, "EMAIL_BLOCKED_DOMAIN", "address")
        status, body = call("POST", "/settings/email", {"address": "taro@mail.kyoto-u.ac.jp"}, setup)
        assert (status, body["requirement"]) == (422, "EMAIL_BLOCKED_SUBDOMAIN")
        status, body = call("POST", "/settings/email", {"address": "a@gmail.com\r\nBcc: x@y.z"}, setup)
        assert (status, body["field"]) == (400, "address")
        assert env.sink.count() == 0
        status, body = call("POST", "/settings/email", {"address": " Taro@Example.COM "}, setup)
        assert status == 200 and body["address"] == "Taro@example.com"
        assert "Taro@example.com" in body["message"]["en"] and "Taro@example.com" in body["message"]["ja"]
        mail_from, rcpts, msg = env.sink.mails[-1]
        assert (mail_from, rcpts) == ("ninsho-qa@iimc.kyoto-u.ac.jp", ["Taro@example.com"])
        assert msg["Subject"] == "ワンタイムパスワードのお知らせ / Notification of one time password"
        assert msg["From"] == "ninsho-qa@iimc.kyoto-u.ac.jp" and msg["Cc"] is None
        code = env.sink.last_code()
        bad = f"{(int(code) + 1) % 10**8:08d}"
        assert call("POST", "/settings/email/confirm", {"code": bad}, setup)[0] == 401
        status, body = call("POST", "/settings/email/confirm", {"code": code}, setup)
        assert (status, body["stage"], body["address"]) == (200, "authenticated", "Taro@example.com")
        assert call("POST", "/settings/email/confirm", {"code": code}, setup)[0] == 401
        # TOTP app registration
        status, body = call("POST", "/settings/app", token=setup)
        assert body["uri"].startswith("otpauth://totp/Kyoto%20University:taro?secret=" + body["manual_key"])
        assert "&issuer=Kyoto%20University&algorithm=SHA1&digits=6&period=30" in body["uri"]
        app = pyotp.TOTP(body["manual_key"], digits=6, interval=30)
        register_code = app.at(env.now())
        status, body = call("POST", "/settings/app/register", {"code": register_code}, setup)
        assert status == 200 and body["app_id"]
        assert call("POST", "/logout", token=setup)[0] == 204
        assert call("GET", "/settings", token=setup)[0] == 401
        # login with TOTP: the Register code is spent, a fresh one passes, replay refused
        login = env.login("taro", "correct horse battery staple")
        assert login["stage"] == "first_factor" and login["methods"] == ["app", "email"]
        assert call("GET", "/settings", token=login["session"])[0] == 403
        status, body = call("POST", "/second-factor/app", {"code": register_code}, login["session"])
        assert (status, body["requirement"]) == (401, "TOTP_REPLAY")
        env.advance(30)
        fresh = app.at(env.now())
        status, body = call(
            "POST",
            "/second-factor/app",
            {"code": fresh[:3] + " " + fresh[3:], "trust_browser": True},
            login["session"],
        )
        assert status == 200 and body["trust_token"]
        trust = body["trust_token"]
        authenticated = body["session"]  # a new token at the second factor, always (§4.1)
        assert call("GET", "/settings", token=login["session"])[0] == 401
        assert call("GET", "/settings", token=authenticated)[0] == 200
        other = env.login("taro", "correct horse battery staple")["session"]
        status, body = call("POST", "/second-factor/app", {"code": fresh}, other)
        assert (status, body["requirement"]) == (401, "TOTP_REPLAY")
        # email second factor; a code outlives its session but not its lifetime
        status, body = call("POST", "/second-factor/email-code", token=other)
        assert status == 200 and body["address"] == "Ta*****@example.com"
        assert env.sink.mails[-1][1] == ["Taro@example.com"]
        stale = env.sink.last_code()
        env.advance(601)
        assert call("POST", "/second-factor/email", {"code": stale}, other)[0] == 401  # session expired
        again = env.login("taro", "correct horse battery staple")["session"]
        status, body = call("POST", "/second-factor/email", {"code": stale}, again)
        assert (status, body["error"], body["requirement"]) == (401, "code_rejected", "EMAIL_OTP_LIFETIME")
        assert call("POST", "/second-factor/email-code", token=again)[0] == 200
        assert call("POST", "/second-factor/email", {"code": env.sink.last_code()}, again)[0] == 200
        # trusted browser skips the second factor, but only for its account
        assert (
            env.login("taro", "correct horse battery staple", trust_token=trust)["stage"] == "authenticated"
        )
        # reset by mailed confirmation code
        reset = env.setup_login("taro", "correct horse battery staple")
        assert call("POST", "/settings/email", {"address": "x@example.com"}, reset)[0] == 403
        assert call("POST", "/reset/confirm", {"code": "12345678"}, reset)[0] == 409
        status, body = call("POST", "/reset/initialize", token=reset)
        assert (status, body["mailed"], body["shown_address"]) == (200, True, "Ta*****@example.com")
        assert "ninsho-qa@iimc.kyoto-u.ac.jp" in body["message"]["en"]
        msg = env.sink.mails[-1][2]
        assert msg["Subject"].startswith("ワンタイムパスワード設定初期化用確認コードのお知らせ")
        confirm = env.sink.last_code()
        status, body = call("POST", "/reset/confirm", {"code": confirm}, reset)
        assert (status, body["stage"]) == (200, "setup")
        settings = call("GET", "/settings", token=reset)[1]
        assert (settings["address"], settings["app_count"], settings["stage"]) == (None, 0, "setup")
        assert call("GET", "/settings", token=again)[0] == 401  # other sessions ended
        assert env.login("taro", "correct horse battery staple", trust_token=trust)["stage"] == "setup"
        # helpdesk path: app only, then reset without an address
        env.register_app(reset)
        reset2 = env.setup_login("taro", "correct horse battery staple")
        assert call("POST", "/admin/helpdesk/taro/code", token=ADMIN)[0] == 409  # no pending reset
        mails = env.sink.count()
        status, body = call("POST", "/reset/initialize", token=reset2)
        assert (status, body["mailed"], body["shown_address"]) == (
            200,
            False,
            "id*****@mail2.adm.kyoto-u.ac.jp",
        )
        assert env.sink.count() == mails
        assert call("POST", "/admin/helpdesk/taro/code")[0] == 401
        assert call("POST", "/admin/helpdesk/nobody/code", token=ADMIN)[0] == 404
        status, body = call("POST", "/admin/helpdesk/taro/code", token=ADMIN)
        assert status == 200 and re.fullmatch(r"[0-9]{8}", body["code"]) and env.sink.count() == mails
        assert body["helpdesk_phone"] == "075-753-7840 (ext. 16-7840)"
        status, body = call("POST", "/reset/confirm", {"code": body["code"]}, reset2)
        assert (status, body["stage"]) == (200, "setup")
        # the helpdesk cannot bypass a registered address
        assert env.register_address(reset2, "taro@example.org") == "taro@example.org"
        reset3 = env.setup_login("taro", "correct horse battery staple")
        assert call("POST", "/reset/initialize", token=reset3)[1]["mailed"] is True
        status, body = call("POST", "/admin/helpdesk/taro/code", token=ADMIN)
        assert (status, body["requirement"]) == (409, "HELPDESK_PENDING_ONLY")
        # operator removal
        assert call("DELETE", "/admin/users/taro", token=ADMIN)[0] == 204
        assert call("DELETE", "/admin/users/taro", token=ADMIN)[0] == 404
        assert call("GET", "/settings", token=reset3)[0] == 401


@pytest.mark.parametrize("binding", ["session", "account"])
def test_reset_binding_readings(tmp_path: Path, binding: str) -> None:
    """§9.4's two readings: Confirm only in the reset session that last ran Initialize or
    Resend, or in any reset session of the account; Resend moves the pending reset."""
    with portal_env(tmp_path, reset_binding=binding) as env:
        env.add_user("aki", "aki's password")
        env.register_address(env.login("aki", "aki's password")["session"], "aki@example.net")
        opener = env.setup_login("aki", "aki's password")
        assert env.call("POST", "/reset/initialize", token=opener)[0] == 200
        code = env.sink.last_code()
        other = env.setup_login("aki", "aki's password")
        status, body = env.call("POST", "/reset/confirm", {"code": code}, other)
        if binding == "account":
            assert (status, body["stage"]) == (200, "setup")
            return
        assert (status, body["requirement"]) == (401, "RESET_CODE_SINGLE_USE")
        assert env.call("POST", "/reset/resend", token=other)[0] == 200
        resent = env.sink.last_code()
        assert env.call("POST", "/reset/confirm", {"code": resent}, opener)[0] == 401
        assert env.call("POST", "/reset/confirm", {"code": resent}, other)[0] == 200


def test_new_token_at_each_change_of_stage(tmp_path: Path) -> None:
    """§4.1: with rotation, the answer that changes the stage carries a new token and the old
    one is refused; an answer that keeps the stage keeps the token."""
    with portal_env(tmp_path, rotate_tokens=True) as env:
        env.add_user("ren", "ren's password")
        setup = env.login("ren", "ren's password")["session"]
        assert env.call("POST", "/settings/email", {"address": "ren@example.net"}, setup)[0] == 200
        status, body = env.call("POST", "/settings/email/confirm", {"code": env.sink.last_code()}, setup)
        assert status == 200 and body["session"] != setup
        assert env.call("GET", "/settings", token=setup)[0] == 401
        authenticated = body["session"]
        assert env.call("POST", "/settings/email", {"address": "ren2@example.net"}, authenticated)[0] == 200
        status, body = env.call(
            "POST", "/settings/email/confirm", {"code": env.sink.last_code()}, authenticated
        )
        assert status == 200 and "session" not in body
        assert env.call("GET", "/settings", token=authenticated)[0] == 200


def test_sessions_end_as_issue_14_asks(tmp_path: Path) -> None:
    """§4.1, §6, §11: without rotation too, the second factor renews the token; a factor
    registered in one set-up session ends the others; and a busy session ends at
    session.absolute_seconds after its login."""
    with portal_env(tmp_path) as env:
        env.add_user("sora", "sora's password")
        stale, owner = (env.login("sora", "sora's password")["session"] for _ in range(2))
        env.register_address(owner, "sora@example.net")
        assert env.call("GET", "/settings", token=stale)[0] == 401  # STALE_SESSIONS_END
        assert env.call("POST", "/settings/email", {"address": "eve@example.net"}, stale)[0] == 401
        assert env.call("GET", "/settings", token=owner)[0] == 200
        copy = env.login("sora", "sora's password")["session"]
        assert env.call("POST", "/second-factor/email-code", token=copy)[0] == 200
        status, body = env.call("POST", "/second-factor/email", {"code": env.sink.last_code()}, copy)
        assert status == 200 and body["session"] != copy  # SESSION_TOKEN_RENEWED
        assert env.call("GET", "/settings", token=copy)[0] == 401
        signed_in = body["session"]
        for _ in range(24):  # iimc: idle 1800 s, absolute 43200 s
            env.advance(1790)
            assert env.call("GET", "/settings", token=signed_in)[0] == 200
        env.advance(43200 - 24 * 1790)
        assert env.call("GET", "/settings", token=signed_in)[0] == 401  # SESSION_ABSOLUTE_LIFETIME


def test_refused_relay_withdraws_the_code(tmp_path: Path) -> None:
    """Q10: the mail is sent after the code is committed (no request waits on the relay while
    holding the write lock); a refused send is a 503 and leaves no live code behind."""
    store = Store(tmp_path / "portal.sqlite")
    portal = Portal(
        load_profile(IIMC), store, Mailer("127.0.0.1", free_port()), OffsetClock(), SystemRandom()
    )
    portal.add_user("yui", "yui's password")
    token = portal.login("yui", "yui's password", None)["session"]
    with pytest.raises(PortalError) as refused:
        portal.register_email(token, "yui@example.net")
    assert (refused.value.status, refused.value.body()["error"]) == (503, "mail_not_sent")
    with store.tx() as tx:
        account = tx.account_by_login("yui")
        assert account is not None and tx.codes(account.id, "register") == []


def test_concurrent_submissions_single_use(tmp_path: Path) -> None:
    with portal_env(tmp_path) as env:
        env.add_user("hana", "hana's password")
        setup = env.login("hana", "hana's password")["session"]
        env.register_address(setup, "hana@example.net")
        app = env.register_app(setup)

        def race(path: str, code: str, tokens: list[str]) -> list[int]:
            barrier = threading.Barrier(len(tokens))
            results: list[int] = []

            def submit(token: str) -> None:
                barrier.wait()
                results.append(env.call("POST", path, {"code": code}, token)[0])

            threads = [threading.Thread(target=submit, args=(t,)) for t in tokens]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return sorted(results)

        one = env.login("hana", "hana's password")["session"]
        two = env.login("hana", "hana's password")["session"]
        assert env.call("POST", "/second-factor/email-code", token=one)[0] == 200
        assert race("/second-factor/email", env.sink.last_code(), [one, two]) == [200, 401]
        env.advance(60)
        three = env.login("hana", "hana's password")["session"]
        four = env.login("hana", "hana's password")["session"]
        assert race("/second-factor/app", app.at(env.now()), [three, four]) == [200, 401]


def test_lockout(tmp_path: Path) -> None:
    with portal_env(tmp_path) as env:
        env.add_user("ken", "ken's password")
        app = env.register_app(env.login("ken", "ken's password")["session"])
        env.advance(60)
        session = env.login("ken", "ken's password")["session"]
        right = app.at(env.now())
        wrong = "000000" if right != "000000" else "111111"
        for _ in range(10):
            status, body = env.call("POST", "/second-factor/app", {"code": wrong}, session)
            assert status == 401
        status, body = env.call("POST", "/second-factor/app", {"code": right}, session)
        assert (status, body["error"], body["requirement"]) == (429, "account_locked", "LOCKOUT_THRESHOLD")
        assert env.call("POST", "/second-factor/app", {"code": "12x456"}, session)[0] == 400
        env.advance(500)
        session = env.login("ken", "ken's password")["session"]  # a right password still opens a session
        assert env.call("POST", "/second-factor/app", {"code": wrong}, session)[0] == 429
        env.advance(401)
        session = env.login("ken", "ken's password")["session"]
        assert env.call("POST", "/second-factor/app", {"code": app.at(env.now())}, session)[0] == 200


def test_bad_input(tmp_path: Path) -> None:
    with portal_env(tmp_path) as env:
        call = env.call
        status, body = call("POST", "/login", raw=b"{not json")
        assert (status, body["error"], body["requirement"], body["field"]) == (
            400,
            "malformed_body",
            "INPUT_ERRORS_PRECISE",
            "body",
        )
        assert call("POST", "/login", {"login_id": "a", "password": "b", "extra": 1})[1]["field"] == "extra"
        assert call("POST", "/login", {"login_id": "a"})[1]["field"] == "password"
        assert call("POST", "/login", {"login_id": 5, "password": "b"})[1]["field"] == "login_id"
        assert call("POST", "/login", raw=b'{"login_id": "\xff", "password": "b"}')[0] == 400
        assert (
            call("POST", "/login", raw=b'{"login_id": "a", "password": "b"}', content_type="text/plain")[0]
            == 415
        )
        assert call("POST", "/login", {"login_id": "a", "password": "b" * 20000})[0] == 413
        assert call("POST", "/login", {"login_id": "a", "password": "\ud800"})[0] == 400
        assert call("POST", "/test-clock", {"advance_seconds": 10**12})[0] == 400
        assert call("POST", "/test-clock", {"advance_seconds": True})[0] == 400
        assert call("GET", "/login")[0] == 405
        assert call("GET", "/nowhere")[0] == 404
        assert call("GET", "/noop")[0] == 204
        env.add_user("mari", "mari's password")
        token = env.login("mari", "mari's password")["session"]
        status, body = call("POST", "/settings/app/register", {"code": "１２３４５"}, token)
        assert (status, body["field"], body["requirement"]) == (400, "code", "TOTP_DIGITS")
        assert call("POST", "/settings/app/register", {"code": "123456"}, token)[0] == 409
        assert call("POST", "/settings/app", {"x": 1}, token)[0] == 400


def test_extensions_off_by_default(tmp_path: Path) -> None:
    with portal_env(tmp_path, test_clock=False, admin=None) as env:
        status, body = env.call("GET", "/test-clock")
        assert (status, body["requirement"]) == (404, "TEST_CLOCK_DISABLED_BY_DEFAULT")
        assert env.call("POST", "/test-clock", {"advance_seconds": 60})[0] == 404
        assert env.call("POST", "/test-clock", raw=b"{oops")[0] == 404
        assert TEST_CLOCK_HEADER.lower() not in env.last_headers
        assert env.call("POST", "/admin/users", {"login_id": "a", "password": "b"}, "anything")[0] == 403


def test_cli_serve_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tests.cleanroom",
        "serve",
        "--profile",
        str(IIMC),
        "--db",
        str(tmp_path / "c.db"),
    ]
    cmd += ["--port", str(port), "--smtp-host", "127.0.0.1", "--smtp-port", "9", "--test-clock"]
    with subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline
                    time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0
    assert b"TEST CLOCK ENABLED" in err


if os.name != "posix":  # pragma: no cover - SIGTERM semantics
    test_cli_serve_stops_on_sigterm = pytest.mark.skip(reason="POSIX signals")(
        test_cli_serve_stops_on_sigterm
    )
