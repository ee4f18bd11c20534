"""Skin "sjis": Shift_JIS pages and forms, one CGI-style URL with ?screen=..., mixed labelling."""

from __future__ import annotations

from typing import ClassVar

from .refusals import Refusal
from .skin import Pairs, Skin, Text, decode_ncr

CGI = "/cgi-bin/auth.cgi"
# screen -> (query of its GET page, {do value: action} for POSTs named in the query)
SCREENS: dict[str, tuple[str, dict[str, str]]] = {
    "login": ("screen=login", {"auth": "submit"}),
    "mfa_app": ("screen=otp_app", {"auth": "submit"}),
    "mfa_mail": ("screen=otp_mail", {"send": "send", "auth": "submit"}),
    "mail": ("screen=settings&tab=mail", {}),
    "app": ("screen=settings&tab=app", {"regist": "register"}),
    "relogin": ("screen=setup_login", {"auth": "submit"}),
    "init": ("screen=init", {"exec": "submit"}),
    "reset": ("screen=init_confirm", {}),
    "logout": ("screen=logout", {}),
}
HOME = "mail"  # this skin has no top page: after the second factor the settings open

MESSAGES: dict[str, Text] = {
    "invalid_input": ("「{ja_label}」の入力が不正です。", 'The value of "{en_label}" is not valid.'),
    "bad_encoding": (
        "送信データの文字コード（Shift_JIS）が不正です。",
        "The submitted data is not valid Shift_JIS.",
    ),
    "code_format": ("半角数字{n}桁で入力してください。", "Please type the {n}-digit number."),
    "invalid_address": ("有効なメールアドレスを入力してください。", "Please enter a valid email address."),
    "bad_credentials": (
        "認証に失敗しました。IDまたはパスワードをご確認ください。",
        "Authentication failed. Please check your ID and password.",
    ),
    "code_refused": (
        "コードを確認できませんでした。もう一度入力してください。",
        "The code could not be verified. Please enter it again.",
    ),
    "reset_code_refused": (
        "確認コードを確認できませんでした。",
        "The confirmation code could not be verified.",
    ),
    "session_expired": (
        "ログインの有効期限切れです。最初からやり直してください。",
        "Your login has timed out. Please start again from the beginning.",
    ),
    "stage": (
        "この手続きは現在の状態では実行できません。",
        "This step cannot be taken in the current state.",
    ),
    "csrf": (
        "不正なリクエストです。画面を再読み込みしてください。",
        "Invalid request. Please reload the page.",
    ),
    "nothing_pending": ("処理中の手続きがありません。", "Nothing is waiting to be confirmed."),
    "no_address": (
        "登録済みのメールアドレスがないため送信できません。",
        "There is no registered address to send to.",
    ),
    "blocked": (
        "大学ドメインのメールアドレスは登録できません。",
        "An address in a university domain cannot be registered.",
    ),
    "locked": (
        "失敗回数が上限を超えたため、一時的に利用を停止しています。",
        "Use is suspended for a while: too many failed attempts.",
    ),
    "throttled": (
        "パスワードの誤りが続いたため、しばらくログインできません。",
        "Too many wrong password attempts. Please wait before trying again.",
    ),
    "mail_limited": (
        "送信が続いたため、しばらく送信できません。",
        "Too many codes were sent to this address. Please wait.",
    ),
    "mail_failed": ("メールサーバーに接続できませんでした。", "The mail server could not be reached."),
    "not_found": ("指定された画面はありません。", "No such screen."),
    "method": ("この方法ではアクセスできません。", "This kind of request is not accepted here."),
    "too_large": ("送信データが大きすぎます。", "The submitted data is too large."),
    "media_type": ("送信形式が不正です。", "The submission format is not accepted."),
    "internal": ("内部エラーが発生しました。", "An internal error occurred."),
}

NOTICES: dict[str, Text] = {
    "mail_done": ("メールアドレスの設定が完了しました。", "Your email address is now set."),
    "app_done": ("ワンタイムパスワード認証の設定が完了しました。", "One-time password setup is complete."),
    "reset_done": (
        "ワンタイムパスワード認証の設定を初期化しました。",
        "The one-time password settings were reset.",
    ),
    "resent": ("確認コードを再度送信しました。", "The confirmation code was sent again."),
}

LABELS: dict[str, Text] = {
    "login_id": ("ECS-ID/SPS-ID", "ECS-ID/SPS-ID"),
    "password": ("パスワード", "Password"),
    "code": ("ワンタイムパスワード", "One-Time Password"),
    "address": ("メール認証用アドレス", "Address for email-authentication"),
    "remember": ("ECS-ID/SPS-IDを記憶する", "Remember ECS-ID/SPS-ID"),
    "trust": ("このブラウザを信頼する", "Trust this browser"),
}


class SjisSkin(Skin):
    """Legacy-style pages: everything through one CGI path, Shift_JIS on the wire."""

    name = "sjis"
    charset = "Shift_JIS"
    codec = "cp932"  # what browsers really send for Shift_JIS (a superset)
    page_codec = "shift_jis"  # only characters both tables agree on go out
    cookie_path = "/cgi-bin"
    cookies: ClassVar[dict[str, str]] = {
        "session": "AUTHSESSID",
        "trust": "AUTHTRUST",
        "remember": "AUTHUID",
        "browser": "AUTHBRW",
    }
    csrf_field = "sesskey"
    fields: ClassVar[dict[str, str]] = {
        "login_id": "uid",
        "password": "pw",
        "remember": "keep_uid",
        "code": "otp",
        "trust": "trust_me",
        "address": "mailaddr",
    }
    messages = MESSAGES
    notices = NOTICES
    labels = LABELS

    def decode_form(self, body: bytes) -> Pairs:
        """Shift_JIS fields; characters the charset lacks arrive as &#NNNN; and are restored."""
        return [(name, decode_ncr(value)) for name, value in super().decode_form(body)]

    def resolve(self, method: str, path: str, query: dict[str, str], pairs: Pairs) -> tuple[str, str | None]:
        """?screen= (and ?tab=) name the screen; ?do= or the button pressed names the action."""
        if path.rstrip("/") != CGI:
            raise Refusal("not_found")
        wanted = query.get("screen", "login")
        if wanted == "settings":
            wanted = f"settings&tab={query.get('tab', 'mail')}"
        screen = next((s for s, (q, _) in SCREENS.items() if q == f"screen={wanted}"), None)
        if screen is None:
            raise Refusal("not_found")
        if method == "GET":
            return screen, None
        names = {name: value for name, value in pairs}
        if screen == "mail":
            pressed = names.get("do") or ("confirm" if names.get("otp", "").strip() else "send")
            if pressed not in ("send", "confirm"):
                raise Refusal("invalid_input", "INPUT_ERRORS_PRECISE", "do")
            return screen, pressed
        if screen == "reset":
            if "resend" in names:
                return screen, "resend"
            return screen, "confirm"
        action = SCREENS[screen][1].get(query.get("do", ""))
        if action is None:
            raise Refusal("method")
        return screen, action

    def url(self, screen: str, action: str | None = None) -> str:
        """The CGI URL of a screen, with ?do= for actions the query names."""
        screen = HOME if screen == "home" else screen
        query, actions = SCREENS[screen]
        if action is not None:
            do = next((d for d, a in actions.items() if a == action), None)
            if do is not None:
                query += f"&do={do}"
        return f"{CGI}?{query}"
