"""The html driver as a browser: what it can send, where it goes after a refusal, how it reads.

- A field sends what a browser sends for what is typed (HTML's value sanitization): a line
  break cannot be typed into an ``<input type=text>``, so a case that needs one cannot reach
  the portal from its page (NOT_APPLICABLE, saying what a browser would send); a TAB can.
- Refused the settings before the second factor, the driver goes back to the screen it came
  from, as a person does, and carries on from there.
- A code shown beside a message (``(SECOND_FACTOR_REQUIRED)``) is not its wording.
- The reset screen showing the placeholder for no address says that no code was mailed.
- The draft ``ninsho discover`` writes loads as the site map it describes.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest

from ninsho.conformance.drivers.embedded import pages_client
from ninsho.conformance.drivers.html import HtmlDriver, load_site_map, parse_page
from ninsho.conformance.drivers.html.draft import Draft
from ninsho.conformance.drivers.html.page import Control
from ninsho.conformance.drivers.html.sitemap import without_codes
from ninsho.conformance.drivers.html.values import submitted, unsendable
from ninsho.conformance.interfaces import Account, NotSupported
from ninsho.reference.clocks import VirtualClock
from ninsho.reference.embedded import embedded_portal
from ninsho.spec.registry import load_profile
from tests.harness.test_html_navigation import ACCOUNT, CODE, Outsider, driver_for

PLACEHOLDER = "id*****@mail2.adm.kyoto-u.ac.jp"


def control(html: str) -> Control:
    page = parse_page("http://portal.test/", 200, f"<form>{html}</form>".encode(), "text/html; charset=utf-8")
    return page.controls[0]


@pytest.mark.parametrize(
    ("html", "typed", "sent"),
    [
        ("<input name=a>", "taro@gmail.com\r\n", "taro@gmail.com"),
        ("<input name=a>", "\ttaro@kyoto-u.ac.jp\t", "\ttaro@kyoto-u.ac.jp\t"),
        ("<input type=password name=a>", "pass\nword", "password"),
        ("<input type=email name=a>", " \ttaro@example.test\n", "taro@example.test"),
        ("<input type=url name=a>", "\x01http://x.test/ ", "http://x.test/"),
        ("<input type=number name=a>", "12a", ""),
        ("<input type=number name=a>", "123456", "123456"),
        ("<textarea name=a></textarea>", "a\nb", "a\r\nb"),
        ("<input type=weird name=a>", "a\rb", "ab"),
    ],
)
def test_a_field_sends_what_a_browser_sends(html: str, typed: str, sent: str) -> None:
    found = control(html)
    assert submitted(found, typed) == sent
    assert (unsendable(found, typed) is None) == (sent == typed)


def test_a_line_break_cannot_be_typed_into_a_text_field() -> None:
    portal = Outsider()
    driver = driver_for(portal)
    assert driver.login(ACCOUNT).ok and driver.submit_email_code(CODE).ok
    posted = len(portal.posted)
    with pytest.raises(NotSupported) as raised:
        driver.register_email("taro@gmail.com\r\n")
    reason = str(raised.value)
    assert "strips line breaks" in reason and "'taro@gmail.com'" in reason and "value sanitization" in reason
    assert len(portal.posted) == posted, "nothing is sent under the case's name"
    driver.register_email("\ttaro@example.test\t")  # a TAB is sent as typed
    assert portal.posted[-1]["mail"] == "\ttaro@example.test\t"


class Gated(Outsider):
    """The outsider's portal with the settings closed until the second factor is passed."""

    passed = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/mfa" and CODE in request.content.decode():
            self.passed = True
        if request.url.path == "/settings" and not self.passed:
            return self.page(
                "<h2>エラー / Error</h2><p role=alert>現在の認証状態ではこの画面を利用できません。 / This page is"
                " not available at this step of authentication. (SECOND_FACTOR_REQUIRED)</p>",
                status=403,
            )
        return super().__call__(request)


def test_refused_the_settings_the_driver_goes_back_and_carries_on() -> None:
    portal = Gated()

    def new_client() -> httpx.Client:
        return httpx.Client(base_url="http://outsider.test/", transport=httpx.MockTransport(portal))

    site = load_site_map(document={"screens": {"settings": {"path": "settings"}}})
    driver = HtmlDriver(new_client, site)
    assert driver.login(ACCOUNT).stage == "first_factor"
    refused = driver.settings()
    assert (refused.ok, refused.error, refused.data["status"]) == (False, "not_permitted", 403)
    assert refused.evidence[-1].request == "(Back) /mfa", refused.evidence
    assert driver.page is not None and "Multi-Factor Authentication : Email" in driver.page.heading
    passed = driver.submit_email_code(CODE)  # from the screen it went back to
    assert (passed.ok, passed.stage) == (True, "authenticated"), passed


def test_a_code_beside_a_message_is_not_its_wording() -> None:
    site = load_site_map()
    message = (
        "この手続きは現在の状態では実行できません。 / This step cannot be taken. (SECOND_FACTOR_REQUIRED)"
    )
    assert without_codes(message) == "この手続きは現在の状態では実行できません。 / This step cannot be taken."
    assert site.classify(message) is None, "'REQUIRED' of the code is not 'this field is required'"
    blocked = site.classify("This address cannot be registered. [EMAIL_BLOCKED_DOMAIN]")
    assert blocked is not None and blocked.error == "blocked_address"


