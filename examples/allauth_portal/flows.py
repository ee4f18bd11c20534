"""The user actions on allauth's pages, as its own templates lay them out (allauth 65.22.1).

Each action names the page it expects by its address and presses buttons by their text, so a
page that moved or was relabelled fails loudly with what was there instead. These are the
measurements' and the peer test's actions; the harness reaches the same pages through its html
driver and a site map instead.
"""

from __future__ import annotations

import re
import time

import pyotp

from examples.allauth_portal.pages import Browser, Page, svg_qr_text

LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
MFA_INDEX = "/accounts/2fa/"
MFA_AUTHENTICATE = "/accounts/2fa/authenticate/"
MFA_TRUST = "/accounts/2fa/trust/"
TOTP_ACTIVATE = "/accounts/2fa/totp/activate/"
REAUTHENTICATE = "/accounts/reauthenticate/"
RECOVERY_CODES = "/accounts/2fa/recovery-codes/"
LOGIN_CODE = "/accounts/login/code/"
LOGIN_CODE_CONFIRM = "/accounts/login/code/confirm/"
EMAIL = "/accounts/email/"
EMAIL_VERIFY_CODE = "/accounts/confirm-email/"  # the "Enter Email Verification Code" page

# allauth's default login code: 8 of RFC 8628 §6.1's consonants, dashed in the middle
# (allauth/core/internal/cryptokit.py generate_user_code); or, numeric, 8 digits.
LOGIN_CODE_PATTERN = re.compile(r"\b(?:[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}|\d{8})\b")
STEP_SECONDS = 30  # MFA_TOTP_PERIOD's default
EDGE_SECONDS = 3.0  # keep a submission this far from a step's end, so that the step is known


class UnexpectedPage(AssertionError):
    """The portal showed another page than the action expects."""


def expect(page: Page, path: str) -> Page:
    if page.path != path:
        raise UnexpectedPage(
            f"expected {path}, got {page.status} {page.path} ({page.heading!r}; errors {page.errors()}; "
            f"messages {page.messages()})"
        )
    return page


def sign_in(browser: Browser, username: str, password: str) -> Page:
    """The login page's "Sign In" with a username and a password; the page it leads to."""
    page = expect(browser.get(LOGIN), LOGIN)
    return browser.submit(page, "Sign In", {"Username": username, "Password": password})


def sign_out(browser: Browser) -> Page:
    page = browser.get(LOGOUT)
    if page.path != LOGOUT:  # not signed in: the logout page redirects to login
        return page
    return browser.submit(page, "Sign Out")


def is_signed_in(browser: Browser) -> bool:
    """The MFA page opens only for a signed-in session; anyone else is sent to login."""
    return browser.get(MFA_INDEX).path == MFA_INDEX


def activate_totp(browser: Browser, password: str) -> tuple[str, Page]:
    """From a signed-in session: "Activate" an authenticator app (after "Confirm Access" with
    the password, which allauth asks before every MFA change), with a code of the secret the page
    shows. The secret, and the activation page as it was before the code (for its QR code)."""
    page = browser.get(TOTP_ACTIVATE)
    if page.path == REAUTHENTICATE:
        page = browser.submit(page, "Confirm", {"Password": password})
    expect(page, TOTP_ACTIVATE)
    secret = page.input_value("authenticator_secret")
    done = browser.submit(page, "Activate", {"Authenticator code": totp_code(secret)})
    expect(done, RECOVERY_CODES)
    return secret, page


def qr_uri(page: Page) -> str:
    """The otpauth URI in the activation page's QR code (an SVG data URI)."""
    for image in page.images():
        if image.get("src", "").startswith("data:image/svg"):
            texts = svg_qr_text(image["src"])
            if texts:
                return texts[0]
    raise UnexpectedPage(f"{page.path}: no readable QR code")


def wait_away_from_edge() -> None:
    """Until the current TOTP step has more than EDGE_SECONDS left (at most EDGE_SECONDS)."""
    left = STEP_SECONDS - time.time() % STEP_SECONDS
    if left < EDGE_SECONDS:
        time.sleep(left + 0.2)


def totp_code(secret: str, offset: int = 0) -> str:
    """The code of the step ``offset`` steps from now, away from a step's edge."""
    wait_away_from_edge()
    return pyotp.TOTP(secret).at(time.time() + offset * STEP_SECONDS)


def step() -> int:
    return int(time.time() // STEP_SECONDS)


def mfa_page(browser: Browser, username: str, password: str) -> Page:
    """Sign in with the password and stop at the second factor."""
    return expect(sign_in(browser, username, password), MFA_AUTHENTICATE)


def submit_totp(browser: Browser, page: Page, code: str) -> Page:
    """The second factor's "Sign In" with an authenticator code."""
    return browser.submit(expect(page, MFA_AUTHENTICATE), "Sign In", {"Code": code})


def passed_second_factor(page: Page) -> bool:
    """After a TOTP: the trust question (then signed in) or the signed-in MFA page."""
    return page.path in (MFA_TRUST, MFA_INDEX)


def answer_trust(browser: Browser, page: Page, trust: bool) -> Page:
    """ "Trust for 2 weeks" (the button's text follows MFA_TRUST_COOKIE_AGE) or "Don't Trust"."""
    expect(page, MFA_TRUST)
    form = page.forms()[0]
    wanted = next(b for b in form.buttons if b.value == ("trust" if trust else "skip"))
    return browser.submit(page, wanted.text)


def request_login_code(browser: Browser, email: str) -> Page:
    """ "Send me a sign-in code" from the login page, then "Request Code" for ``email``."""
    login = expect(browser.get(LOGIN), LOGIN)
    page = browser.get(login.links()["Send me a sign-in code"])
    return browser.submit(expect(page, LOGIN_CODE), "Request Code", {"Email": email})


def confirm_login_code(browser: Browser, page: Page, code: str) -> Page:
    return browser.submit(expect(page, LOGIN_CODE_CONFIRM), "Confirm", {"Code": code})


def code_in(body: str) -> str:
    found = LOGIN_CODE_PATTERN.search(body)
    if not found:
        raise UnexpectedPage(f"no login code in the mail body {body!r}")
    return found.group(0)
