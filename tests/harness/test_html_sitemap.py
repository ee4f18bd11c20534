"""The html driver's site map: one TOML file of everything the driver assumes about the pages.

The defaults are the manuals' wording; a portal's file overrides any key; every key is
documented; a bad key is a ConfigError naming it; the refusal classes cover the reference's
messages and an outsider's, and a portal extends them without a fork.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ninsho.conformance.config import ConfigError, PortalConfig, load
from ninsho.conformance.drivers.html import SELECTORS, selectors_for, site_map_for
from ninsho.conformance.drivers.html.sitemap import ERRORS, LEGACY, default_document, legacy_selectors
from ninsho.conformance.drivers.html.sitemap import load as load_site_map

DOCS = Path(__file__).resolve().parents[2] / "docs" / "html-driver.md"


def _keys(table: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and not set(value) <= {"regex", "text", "field"}:
            found += _keys(value, dotted + ".")
        else:
            found.append(dotted)
    return found


def test_every_key_of_the_defaults_is_documented() -> None:
    documented = DOCS.read_text("utf-8")
    for key in _keys(default_document()):
        section, _, name = key.rpartition(".")
        if section.startswith("screens."):
            assert f"`{name}`" in documented, key  # a screen's keys are documented once for all
        elif section == "refusals":
            assert f"`{name}`" in documented, key
        else:
            assert f"`{key}`" in documented or f"`{name}`" in documented, key


def test_the_defaults_are_the_manuals_wording() -> None:
    site = load_site_map()
    assert site.source == "default" and site.start == "" and site.charset is None
    assert site["fields.otp"]("ワンタイムパスワード<br>One-Time Password".replace("<br>", "\n"))
    assert site["fields.otp"]("One-Time Password:")
    assert site["menu.settings"]("ワンタイムパスワードの設定 / One-Time Password Settings")
    assert site["buttons.send_otp"]("Send One Time Password")
    assert site.screens["home"].heading("多要素認証システム\nMulti-Factor Authentication System")
    assert not site.screens["settings"].setup_text  # no manual shows a set-up notice
    assert site.capabilities == {
        "email_login": True,
        "app_registration": True,
        "trust_browser": True,
        "reset": True,
        "reset_code_reentry": False,
    }


@pytest.mark.parametrize(
    ("message", "error", "field"),
    [
        ("ワンタイムパスワードが正しくありません。確認して再度入力してください。", "code_rejected", "code"),
        ("The one-time password is not valid. Please check it and try again.", "code_rejected", "code"),
        (
            "ワンタイムパスワードが正しくないか、有効期限が切れています。",
            "code_rejected",
            "code",
        ),  # an outsider's
        ("The confirmation code is wrong or has expired.", "code_rejected", "code"),
        ("ECS-ID/SPS-ID またはパスワードが正しくありません。", "authentication_failed", None),
        ("The ECS-ID/SPS-ID or password is incorrect.", "authentication_failed", None),
        ("8桁の数字を入力してください。", "invalid_input", "code"),
        ("Enter the 6-digit code.", "invalid_input", "code"),
        ("パスワードは1〜1024文字で入力してください。", "invalid_input", "password"),
        ("Enter a valid ECS-ID/SPS-ID (letters, digits; at most 64).", "invalid_input", "login_id"),
        ("kyoto-u.ac.jp のアドレスは登録できません。", "blocked_address", "address"),
        ("Addresses at kyoto-u.ac.jp cannot be registered.", "blocked_address", "address"),
        ("アドレスが正しくありません: ドメインが正しくありません", "invalid_address", "address"),
        ("The address is not valid: the domain is not a valid host name", "invalid_address", "address"),
        ("認証の失敗が続いたため、ロックされています。15分後に再度お試しください。", "account_locked", None),
        ("Too many failed attempts. Try again in 15 minutes.", "account_locked", None),
        ("セッションの有効期限が切れました。再度ログインしてください。", "session_expired", None),
        ("Your session has ended. Please log in again.", "session_expired", None),
        ("ログインの有効期限切れです。最初からやり直してください。", "session_expired", None),
        ("有効なメールアドレスを入力してください。", "invalid_address", "address"),
        ("入力内容に誤りがあります（メール認証用アドレス）。", "invalid_address", "address"),
        ("この操作は現在の状態では行えません。再度ログインしてください。", "not_permitted", None),
        ("No address for email-authentication is registered.", "nothing_pending", None),
        ("先にQRコードを読み込んでください。", "nothing_pending", None),
        (
            "フォームの有効期限が切れているか、このサイトから送信されたものではありません。",
            "csrf_rejected",
            "csrf_token",
        ),
    ],
)
def test_default_refusal_classes(message: str, error: str, field: str | None) -> None:
    found = load_site_map().classify(message)
    assert found is not None, message
    assert (found.error, found.field) == (error, field)


def test_a_message_of_no_class_is_not_guessed() -> None:
    assert (
        load_site_map().classify("メールアドレスを登録しました。 / The address has been registered.") is None
    )


def test_a_portal_file_overrides_and_extends(tmp_path: Path) -> None:
    site_file = tmp_path / "site.toml"
    site_file.write_text(
        '[site]\nstart = "user/"\ncharset = "Shift_JIS"\n'
        "[capabilities]\napp_registration = false\n"
        '[screens.home]\nheading = "トップ / Top"\n'
        '[screens.done]\nstage = "signed_in"\ntext = { regex = "^設定が完了しました" }\n'
        '[fields]\notp = ["認証コード / Code", { regex = "^OTP$" }]\n'
        '[address]\ndisplay = "masked"\nsettings_label = "登録アドレス"\n'
        '[refusals]\ncode_rejected = "認証コードが違います"\n'
        'invalid_input = [{ text = "Code must be digits", field = "code" }]\n',
        encoding="utf-8",
    )
    site = load_site_map(site_file)
    assert (site.start, site.charset, site.capabilities["app_registration"]) == ("user/", "Shift_JIS", False)
    assert site.screens["home"].heading("Top") and not site.screens["home"].heading("多要素認証システム")
    assert site.screens["mfa_app"].heading("多要素認証 : アプリ")  # untouched keys keep their defaults
    assert site.screens["done"].stage == "signed_in"
    assert (
        site["fields.otp"]("OTP")
        and site["fields.otp"]("認証コード")
        and not site["fields.otp"]("One-Time Password")
    )
    assert site.address.display == "masked" and site.address.settings_label("登録アドレス")
    first = site.refusals[0]
    assert (first.error, first.wording.texts) == (
        "code_rejected",
        ("認証コードが違います",),
    )  # the portal's first
    assert site.classify("Code must be digits, please") == site.refusals[1]
    assert site.classify("Too many failed attempts.") is not None  # the defaults still follow


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[fields]\notpp = 'x'\n", "fields.otpp"),
        ("[screen.login]\nheading = 'x'\n", "screen"),
        ("[screens.login]\nstage = 'lost'\n", "screens.login.stage"),
        ("[screens.extra]\nstage = 'signed_in'\n", "screens.extra"),
        ("[fields]\notp = { regex = '(' }\n", "fields.otp"),
        ("[fields]\notp = 3\n", "fields.otp"),
        ("[boxes]\nerror = '[[['\n", "boxes.error"),
        ("[capabilities]\nreset = 'yes'\n", "capabilities.reset"),
        ("[address]\nmask = '^(.*)$'\n", "address.mask"),
        ("[address]\nsent_notice = 'no placeholder'\n", "address.sent_notice"),
        ("[refusals]\ncode_refused = 'x'\n", "refusals.code_refused"),
        ("[site]\ncharset = 'klingon'\n", "site.charset"),
    ],
)
def test_a_bad_site_map_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    site_file = tmp_path / "site.toml"
    site_file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(key)) as raised:
        load_site_map(site_file)
    assert raised.value.key == "html.site_map"


def test_an_unreadable_site_map_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_site_map(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[fields\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_site_map(broken)


def test_the_config_names_the_site_map_next_to_itself(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text('[fields]\notp = "Code"\n', encoding="utf-8")
    portal = tmp_path / "portal.toml"
    portal.write_text(
        '[portal]\nbase_url = "http://portal.test/"\ndriver = "html"\n[html]\nsite_map = "site.toml"\n',
        encoding="utf-8",
    )
    config = load(portal, environ={})
    assert config.html_site_map == str(tmp_path / "site.toml")
    assert site_map_for(config)["fields.otp"]("Code")


def test_the_command_line_names_the_site_map_over_the_config(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ninsho-site-map`` (which ``ninsho check --site-map`` passes) replaces ``[html] site_map``."""
    (pytester.path / "site.toml").write_text('[fields]\notp = "Code"\n', encoding="utf-8")
    given = pytester.path / "given.toml"
    given.write_text('[fields]\notp = "Passcode"\n', encoding="utf-8")
    portal = pytester.path / "portal.toml"
    portal.write_text(
        '[portal]\nbase_url = "http://portal.test/"\ndriver = "html"\n[html]\nsite_map = "site.toml"\n'
        '[accounts]\nprovision = "pool"\npool = ["a0001"]\npassword_env = "NINSHO_SITE_MAP_TEST_PASSWORD"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("NINSHO_SITE_MAP_TEST_PASSWORD", "pool-password")
    from ninsho.conformance.hooks import CONFIG_KEY

    for argv, named, other in (
        ((), "Code", "Passcode"),
        ((f"--ninsho-site-map={given}",), "Passcode", "Code"),
    ):
        config = pytester.parseconfigure("--ninsho-portal", str(portal), *argv)
        site = site_map_for(config.stash[CONFIG_KEY])
        assert site["fields.otp"](named) and not site["fields.otp"](other), argv


def test_the_old_selectors_still_work() -> None:
    site = selectors_for(
        PortalConfig(html_selectors={"field_otp": "確認用コード / Verification code", "page_login": "/in"})
    )
    assert site["fields.otp"]("Verification code") and not site["fields.otp"]("One-Time Password")
    assert site.screens["login"].path == "/in"
    assert site.screens["settings"].heading("One Time Password Settings")  # the defaults' variants stay
    with pytest.raises(ConfigError, match="field_otpp"):
        selectors_for(PortalConfig(html_selectors={"field_otpp": "Code"}))
    assert set(SELECTORS) == set(LEGACY) and legacy_selectors() == SELECTORS
    assert SELECTORS["page_settings"] == "/settings"  # the paths earlier versions typed


def test_the_error_names_are_those_the_checks_compare() -> None:
    checks = Path(__file__).resolve().parents[2] / "conformance"
    compared = set()
    for source in checks.rglob("*.py"):
        if "drivers" in source.parts:
            continue
        text = source.read_text("utf-8")
        compared |= set(re.findall(r"error [!=]= \"(\w+)\"", text))
        compared |= set(re.findall(r"\"(\w+_\w+)\"", " ".join(re.findall(r"CODE_REFUSALS = \(.*?\)", text))))
        compared |= set(re.findall(r": \"(\w+_address)\"", text))
    assert compared and compared <= set(ERRORS), compared - set(ERRORS)
