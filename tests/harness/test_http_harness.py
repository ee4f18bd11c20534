"""The harness over real HTTP: ``ninsho serve`` in a subprocess, the harness's SMTP sink, the
portal's test clock, and the bundled checks run by pytest as a user runs them.

- The JSON driver and the HTML driver each PASS every requirement against the correct reference;
  the HTML driver has the NOT_APPLICABLE listed in :data:`HTML_NOT_APPLICABLE`, each with its reason.
- The JSON driver FAILs exactly the requirements that ``ninsho serve --fault NAME`` breaks.
- With ``provision = "pool"`` and ``clock = "real"`` the HTML driver requests pages only: the
  server's access log shows no ``/api/`` request (a portal with pages only has no API).

Each run has its own server, test clock and SMTP port, so the runs go concurrently, as many at
once as there are cores. The runs are
``python -m pytest --pyargs ninsho.conformance.checks --ninsho-portal FILE`` subprocesses rather than
``pytester.runpytest_subprocess`` (the same command) because pytester runs one at a time.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import segno

from ninsho.conformance.config import ENVIRONMENT, ConfigError, PortalConfig, load
from ninsho.conformance.drivers.html import SELECTORS, HtmlDriver, connect, selectors_for
from ninsho.conformance.interfaces import Account, DriverError, Provisioning
from ninsho.reference.faults import FAULTS
from ninsho.spec.registry import load_profile, requirements
from tests.harness.report_rows import judged, ruled_out_by, unjudged
from tests.web.support import NINSHO, ServerProcess, cli_env, free_port

TOKEN_ENV = "NINSHO_HTTP_HARNESS_TOKEN"
ADMIN_TOKEN = "http-harness-admin-token-0123456789"
RUN_TIMEOUT = 600.0  # the checks and the bilingual features: about 30 s a run on a quiet machine
MAIL_TIMEOUT = 10.0
MAIL_QUIET = 0.2  # ninsho serve relays a mail before it answers: absence shows at once
POOL_PASSWORD = "pool-password-0123456789"
FAULTS_OVER_HTTP = ("wide-window", "no-replay-protection", "crash-on-lost-race")  # the last: a real 500

# What the HTML driver cannot judge on the reference's pages, and the reason it gives. (After a
# new reset login the pages lead to "Initialize", never back to the Confirm Code field, so the
# features' Examples rows that log in again before entering an earlier code do not apply there;
# the checks confirm in the session that opened the reset, and judge both reset-code rules.)
# A run on the test clock cannot judge whether the portal keeps it off by default: it was
# started with it on purpose (tests/harness/test_test_clock_check.py judges it in real time).
TEST_CLOCK_NOT_APPLICABLE = {
    "TEST_CLOCK_DISABLED_BY_DEFAULT": "this run uses the portal's test clock",
}
# The web checks judge a portal's pages (conformance/checks/test_web.py): the json driver shows
# none, so a json run cannot judge them, and says so.
PAGES_NOT_APPLICABLE = dict.fromkeys(
    ("WEB_CSRF", "WEB_COOKIE_FLAGS", "REMEMBER_LOGIN_ID"), "the json driver shows no pages"
)
# iimc resets by code: the reset link's requirements do not apply (protocol.md §19.1).
PROFILE_NOT_APPLICABLE = {rid: "applies only with reset.mode = 'link'" for rid in ruled_out_by("iimc")}
JSON_NOT_APPLICABLE = {**TEST_CLOCK_NOT_APPLICABLE, **PAGES_NOT_APPLICABLE, **PROFILE_NOT_APPLICABLE}
HTML_NOT_APPLICABLE = {
    **PROFILE_NOT_APPLICABLE,
    # Judged on the pages only before the lifetime ends: after it, the reset login leads to
    # Initialize, never back to an earlier code's Confirm field (a fault that never expires the
    # code passes the pages' runs; the JSON runs catch it).
    "RESET_CODE_LIFETIME": "the pages show the Confirm Code field only right after Initialize or Resend",
    "BINDING_ERROR_NAMES": "the driver sees no error names (a page-only portal has none: §16.3)",
    **TEST_CLOCK_NOT_APPLICABLE,
}


def harness_server(
    workdir: Path, fault: str | None = None, *, profile: str = "iimc", test_clock: bool = True
) -> ServerProcess:
    """``ninsho serve`` relaying mail to a port of its own, where ``ninsho check``'s SMTP sink
    will listen; the admin token under a name of the harness's own, as a deployment would."""
    return ServerProcess(
        workdir,
        smtp_port=free_port(),
        test_clock=test_clock,
        profile=profile,
        fault=fault,
        log_level="info",  # the tests count the requests in the access log
        admin_token=(TOKEN_ENV, ADMIN_TOKEN),
    )


