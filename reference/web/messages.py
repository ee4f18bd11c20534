"""The bilingual screen messages both faces show, worded as in the manuals [MESSAGES_BILINGUAL].

One place, so the JSON API and the HTML pages can never say different things.
"""

from __future__ import annotations

Message = dict[str, str]


def email_sent_to(address: str) -> Message:
    """email-change.ja.txt ⑤ 『〇〇〇へメールを送信しました。』, en ⑤ "An email message has been
    sent to ○○○." [MESSAGE_EMAIL_SENT]."""
    return {
        "ja": f"{address} へメールを送信しました。",
        "en": f"An email message has been sent to {address}.",
    }


EMAIL_SENT_ENTER_OTP: Message = {
    "ja": "メールを送信しました。メールに記載されているワンタイムパスワードを入力してください。",
    "en": "Email has been sent. Please enter the 'One-Time Password' provided in the email.",
}

EMAIL_SENT_ENTER_CONFIRM_CODE: Message = {
    "ja": "メールを送信しました。メールに記載されている「確認コード」を入力してください。",
    "en": 'An email has been sent to you. Please enter the "Confirmation Code" in the email.',
}

EMAIL_REGISTERED: Message = {
    "ja": "メール認証用アドレスを登録しました。",
    "en": "The address for email-authentication has been registered.",
}

APP_REGISTERED: Message = {
    "ja": "ワンタイムパスワードアプリケーションを登録しました。",
    "en": "The one-time password application has been registered.",
}

RESET_DONE: Message = {
    "ja": "ワンタイムパスワード設定を初期化しました。メールまたはアプリを設定してください。",
    "en": "The one-time password settings have been initialized. Please set up email or the app.",
}

LOGGED_OUT: Message = {"ja": "ログアウトしました。", "en": "You have been logged out."}
