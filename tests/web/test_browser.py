"""The pages in a real headless Chromium: both languages rendered, and the initial email set-up
clicked through by label as a person would (email-change.en.txt ①–⑩)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import zxingcpp
from PIL import Image

from ninsho.spec.profile import Profile
from tests.chromium import CHROMIUM, chromium, flags, needs_chromium

from .support import ApiClient, OpenApi, ServerProcess, SmtpSink

pytestmark = [pytest.mark.slow, needs_chromium]


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Screenshots go to a temp folder, removed afterwards; set NINSHO_SCREENSHOTS_DIR to keep them."""
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    keep = os.environ.get("NINSHO_SCREENSHOTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in folder.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)
    shutil.rmtree(folder, ignore_errors=True)


def test_login_page_renders_both_languages(server: ServerProcess, shots: Path) -> None:
    dom = chromium(shots / "profile-dom", "--dump-dom", server.url + "/login")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for label in (
        "京都大学統合認証システム",
        "ログイン / Login",
        "パスワード / Password",
        "ECS-ID/SPS-IDを記憶する / Remember ECS-ID/SPS-ID",
        "パスワードをお忘れの方はこちら / Forgot your password?",
        "お困りの方はこちら / Need Help?",
    ):
        assert label in dom.stdout, label
    png = shots / "login.png"
    shot = chromium(shots / "profile-shot", f"--screenshot={png}", server.url + "/login")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_initial_email_setup_clicked_through(
    server: ServerProcess,
    smtp_sink: SmtpSink,
    openapi: OpenApi,
    profile: Profile,
    shots: Path,
    request: pytest.FixtureRequest,
) -> None:
    from playwright.sync_api import sync_playwright

    api = ApiClient(server.url, openapi)
    request.addfinalizer(api.close)
    api.ok("POST", "/admin/users", {"login_id": "gina", "password": "correct horse"}, admin=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=flags()[1:]
        )  # Playwright adds its own headless mode
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(server.url + "/login")
            page.get_by_label("ECS-ID/SPS-ID", exact=True).fill("gina")
            page.get_by_label("パスワード / Password", exact=True).fill("correct horse")
            page.get_by_role("button", name="ログイン / Login").click()
            page.wait_for_url("**/settings")

            page.get_by_label("メール認証用アドレス / Address for email-authentication").fill(
                "gina@example.org"
            )
            page.get_by_role("button", name="ワンタイムパスワードを送信 / Send One-Time Password").click()
            page.get_by_text("An email message has been sent to gina@example.org.").wait_for()
            page.screenshot(path=str(shots / "settings-sent.png"), full_page=True)

            mail = smtp_sink.wait_for("gina@example.org", count=1)
            assert mail.subject == profile.mail_subject_otp
            page.get_by_label("ワンタイムパスワード / One-Time Password", exact=True).fill(
                mail.code(profile.email_otp_digits)
            )
            page.get_by_role("button", name="確認 / Confirm").click()
            page.get_by_text("メール認証用アドレスを登録しました。").wait_for()

            # The App tab (app-reset.en.txt ⑨–⑪): scan the QR code off the screen as a phone would.
            page.get_by_role("link", name="アプリ", exact=True).click()
            page.wait_for_url("**/settings/app")
            page.screenshot(path=str(shots / "settings-app.png"), full_page=True)
            scanned = zxingcpp.read_barcodes(Image.open(shots / "settings-app.png"))
            assert len(scanned) == 1
            totp = pyotp.parse_uri(scanned[0].text)
            assert isinstance(totp, pyotp.TOTP)
            assert page.locator("#manual-key").inner_text() == totp.secret
            page.get_by_label("ワンタイムパスワード / One-Time Password", exact=True).fill(
                totp.at(api.now())
            )  # the portal's time
            page.get_by_role("button", name="登録 / Register").click()
            page.get_by_text("ワンタイムパスワードアプリケーションを登録しました。").wait_for()

            page.get_by_label("menu").click()  # ☰ (email-change ⑧)
            page.get_by_role("button", name="ログアウト / Logout").click()  # ⑨
            page.wait_for_url("**/login")
            assert page.get_by_text("ログアウトしました。").is_visible()

            cookies = {c["name"]: c for c in page.context.cookies()}
            assert cookies["ninsho_session"]["httpOnly"] and cookies["ninsho_session"]["sameSite"] == "Lax"
        finally:
            browser.close()
    assert (shots / "settings-sent.png").stat().st_size > 10_000
