"""Errors only the HTTP edge can detect, in the core's one exception tree.

They subclass :class:`~ninsho.reference.core.errors.NinshoError`, so the single mapping in
:mod:`ninsho.reference.web.app` turns them into the same JSON shape and status as the core's own.
"""

from __future__ import annotations

from ninsho.reference.core.errors import InvalidInput, NinshoError, NotPermitted


class MalformedBody(InvalidInput):
    """Not JSON, not an object, not a form, or a field of the wrong type."""

    wire_code = "malformed_body"


class UnsupportedMediaType(InvalidInput):
    wire_code = "unsupported_media_type"
    status_hint = 415


class BodyTooLarge(InvalidInput):
    wire_code = "body_too_large"
    status_hint = 413


class NotFound(NinshoError):
    wire_code = "not_found"
    status_hint = 404


class MethodNotAllowed(NinshoError):
    wire_code = "method_not_allowed"
    status_hint = 405


class TestClockDisabled(NinshoError):
    """The test clock answers 404 unless the server was started with it [TEST_CLOCK_DISABLED_BY_DEFAULT]."""

    wire_code = "test_clock_disabled"
    __test__ = False  # not a pytest test class, despite its name
    requirement = "TEST_CLOCK_DISABLED_BY_DEFAULT"
    status_hint = 404


class AdminRefused(NotPermitted):
    """No admin token configured (403), or a wrong one (401)."""

    wire_code = "admin_refused"


class CsrfRejected(NotPermitted):
    """A form POST without the session's synchronizer token [WEB_CSRF]."""

    wire_code = "csrf_rejected"
    requirement = "WEB_CSRF"


class InternalError(NinshoError):
    """Never for bad input: only a bug or a broken dependency gets here."""

    wire_code = "internal_error"
    status_hint = 500


def body_too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(
        f"The request body is larger than {limit} bytes.",
        f"リクエストの本文が {limit} バイトを超えています。",
        field="body",
    )


def bad_lane(name: str) -> InvalidInput:
    """A Ninsho-Test-Clock-Lane header that is no lane's name (spec/protocol.md §17)."""
    shown = name if len(name) <= 80 else name[:80] + "…"
    return InvalidInput(
        f"Ninsho-Test-Clock-Lane must be 1 to 64 letters, digits, '.', '_' or '-'; it is {shown!r}.",
        f"Ninsho-Test-Clock-Lane は英数字と「.」「_」「-」の 1〜64 文字にしてください（{shown!r}）。",
        requirement="TEST_CLOCK_DISABLED_BY_DEFAULT",
        field="Ninsho-Test-Clock-Lane",
    )


def not_found() -> NotFound:
    return NotFound("There is no such page or endpoint.", "該当するページまたはエンドポイントはありません。")


def method_not_allowed() -> MethodNotAllowed:
    return MethodNotAllowed("This method is not allowed here.", "このメソッドは使用できません。")


def internal_error() -> InternalError:
    return InternalError(
        "An internal error occurred. Please try again later.",
        "内部エラーが発生しました。時間をおいて再度お試しください。",
        requirement="INPUT_ERRORS_PRECISE",
    )


def csrf_rejected() -> CsrfRejected:
    return CsrfRejected(
        "This form has expired or did not come from this site. Please reload the page and try again.",
        "フォームの有効期限が切れているか、このサイトから送信されたものではありません。"
        "ページを再読み込みしてもう一度お試しください。",
        field="csrf_token",
    )
