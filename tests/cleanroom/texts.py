"""Bilingual texts (protocol.md §15): every message the binding returns has ja and en."""

from __future__ import annotations

from .profile import Profile

Message = dict[str, str]

ERRORS: dict[str, Message] = {
    "invalid_input": {"ja": "入力が正しくありません。", "en": "The input is not valid."},
    "malformed_body": {
        "ja": "リクエストの形式が正しくありません。",
        "en": "The request body is malformed: not JSON, not an object, or fields missing, unknown or of the wrong type.",
    },
    "test_clock_disabled": {"ja": "テスト用時計は無効です。", "en": "The test clock is disabled."},
    "invalid_address": {
        "ja": "メールアドレスの形式が正しくありません。",
        "en": "The email address is not valid.",
    },
    "blocked_address": {
        "ja": "このアドレスは登録できません。プライベートなアドレスを入力してください。",
        "en": "This address cannot be registered. Please enter a private email address.",
    },
    "authentication_failed": {
        "ja": "ECS-ID/SPS-ID またはパスワードが正しくありません。",
        "en": "The ECS-ID/SPS-ID or the password is not correct.",
    },
    "code_rejected": {
        "ja": "ワンタイムパスワードが正しくないか、有効期限が切れています。",
        "en": "The one-time password is not correct or is no longer valid.",
    },
    "session_expired": {
        "ja": "セッションが無効です。もう一度ログインしてください。",
        "en": "The session has expired or is unknown. Please log in again.",
    },
    "not_permitted": {
        "ja": "この操作は現在の認証段階では行えません。",
        "en": "This operation is not allowed at the current stage of authentication.",
    },
    "nothing_pending": {
        "ja": "処理待ちのコードまたは初期化がありません。",
        "en": "There is no pending code or reset for this operation.",
    },
    "no_address": {
        "ja": "メール認証用アドレスが登録されていません。",
        "en": "No address for email-authentication is registered.",
    },
    "account_locked": {
        "ja": "認証の失敗が続いたため、アカウントは一時的にロックされています。しばらくしてから再度お試しください。",
        "en": "Too many failed attempts: the account is locked for a while. Please try again later.",
    },
    "throttled": {
        "ja": "パスワードの誤りが続いたため、しばらくこのIDではログインできません。時間をおいて再度お試しください。",
        "en": "Too many wrong passwords for this ID: please wait a while before you try again.",
    },
    "mail_limited": {
        "ja": "このアドレスへの送信が続いたため、しばらく送信できません。送信済みのワンタイムパスワードをお使いください。",
        "en": "Too many mails were sent to this address: please use the one-time password already sent, or wait.",
    },
    "mail_not_sent": {
        "ja": "メールを送信できませんでした。しばらくしてから再度お試しください。",
        "en": "The email could not be sent. Please try again later.",
    },
    "not_found": {"ja": "見つかりません。", "en": "Not found."},
    "method_not_allowed": {"ja": "このメソッドは使用できません。", "en": "Method not allowed."},
    "unsupported_media_type": {
        "ja": "Content-Type は application/json にしてください。",
        "en": "The Content-Type must be application/json.",
    },
    "body_too_large": {"ja": "リクエストが大きすぎます。", "en": "The request body is too large."},
    "admin_disabled": {
        "ja": "管理用 API は無効です。",
        "en": "The admin API is disabled: no admin token is configured.",
    },
    "admin_unauthorized": {
        "ja": "管理用トークンが正しくありません。",
        "en": "The admin token is missing or wrong.",
    },
    "conflict": {"ja": "このIDは既に存在します。", "en": "This login ID already exists."},
    "unknown_account": {"ja": "このIDは存在しません。", "en": "No such login ID."},
    "helpdesk_refused": {
        "ja": "このアカウントには確認コードを発行できません。",
        "en": "No confirmation code can be issued for this account.",
    },
    "internal_error": {"ja": "内部エラーが発生しました。", "en": "An internal error occurred."},
}


# The machine names the binding emits as Error.error (spec/openapi.yaml x-error-codes); the other
# keys of ERRORS are message variants of one of them.
# The texts that are not error names: the two 429 texts share the binding's one name, rate_limited.
ERROR_NAMES = frozenset(ERRORS) - {
    "no_address",
    "admin_disabled",
    "admin_unauthorized",
    "helpdesk_refused",
    "throttled",
    "mail_limited",
}


def email_sent(address: str) -> Message:
    """§15.6 mail.sent and mail.sent_to, with the address in place of ○○○."""
    return {
        "ja": "メールを送信しました。メールに記載されているワンタイムパスワードを入力してください。\n"
        f"{address}へメールを送信しました。",
        "en": "Email has been sent. Please enter the 'One-Time Password' provided in the email.\n"
        f"An email message has been sent to {address}.",
    }


def email_registered(address: str) -> Message:
    """Confirmation after §7 step 5 (not in the manuals' table, so worded here)."""
    return {
        "ja": f"メール認証用アドレスを {address} に設定しました。",
        "en": f"The address for email-authentication is now {address}.",
    }


def app_registered(has_address: bool) -> Message:
    """After "Register"; §6 asks to warn an account without an address."""
    ja = "ワンタイムパスワードアプリケーションを登録しました。"
    en = "The one-time password application is registered."
    if not has_address:
        ja += "\nメール認証用アドレスが未登録のため、再設定には情報環境支援センターへの電話が必要です。"
        en += (
            "\nNo address for email-authentication is registered: a later reset will need a call"
            " to the ICT Support Center."
        )
    return {"ja": ja, "en": en}


RESET_CONFIRMED: Message = {
    "ja": "ワンタイムパスワード設定を初期化しました。メールまたはアプリを設定してください。",
    "en": "The one-time password settings are initialized. Please set up email or an app.",
}


def reset_message(profile: Profile) -> Message:
    """§15.9 reset.message, with SENDER, PLACEHOLDER and the helpdesk lines filled in."""
    sender = profile["mail.sender"]
    placeholder = profile["reset.placeholder_address"]
    phone = profile["helpdesk.phone"]
    hours = profile["helpdesk.hours"]
    ja_phone = phone.replace("ext.", "内線 :")
    ja_hours = hours.replace("Weekdays", "平日")
    ja = (
        "メールを送信しました。メールに記載されている「確認コード」を入力してください。\n"
        f"※メールが届かない場合は、受信できるようにドメイン指定受信で「{sender}」を許可するように設定してください。\n"
        f"※「{placeholder}」が表示されている場合は、多要素認証で使用するメール認証用アドレスが未設定の状態です。\n"
        "電話でご本人確認を行ったうえで確認コードをお伝えします。"
        "画面はそのままの状態で情報環境支援センターまでお電話ください。\n\n"
        "[総合窓口] 情報環境支援センター\n"
        f"TEL : {ja_phone}\n"
        f"時間 : {ja_hours}"
    )
    en = (
        'An email has been sent to you. Please enter the "Confirmation Code" in the email.\n'
        "* If you do not receive the email, please verify your email settings to allow receiving"
        f' emails from the following email address: "{sender}".\n'
        f'* If "{placeholder}" is displayed above, your address for email-authentication to be used'
        " in multi-factor authentication has not been set.\n"
        "We will confirm your identity by phone and provide you with a confirmation code."
        " Please leave the screen as it is and call the ICT Support Center below.\n\n"
        "ICT Support Center\n"
        f"TEL: {phone}\n"
        f"Hours: {hours}"
    )
    return {"ja": ja, "en": en}