@pytest.mark.parametrize(("shown", "mailed"), [(PLACEHOLDER, False), ("ta*****@example.test", True)])
def test_the_reset_screen_says_whether_a_code_was_mailed(shown: str, mailed: bool) -> None:
    page = parse_page(
        "http://portal.test/reset",
        200,
        f"<p>ログインID: / Login ID: taro</p><p>メール認証用アドレス / Address for email-authentication: {shown}</p>".encode(),
        "text/html; charset=utf-8",
    )
    driver = HtmlDriver(httpx.Client, load_site_map(), no_address=PLACEHOLDER)
    assert driver._reset_data(page) == {"login_id": "taro", "shown_address": shown, "mailed": mailed}


def test_the_draft_loads_as_the_site_map_it_describes() -> None:
    draft = Draft()
    draft.set(
        "screens.settings.path", "cgi-bin/auth.cgi?screen=settings&tab=mail", "seen on «設定»\n(two lines)"
    )
    draft.set("address.settings_label", "現在の登録アドレス / Current address", 'a "quoted" note')
    draft.add("refusals.not_permitted", "この手続きは実行できません。 / Not now.", "first")
    draft.add("refusals.not_permitted", "だめです / No \\ way", "second")
    draft.miss("fields.trust_browser", "no checkbox (or set capabilities.trust_browser = false)")
    text = draft.toml("A header\n\nof two paragraphs")
    assert tomllib.loads(text) == draft.document()
    assert "# fields.trust_browser: no checkbox" in text and "# first; second" in text
    site = draft.site()
    assert site.screens["settings"].path == "cgi-bin/auth.cgi?screen=settings&tab=mail"
    refusal = site.classify("この手続きは実行できません。")
    assert refusal is not None and refusal.error == "not_permitted"
    assert "address.settings_label" in site.declared


def test_a_name_seen_on_two_screens_is_kept_as_alternatives() -> None:
    """allauth's code field is "Code:" on the Mail tab and "Authenticator code:" on the App tab:
    the second name must not replace the first, or the walk's own map loses the Mail tab."""
    draft = Draft()
    draft.also("fields.otp", "Code:", "the Mail tab")
    draft.also("fields.otp", "Code:", "the Mail tab again")
    assert draft.document()["fields"]["otp"] == "Code:"
    draft.also("fields.otp", "Authenticator code:", "the App tab")
    draft.also("fields.otp", "Code:", "the second factor")
    assert draft.document()["fields"]["otp"] == ["Code:", "Authenticator code:"]
    otp = draft.site()["fields.otp"]
    assert otp("Code:") and otp("Authenticator code:")


def test_discover_is_a_ninsho_command_and_check_takes_its_map(capsys: pytest.CaptureFixture[str]) -> None:
    from ninsho import cli
    from ninsho.conformance import cli as check_cli

    with pytest.raises(SystemExit) as raised:
        cli.main(["discover", "--help"])
    assert raised.value.code == 0
    assert "usage: ninsho discover" in capsys.readouterr().out
    assert "--site-map FILE" in check_cli.parser().format_help()
    args = check_cli.parser().parse_args(["portal.toml", "--site-map", "site.toml"])
    assert f"--ninsho-site-map={Path('site.toml').resolve()}" in check_cli.pytest_args(args, [])


def test_check_refuses_a_site_map_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ninsho.conformance import cli as check_cli

    portal = tmp_path / "portal.toml"
    portal.write_text('[portal]\nbase_url = "http://portal.test/"\ndriver = "html"\n', encoding="utf-8")
    with pytest.raises(SystemExit) as raised:
        check_cli.main([str(portal), "--site-map", str(tmp_path / "missing.toml")])
    assert raised.value.code == 2
    assert f"the site map '{tmp_path / 'missing.toml'}' does not exist" in capsys.readouterr().err


def test_after_logout_the_login_screen_shown_is_typed_into_until_time_passes() -> None:
    """A person logged out looks at the login screen and types into it: no new request for it.
    Once the harness has let time pass on the portal, the screen is opened again (a form held
    through a wait may be refused for its age, which says nothing of the login)."""
    embedded = embedded_portal(load_profile("iimc"), clock=VirtualClock(1_700_000_000.0), seed=3)
    embedded.portal.add_user("taro", "pw-taro-1")
    account = Account("taro", "pw-taro-1")
    sent: list[str] = []
    pages = pages_client(embedded)

    def new_client() -> httpx.Client:
        client = pages()
        client.event_hooks["request"].append(
            lambda request: sent.append(f"{request.method} {request.url.path}")
        )
        return client

    moves = [0]
    driver = HtmlDriver(new_client, load_site_map(None), clock_moves=lambda: moves[0])
    assert driver.login(account).ok and driver.logout().ok
    sent.clear()
    assert driver.login(account).ok
    assert sent[0].startswith("POST"), sent  # typed into the screen Logout showed
    assert driver.logout().ok
    wrong = driver.login(Account("taro", "not-the-password"))  # the refusal is read all the same
    assert (wrong.ok, wrong.error) == (False, "authentication_failed"), wrong
    again = driver.login(Account("taro", "not-the-password"))  # not after a Logout: opened again
    assert (again.ok, again.error) == (False, "authentication_failed"), again
    assert driver.login(account).ok and driver.logout().ok
    moves[0] += 1  # time let pass: the screen shown before is opened again
    sent.clear()
    assert driver.login(account).ok
    assert sent[0].startswith("GET"), sent
