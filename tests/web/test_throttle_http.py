"""The password throttle and the mail limit at the HTTP edge of a real ``ninsho serve``
(spec/protocol.md §3.1, §12.4): what a harness on one machine cannot judge.

Every harness client is 127.0.0.1, so the checks see counting per address as counting per
account. Here the edge's own notion of a client is judged: uvicorn takes the address a proxy
forwards (``X-Forwarded-For``) from the proxies it trusts, loopback by default, which is how the
reference is deployed behind one; two forwarded addresses are two clients. And the 429s carry
``Retry-After``, which the checks do not require.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ninsho.spec.profile import Profile

from .support import ADMIN_TOKEN, OpenApi, ServerProcess, SmtpSink

pytestmark = pytest.mark.slow
PASSWORD = "correct horse"


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30.0) as client:
        yield client


def _add_user(http: httpx.Client, login_id: str) -> None:
    r = http.post(
        "/admin/users",
        json={"login_id": login_id, "password": PASSWORD},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 201, r.text


def _login(http: httpx.Client, login_id: str, password: str, forwarded: str) -> httpx.Response:
    return http.post(
        "/login", json={"login_id": login_id, "password": password}, headers={"X-Forwarded-For": forwarded}
    )


def test_each_forwarded_address_is_a_client_of_its_own(
    http: httpx.Client, openapi: OpenApi, profile: Profile
) -> None:
    """A guesser's address is held back after max_failures wrong passwords, right or wrong, with
    Retry-After; the owner, from another address, logs in."""
    _add_user(http, "thr0001")
    for _ in range(profile.password_throttle_max_failures):
        assert _login(http, "thr0001", "wrong", "203.0.113.5").status_code == 401
    held = _login(http, "thr0001", PASSWORD, "203.0.113.5")
    openapi.check_response(held)
    assert held.status_code == 429, held.text
    assert held.json()["error"] == "rate_limited" and held.json()["requirement"] == "PASSWORD_THROTTLE"
    assert 0 < int(held.headers["Retry-After"]) <= profile.password_throttle_window_seconds
    owner = _login(http, "thr0001", PASSWORD, "198.51.100.20")
    assert owner.status_code == 200, owner.text


def test_the_mail_limit_answers_429_and_mails_nothing(
    http: httpx.Client, smtp_sink: SmtpSink, openapi: OpenApi, profile: Profile
) -> None:
    _add_user(http, "thr0002")
    address = "thr0002@example.org"
    session = http.post("/login", json={"login_id": "thr0002", "password": PASSWORD}).json()["session"]
    auth = {"Authorization": f"Bearer {session}"}
    for n in range(1, profile.mail_limit_per_address + 1):
        sent = http.post("/settings/email", json={"address": address}, headers=auth)
        assert sent.status_code == 200, sent.text
        smtp_sink.wait_for(address, count=n)
    over = http.post("/settings/email", json={"address": address}, headers=auth)
    openapi.check_response(over)
    assert over.status_code == 429, over.text
    assert over.json()["error"] == "rate_limited" and over.json()["requirement"] == "MAIL_RATE_LIMIT"
    assert 0 < int(over.headers["Retry-After"]) <= profile.mail_limit_window_seconds
    code = smtp_sink.wait_for(address, count=profile.mail_limit_per_address).code(profile.email_otp_digits)
    confirmed = http.post("/settings/email/confirm", json={"code": code}, headers=auth)
    assert confirmed.status_code == 200, confirmed.text  # the refusal changed nothing
    assert len(smtp_sink.mails_to(address)) == profile.mail_limit_per_address