def add_accounts(server: ServerProcess, login_ids: list[str], password: str) -> None:
    """Accounts created the way an operator would, through the admin API: a pool's."""
    for login_id in login_ids:
        created = httpx.post(
            server.url + "/api/v1/admin/users",
            json={"login_id": login_id, "password": password},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text


def portal_toml(
    path: Path,
    server: ServerProcess,
    driver: str,
    *,
    provision: str = "admin-api",
    clock: str = "test-clock",
    pool: Sequence[str] = (),
    profile: str = "iimc",
    operator: str | None = None,
    base_url: str | None = None,
) -> Path:
    """The portal config a user writes: ``pool`` holds the login IDs of ``provision = "pool"``,
    ``operator`` the helpdesk command of ``[operator]``, ``base_url`` a front of ``server``'s."""
    accounts = f'provision = "{provision}"\n' + (
        f'pool = {json.dumps(list(pool))}\naddress_domain = "example.test"\n' if pool else ""
    )
    path.write_text(
        f'[portal]\nbase_url = "{base_url or server.url}"\ndriver = "{driver}"\nprofile = "{profile}"\n'
        f'[accounts]\n{accounts}password_env = "NINSHO_TEST_PASSWORD"\n'
        f'[admin]\ntoken_env = "{TOKEN_ENV}"\n'
        f'[mailbox]\nkind = "smtp-sink"\nhost = "127.0.0.1"\nport = {server.smtp_port}\n'
        f"timeout_seconds = {MAIL_TIMEOUT}\nquiet_seconds = {MAIL_QUIET}\n"
        f'[clock]\nmode = "{clock}"\n'
        + (f"[operator]\ncommand = {json.dumps(operator)}\n" if operator else ""),
        encoding="utf-8",
    )
    return path


@dataclass
class CheckRun:
    """``ninsho check`` run as a user runs it: its exit status, its JSON report (None when it
    wrote none) and the tail of what it printed."""

    status: int
    report: dict[str, Any] | None
    output: str

    def rows(self) -> dict[str, dict[str, Any]]:
        """The judged requirement rows, by ID; a run without a report fails here, with its output."""
        assert self.report is not None, f"no report (exit {self.status}):\n{self.output}"
        return {row["id"]: row for row in judged(self.report)}

    def verdicts(self) -> dict[str, str]:
        return {rid: str(row["verdict"]) for rid, row in self.rows().items()}


def ninsho_check(workdir: Path, *argv: str, env: Mapping[str, str], timeout: float = RUN_TIMEOUT) -> CheckRun:
    """``ninsho check ARGV -q --report-dir WORKDIR`` in WORKDIR, as a CI job runs it."""
    report = workdir / "ninsho.json"
    done = subprocess.run(
        [NINSHO, "check", *argv, "-q", "--report-dir", str(workdir)],
        cwd=workdir,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    document = json.loads(report.read_text("utf-8")) if report.is_file() else None
    return CheckRun(done.returncode, document, done.stdout[-4000:] + done.stderr[-2000:])


@dataclass
class Run:
    """One harness run: its exit status, its verdict per requirement, and what it printed."""

    status: int
    verdicts: dict[str, str]
    reasons: dict[str, list[str]]
    output: str
    real_time: dict[str, float] | None = None  # the waits of a real-time run

    def not_passed(self) -> dict[str, str]:
        return {rid: verdict for rid, verdict in self.verdicts.items() if verdict != "PASS"}


def run_harness(
    workdir: Path,
    server: ServerProcess,
    driver: str,
    *,
    clock: str = "test-clock",
    select: tuple[str, ...] = (),
    base_url: str | None = None,
) -> Run:
    """The bundled checks against ``server`` through ``driver``, as ``ninsho check`` runs them
    (at ``base_url`` when a front stands before the server)."""
    config = portal_toml(
        workdir / "portal.toml", server, driver, clock=clock, profile=server.profile, base_url=base_url
    )
    report = workdir / "ninsho.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "ninsho.conformance.checks",
        "--ninsho-portal",
        str(config),
    ]
    command += ["--ninsho-json", str(report), "-p", "no:cacheprovider", "-q", *select]
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=cli_env(**{TOKEN_ENV: ADMIN_TOKEN}),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the {driver} run took over {RUN_TIMEOUT} s:\n{exc.stdout!r}") from None
    output = done.stdout[-6000:] + done.stderr[-3000:]
    assert report.is_file(), f"no report from the {driver} run (exit {done.returncode}):\n{output}"
    document: dict[str, Any] = json.loads(report.read_text("utf-8"))
    unjudged(document)  # every requirement has a row, and those no check judged say why
    rows = judged(document)
    return Run(
        done.returncode,
        {row["id"]: row["verdict"] for row in rows},
        {row["id"]: [str(check.get("reason") or "") for check in row["checks"]] for row in rows},
        output,
        document.get("real_time"),
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every run of this module, concurrently, each against its own server; all stopped after."""
    plan: dict[str, tuple[str, str | None]] = {"json": ("json", None), "html": ("html", None)}
    plan |= {f"fault:{name}": ("json", name) for name in FAULTS_OVER_HTTP}
    servers: list[ServerProcess] = []
    try:
        started = {}
        for key, (driver, fault) in plan.items():
            server = harness_server(tmp_path_factory.mktemp(key.replace(":", "-")), fault)
            servers.append(server)
            started[key] = (server.start(), driver)
        # No more runs at once than cores: a slower portal widens the checks' time races (see report).
        with ThreadPoolExecutor(max_workers=max(1, min(len(started), os.cpu_count() or 1))) as pool:
            futures = {key: pool.submit(run_harness, s.workdir, s, d) for key, (s, d) in started.items()}
            yield {key: future.result() for key, future in futures.items()}
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_json_driver_passes_every_requirement(runs: dict[str, Run]) -> None:
    run = runs["json"]
    assert run.verdicts and set(run.verdicts) <= set(requirements()), run.output
    assert run.not_passed() == dict.fromkeys(JSON_NOT_APPLICABLE, "NOT_APPLICABLE"), run.output
    for rid, reason in JSON_NOT_APPLICABLE.items():
        assert any(reason in given for given in run.reasons[rid]), (rid, run.reasons[rid])
    assert run.status == 0, run.output


@pytest.mark.slow
def test_html_driver_passes_every_requirement_it_can_see(runs: dict[str, Run]) -> None:
    run = runs["html"]
    assert set(run.verdicts) == set(runs["json"].verdicts), "both drivers run the same checks"
    # A requirement reads NOT_APPLICABLE only when none of its checks could judge it; where a
    # feature row judged it on the pages, it reads PASS, and the check's reason still shows.
    assert set(run.not_passed()) <= set(HTML_NOT_APPLICABLE), run.output
    assert set(run.not_passed().values()) <= {"NOT_APPLICABLE"}, run.output
    for rid, reason in HTML_NOT_APPLICABLE.items():
        assert any(reason in given for given in run.reasons[rid]), (rid, run.reasons[rid])
    assert run.status == 0, run.output


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS_OVER_HTTP)
def test_faulty_server_fails_exactly_its_requirements(runs: dict[str, Run], fault: str) -> None:
    run = runs[f"fault:{fault}"]
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}\n{run.output}"
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    assert others == dict.fromkeys(JSON_NOT_APPLICABLE, "NOT_APPLICABLE"), f"{fault} disturbed: {others}"
    assert run.status == 1, run.output


# The checks whose waits are lifetimes, under the fast-test profile: seconds, not minutes.
REAL_TIME_SELECTION = (
    "-m",
    "EMAIL_OTP_LIFETIME or RESET_CODE_LIFETIME or LOCKOUT_DURATION or TRUST_BROWSER_EXPIRY",
    "-k",
    "not test_features",
)


@pytest.mark.slow
def test_real_time_waits_run_concurrently(tmp_path: Path) -> None:
    """The one test that waits in real time, to prove the waits overlap: against a portal
    without a test clock, the run takes less than the sum of the waits it asked for, and the
    lifetime checks still PASS when time really passes."""
    server = harness_server(tmp_path / "server", profile="fast-test", test_clock=False).start()
    try:
        run = run_harness(tmp_path, server, "json", clock="real", select=REAL_TIME_SELECTION)
    finally:
        server.stop()
    assert run.status == 0 and set(run.verdicts.values()) == {"PASS"}, run.output
    timing = run.real_time
    assert timing is not None and timing["waits"] >= 4, run.output
    assert timing["wall_seconds"] >= timing["longest_seconds"], "a wait was cut short"
    assert timing["wall_seconds"] < timing["sum_seconds"], f"the waits ran one after another: {timing}"


@pytest.mark.slow
def test_pages_only_config_requests_no_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``provision = "pool"`` and ``clock = "real"``: set-up by mail through the pages, and the
    server's access log shows page requests and not one ``/api/`` request from the harness."""
    server = harness_server(tmp_path / "server").start()
    try:
        login_id, password = "pool0001", "pool-password-0123456789"
        add_accounts(server, [login_id], password)
        for name in ENVIRONMENT:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NINSHO_TEST_PASSWORD", password)
        config_file = portal_toml(
            tmp_path / "portal.toml", server, "html", provision="pool", clock="real", pool=[login_id]
        )
        config = load(config_file, environ={})
        assert (config.provision, config.clock, config.driver) == ("pool", "real", "html")
        before = len(server.log())
        connection = connect(config, load_profile(config.profile))
        try:
            target = connection.target()
            assert target.clock.kind == "real"
            account: Account = target.account()
            browser = target.browser()
            login = browser.login(account)
            assert (login.ok, login.stage) == (True, "setup"), login
            since = target.clock.now()
            assert account.address is not None
            sent = browser.register_email(account.address)
            assert sent.ok and sent.data.get("address") == account.address, sent
            mail = target.mail(account.address, target.profile.mail_subject_otp, since)
            confirmed = browser.confirm_email(mail.code(target.profile.email_otp_digits) or "")
            assert (confirmed.ok, confirmed.stage, confirmed.data.get("address")) == (
                True,
                "authenticated",
                account.address,
            ), confirmed
            assert browser.logout().ok
        finally:
            connection.close()
        requests = [line for line in server.log()[before:].splitlines() if "HTTP/1.1" in line]
        assert any('"POST /settings/email/confirm ' in line for line in requests), requests
        assert not [line for line in requests if "/api/" in line]
    finally:
        server.stop()


# --- the HTML driver on pages it has never seen: one language, other wording, broken QR codes ---
# A small fake portal (httpx.MockTransport, no server): fast, so not marked slow.
RIGHT_PASSWORD, RIGHT_CODE = "right-password", "12345678"
TOTP_URI = "otpauth://totp/Fake:a0001?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Fake&digits=6"
OTHER_KEY = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


@dataclass
class FakePortal:
    """Renders the screens in Japanese, English or both; ``otp_label`` renames the code field;
    ``qr`` is the App tab's image (a data URI) and ``manual_key`` the key under it."""

    lang: str = "both"
    otp_label: tuple[str, str] = ("ワンタイムパスワード", "One-Time Password")
    qr: str = ""
    manual_key: str = ""
    settings_status: int = 200
    forms: list[dict[str, str]] | None = None

    def t(self, ja: str, en: str) -> str:
        return {"ja": ja, "en": en}.get(self.lang, f"{ja}<br>{en}")

    def page(self, heading: tuple[str, str], body: str, *, error: tuple[str, str] | None = None) -> str:
        shown = f'<div role="alert"><p>{self.t(*error)}</p></div>' if error else ""
        return f"<!DOCTYPE html><html><body><h1>{self.t(*heading)}</h1>{shown}{body}</body></html>"

    def login(self, *, error: tuple[str, str] | None = None, notice: str = "") -> str:
        form = (
            '<form method="post" action="/login"><input type="hidden" name="csrf_token" value="tok">'
            '<label for="u">ECS-ID/SPS-ID</label><input id="u" name="login_id">'
            f'<label for="p">{self.t("パスワード", "Password")}</label>'
            '<input id="p" type="password" name="password">'
            f'<button type="submit">{self.t("ログイン", "Login")}</button></form>'
        )
        return self.page(("ログイン", "Login"), notice + form, error=error)

    def mfa_email(self, error: tuple[str, str] | None = None) -> str:
        form = (
            '<form method="post" action="/mfa/email"><input type="hidden" name="csrf_token" value="tok">'
            f'<label for="c">{self.t(*self.otp_label)}</label><input id="c" name="code">'
            '<label><input type="checkbox" name="trust" value="yes"> '
            f"{self.t('このブラウザを信頼する', 'Trust this browser')}</label>"
            f'<button type="submit">{self.t("ログイン", "Login")}</button></form>'
            '<a href="/mfa/app">'
            + self.t(
                "「多要素認証 : アプリ」 ログインはこちら",
                'Click Here for "Multi-Factor Authentication : App" Login',
            )
            + "</a>"
        )
        return self.page(("多要素認証 : メール", "Multi-Factor Authentication : Email"), form, error=error)

    def settings(self, tab: str) -> str:
        body = f'<a href="/settings/app">{self.t("アプリ", "App")}</a>'
        if tab == "app":
            body += f'<img src="{self.qr}" alt="QR">' if self.qr else ""
            key = f"<p>{self.manual_key}</p>" if self.manual_key else ""
            summary = self.t("QRコードを読み込めない場合", "If you cannot scan the QR code")
            body += f"<details><summary>{summary}</summary>{key}</details>"
            body += (
                '<form method="post" action="/settings/app/register"><label for="c">'
                f'{self.t(*self.otp_label)}</label><input id="c" name="code">'
                f'<button type="submit">{self.t("登録", "Register")}</button></form>'
            )
        return self.page(("ワンタイムパスワードの設定", "One-Time Password Settings"), body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        signed_in = "sid=1" in request.headers.get("cookie", "")
        form = dict(httpx.QueryParams(request.content.decode())) if request.method == "POST" else {}
        if self.forms is not None and form:
            self.forms.append(form)
        wrong_login = (
            "ECS-ID/SPS-ID またはパスワードが正しくありません。",
            "The ECS-ID/SPS-ID or password is incorrect.",
        )
        wrong_code = (
            "ワンタイムパスワードが正しくありません。確認して再度入力してください。",
            "The one-time password is not valid. Please check it and try again.",
        )
        ended = ("セッションの有効期限が切れました。", "Your session has ended. Please log in again.")
        route = (request.method, request.url.path)
        if route == ("GET", "/login"):
            notice = (
                f'<div role="status"><p>{self.t(*ended)}</p></div>' if request.url.params.get("ended") else ""
            )
            return html_response(200, self.login(notice=notice))
        if route == ("POST", "/login"):
            if form.get("csrf_token") != "tok" or form.get("password") != RIGHT_PASSWORD:
                return html_response(401, self.login(error=wrong_login))
            return httpx.Response(303, headers={"location": "/mfa/email", "set-cookie": "sid=1; Path=/"})
        if not signed_in:
            return httpx.Response(303, headers={"location": "/login?ended=1"})
        if route == ("GET", "/mfa/email"):
            return html_response(200, self.mfa_email())
        if route == ("POST", "/mfa/email"):
            if form.get("code") != RIGHT_CODE:
                return html_response(200, self.mfa_email(wrong_code))  # a refusal said only in words
            return httpx.Response(303, headers={"location": "/settings"})
        if route == ("GET", "/settings"):
            if self.settings_status != 200:
                return httpx.Response(
                    self.settings_status, text="Not here", headers={"content-type": "text/plain"}
                )
            return html_response(200, self.settings("mail"))
        if route == ("GET", "/settings/app"):
            return html_response(200, self.settings("app"))
        return httpx.Response(404, text="not found")


def html_response(status: int, body: str) -> httpx.Response:
    return httpx.Response(status, text=body, headers={"content-type": "text/html; charset=utf-8"})


def fake_driver(portal: FakePortal, selectors: Mapping[str, str] = SELECTORS) -> HtmlDriver:
    def new_client() -> httpx.Client:
        return httpx.Client(
            base_url="http://portal.test/", transport=httpx.MockTransport(portal), follow_redirects=True
        )

    return HtmlDriver(new_client, selectors)


def qr_data_uri(text: str) -> str:
    return str(segno.make(text, error="m").png_data_uri(scale=6, border=2))


@pytest.mark.parametrize("lang", ["ja", "en", "both"])
def test_html_driver_reads_either_language(lang: str) -> None:
    """Labels, buttons, headings and messages matched by either half: a one-language portal works."""
    portal = FakePortal(lang=lang, forms=[])
    driver = fake_driver(portal)
    wrong = driver.login(Account("a0001", "wrong"))
    assert (wrong.ok, wrong.error, wrong.data["status"]) == (False, "authentication_failed", 401)
    login = driver.login(Account("a0001", RIGHT_PASSWORD))
    assert (login.ok, login.stage, login.data["methods"]) == (True, "first_factor", ["email", "app"])
    refused = driver.submit_email_code("00000000")
    assert (refused.ok, refused.error, refused.data) == (
        False,
        "code_rejected",
        {"field": "code", "status": 200},
    )
    said = {"ja": bool(refused.message_ja), "en": bool(refused.message_en)}
    assert said == {"ja": lang != "en", "en": lang != "ja"}, refused
    assert "ワンタイムパスワードが正しくありません" in refused.message_ja or lang == "en"
    passed = driver.submit_email_code(RIGHT_CODE, trust_browser=True)
    assert (passed.ok, passed.stage) == (True, "authenticated")
    assert portal.forms is not None and portal.forms[-1] == {
        "csrf_token": "tok",
        "code": RIGHT_CODE,
        "trust": "yes",
    }
    other = driver.fresh().submit_email_code(RIGHT_CODE)  # a new browser: no cookie, signed out
    assert (other.ok, other.error) == (False, "session_expired")


def test_html_selectors_come_from_the_config() -> None:
    """A portal with other wording needs a config line, not a fork; a misspelt name is refused."""
    portal = FakePortal(lang="en", otp_label=("確認用コード", "Verification code"))
    driver = fake_driver(portal)
    assert driver.login(Account("a0001", RIGHT_PASSWORD)).ok
    with pytest.raises(DriverError, match="not on this screen"):
        driver.submit_email_code(RIGHT_CODE)
    config = PortalConfig(html_selectors={"field_otp": "確認用コード / Verification code"})
    driver = fake_driver(portal, selectors_for(config))
    assert driver.login(Account("a0001", RIGHT_PASSWORD)).ok
    assert driver.submit_email_code(RIGHT_CODE).ok
    with pytest.raises(ConfigError, match="field_otpp"):
        selectors_for(PortalConfig(html_selectors={"field_otpp": "Code"}))


def _app_tab(portal: FakePortal) -> Provisioning:
    driver = fake_driver(portal)
    assert driver.login(Account("a0001", RIGHT_PASSWORD)).ok
    assert driver.submit_email_code(RIGHT_CODE).ok
    return driver.start_app_registration()


def test_qr_code_and_manual_key_are_both_read() -> None:
    """The URI comes from the decoded QR image; the key from under "QRコードを読み込めない場合"."""
    secret = str(pyotp.parse_uri(TOTP_URI).secret)
    shown = _app_tab(FakePortal(qr=qr_data_uri(TOTP_URI), manual_key=secret))
    assert shown == Provisioning(TOTP_URI, secret)
    # They disagree: both are returned as shown, so the check compares them and FAILs the portal.
    shown = _app_tab(FakePortal(qr=qr_data_uri(TOTP_URI), manual_key=OTHER_KEY))
    assert shown == Provisioning(TOTP_URI, OTHER_KEY)
    # An unreadable QR code gives no URI (never one made up from the key); neither is an ERROR.
    garbage = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    assert _app_tab(FakePortal(qr=garbage, manual_key=secret)) == Provisioning("", secret)
    with pytest.raises(DriverError, match="neither a readable QR code nor a manual key"):
        _app_tab(FakePortal(qr=garbage))


def test_status_codes() -> None:
    """A 4xx is the portal's refusal, even without a page; a 5xx is an infrastructure error."""
    driver = fake_driver(FakePortal(settings_status=404))
    assert driver.login(Account("a0001", RIGHT_PASSWORD)).ok
    refused = driver.settings()
    assert (refused.ok, refused.error, refused.data["status"]) == (False, "refused", 404)
    driver = fake_driver(FakePortal(settings_status=503))
    assert driver.login(Account("a0001", RIGHT_PASSWORD)).ok
    with pytest.raises(DriverError, match="503"):
        driver.settings()
