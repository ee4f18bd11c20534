"""What the link probes read from outside (conformance/probes/reset_link.py): the URL in a mail,
its token, the altered links, and the entropy a run can see, which a weak token must fail."""

from __future__ import annotations

import secrets

import pytest

from ninsho.conformance.interfaces import Mail
from ninsho.conformance.probes.reset_link import altered, bits_seen, link_in, token_of

BASE = "https://portal.example.ac.jp/reset/link"


def _mail(body: str) -> Mail:
    return Mail("u@example.com", "s@example.jp", "subject", body, 0.0)


def test_the_first_url_of_the_body_is_the_link() -> None:
    body = f"メールに記載されたURL「{BASE}?token=abc」をクリック\n{BASE}?token=other\n"
    assert link_in(_mail(body)) == f"{BASE}?token=abc"
    assert link_in(_mail("no link, only 12345678")) is None


def test_the_token_is_the_query_value_or_the_last_path_segment() -> None:
    assert token_of(f"{BASE}?token=abc123") == "abc123"
    assert token_of("https://p.example/reset/abc123/") == "abc123"


def test_altered_links_differ_from_the_issued_one() -> None:
    url = f"{BASE}?token=aBc123xYz"
    assert altered(url, "truncated") == f"{BASE}?token=aBc12"
    assert altered(url, "case") == f"{BASE}?token=AbC123XyZ"
    assert altered(url, "extra") == url + "&lang=en"
    assert altered(f"{BASE}?token=0123456789", "case") is None, "no letters: no other case"
    with pytest.raises(ValueError):
        altered(url, "reversed")


def test_random_base64url_tokens_show_their_bits() -> None:
    tokens = [secrets.token_urlsafe(32) for _ in range(5)]
    assert bits_seen(tokens) >= 128
    hex_tokens = [secrets.token_hex(16) for _ in range(5)]
    assert 100 <= bits_seen(hex_tokens) <= 128, "32 hex digits: 4 bits each at the most"


@pytest.mark.parametrize(
    "tokens",
    [
        [str(1_700_000_000 + i).zfill(43) for i in range(5)],  # the clock
        [f"{'A' * 40}{i:03d}" for i in range(5)],  # a counter behind a constant
        [secrets.token_urlsafe(8) for _ in range(5)],  # random, but 64 bits
        [secrets.token_urlsafe(32)],  # one sample tells nothing
        [secrets.token_urlsafe(32), secrets.token_urlsafe(16)],  # different lengths
    ],
    ids=["clock", "counter", "short", "one", "lengths"],
)
def test_weak_or_unjudgeable_tokens_show_fewer_than_128_bits(tokens: list[str]) -> None:
    assert bits_seen(tokens) < 128
