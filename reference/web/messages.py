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

# The 2021 portal (reset by link, faq-totp-reset-2021.en.txt): its screens' Japanese as the FAQ
# quotes it; the English where the FAQ gives none is ours.
LINK_SENT: Message = {"ja": "メールを送信しました。", "en": "An email has been sent."}  # FAQ 4

LINK_SENT_TO_HELPDESK: Message = {  # FAQ 4 and "ICT Support Center" 1
    "ja": "情報環境支援センターにメールを送信しました。画面はそのままの状態で情報環境支援センターまでお電話ください。",
    "en": "An email has been sent to the ICT Support Center. Do not close the screen; please call the ICT Support Center.",
}

LINK_RESET_DONE: Message = {  # FAQ 6
    "ja": "ワンタイムパスワード認証の設定を初期化しました。",
    "en": "The one-time password authentication settings have been initialized.",
}

LINK_APP_REGISTERED: Message = {  # FAQ 12
    "ja": "ワンタイムパスワード認証の設定が完了しました。",
    "en": "The one-time password authentication settings are complete.",
}


def reset_screen(link_mode: bool, mailed: bool) -> Message | None:
    """What the screen says after "初期化" (and "Resend"), by the portal's reset mode."""
    if link_mode:
        return LINK_SENT if mailed else LINK_SENT_TO_HELPDESK
    return EMAIL_SENT_ENTER_CONFIRM_CODE if mailed else None


def app_registered(link_mode: bool) -> Message:
    return LINK_APP_REGISTERED if link_mode else APP_REGISTERED


LOGGED_OUT: Message = {"ja": "ログアウトしました。", "en": "You have been logged out."}
