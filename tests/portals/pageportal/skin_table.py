"""Skin "table": UTF-8, path-style URLs, labels in <th> cells, a ☰ menu, masked address, and
a Mail tab that shows the field for the new address's code only on the answer to "Send One-Time
Password" (as django-allauth asks for it on a page of its own): a person who looks elsewhere
before typing it goes Back to that page."""

from __future__ import annotations

from typing import ClassVar

from .refusals import Refusal
from .skin import Pairs, Skin, Text

# (method, path, screen, action)
ROUTES: tuple[tuple[str, str, str, str | None], ...] = (
    ("GET", "/mfa/signin", "login", None),
    ("POST", "/mfa/signin", "login", "submit"),
    ("GET", "/mfa/verify/totp", "mfa_app", None),
    ("POST", "/mfa/verify/totp", "mfa_app", "submit"),
    ("GET", "/mfa/verify/mail", "mfa_mail", None),
    ("POST", "/mfa/verify/mail/send", "mfa_mail", "send"),
    ("POST", "/mfa/verify/mail", "mfa_mail", "submit"),
    ("GET", "/mfa/home", "home", None),
    ("GET", "/mfa/settings/mail", "mail", None),
    ("POST", "/mfa/settings/mail/send", "mail", "send"),
    ("POST", "/mfa/settings/mail/confirm", "mail", "confirm"),
    ("GET", "/mfa/settings/app", "app", None),
    ("POST", "/mfa/settings/app", "app", "register"),
    ("GET", "/mfa/setup/signin", "relogin", None),
    ("POST", "/mfa/setup/signin", "relogin", "submit"),
    ("GET", "/mfa/setup/initialize", "init", None),
    ("POST", "/mfa/setup/initialize", "init", "submit"),
    ("GET", "/mfa/setup/reset", "reset", None),
    ("POST", "/mfa/setup/reset/resend", "reset", "resend"),
    ("POST", "/mfa/setup/reset/confirm", "reset", "confirm"),
    ("GET", "/mfa/signout", "logout", None),
)

MESSAGES: dict[str, Text] = {
    "invalid_input": ("入力内容に誤りがあります（{ja_label}）。", "The input is not valid ({en_label})."),
    "bad_encoding": (
        "送信された文字がUTF-8として正しくありません。",
        "The submitted text is not valid UTF-8.",
    ),
    "code_format": ("{n}桁の数字で入力してください。", "Please enter {n} digits."),
    "invalid_address": (
        "メールアドレスの形式が正しくありません。",
        "The email address is not in a valid form.",
    ),
    "bad_credentials": (
        "ECS-ID/SPS-IDまたはパスワードが正しくありません。",
        "The ECS-ID/SPS-ID or password is incorrect.",
    ),
    "code_refused": (
        "ワンタイムパスワードが正しくないか、有効期限が切れています。",
        "The one-time password is incorrect or has expired.",
    ),
    "reset_code_refused": (
        "確認コードが正しくないか、有効期限が切れています。",
        "The confirmation code is incorrect or has expired.",
    ),
    "session_expired": (
        "セッションの有効期限が切れました。もう一度ログインしてください。",
        "Your session has expired. Please log in again.",
    ),
    "stage": (
        "現在の認証状態ではこの画面を利用できません。",
        "This page is not available at this step of authentication.",
    ),
    "csrf": (
        "画面の有効期限が切れたか、不正な送信です。画面を開き直してください。",
        "The page has expired or the submission was not valid. Please open the page again.",
    ),
    "nothing_pending": (
        "確認待ちのコードがありません。先にコードを送信してください。",
        "There is no code waiting for confirmation. Please send one first.",
    ),
    "no_address": (
        "メール認証用アドレスが登録されていません。",
        "No address for email-authentication is registered.",
    ),
    "blocked": (
        "このアドレスは登録できません（学内のアドレスは使用できません）。",
        "This address cannot be registered (university addresses are not accepted).",
    ),
    "locked": (
        "認証の失敗が続いたため、一時的にロックされています。しばらくしてから再度お試しください。",
        "Authentication is temporarily locked after repeated failures. Please try again later.",
    ),
    "throttled": (
        "パスワードの誤りが続いたため、しばらくログインできません。時間をおいて再度お試しください。",
        "Too many wrong passwords: signing in is paused for a while. Please try again later.",
    ),
    "mail_limited": (
        "メールの送信が続いたため、しばらく送信できません。届いたメールのコードをお使いください。",
        "Too many mails were sent to this address. Please use the code already sent, or wait a while.",
    ),
    "mail_failed": (
        "メールを送信できませんでした。しばらくしてから再度お試しください。",
        "The email could not be sent. Please try again later.",
    ),
    "not_found": ("ページが見つかりません。", "Page not found."),
    "method": ("この操作は利用できません。", "This operation is not allowed."),
    "too_large": ("入力が大きすぎます。", "The input is too large."),
    "media_type": ("フォームの形式が正しくありません。", "The form encoding is not supported."),
    "internal": ("システムエラーが発生しました。", "A system error occurred."),
}

NOTICES: dict[str, Text] = {
    "mail_done": (
        "メール認証用アドレスを登録しました。",
        "The address for email-authentication has been registered.",
    ),
    "app_done": ("ワンタイムパスワードアプリを登録しました。", "The authenticator app has been registered."),
    "reset_done": (
        "ワンタイムパスワード設定を初期化しました。設定をやり直してください。",
        "The one-time password settings have been initialized. Please set them up again.",
    ),
    "resent": ("確認コードを再送信しました。", "The confirmation code has been sent again."),
}

LABELS: dict[str, Text] = {
    "login_id": ("ECS-ID/SPS-ID", "ECS-ID/SPS-ID"),
    "password": ("パスワード", "Password"),
    "code": ("ワンタイムパスワード", "One-Time Password"),
    "address": ("メール認証用アドレス", "Address for email-authentication"),
    "remember": ("ECS-ID/SPS-IDを記憶する", "Remember ECS-ID/SPS-ID"),
    "trust": ("このブラウザを信頼する", "Trust this browser"),
}


class TableSkin(Skin):
    """Forms laid out in tables with opaque input names."""

    name = "table"
    cookie_path = "/mfa"
    cookies: ClassVar[dict[str, str]] = {
        "session": "mfa_s",
        "trust": "mfa_t",
        "remember": "mfa_r",
        "browser": "mfa_b",
    }
    csrf_field = "_t"
    script_cookie = "XSRF-TOKEN"
    fields: ClassVar[dict[str, str]] = {
        "login_id": "x1",
        "password": "x2",
        "remember": "x3",
        "code": "x4",
        "trust": "x5",
        "address": "x6",
    }
    messages = MESSAGES
    notices = NOTICES
    labels = LABELS

    def resolve(self, method: str, path: str, query: dict[str, str], pairs: Pairs) -> tuple[str, str | None]:
        """Exact path and method; a known path with another method is 405."""
        known = False
        for m, p, screen, action in ROUTES:
            if p == path:
                known = True
                if m == method:
                    return screen, action
        raise Refusal("method" if known else "not_found")

    def url(self, screen: str, action: str | None = None) -> str:
        """The GET path of a screen, or the POST path of an action."""
        method = "GET" if action is None else "POST"
        for m, p, s, a in ROUTES:
            if m == method and s == screen and a == action:
                return p
        raise KeyError((screen, action))
