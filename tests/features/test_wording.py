"""One step definition matches its English and its Japanese wording, and nothing else."""

from __future__ import annotations

from pytest_bdd import parsers

from ninsho.conformance.steps.wording import bilingual


def test_plain_wordings_match_either_language_only() -> None:
    both = bilingual("I click Login", "『ログイン』をクリックする")
    assert both.is_matching("I click Login")
    assert both.is_matching("『ログイン』をクリックする")
    assert not both.is_matching("I click Logout")
    assert both.parse_arguments("I click Logout") is None
    assert "I click Login" in both.name and "『ログイン』をクリックする" in both.name


def test_arguments_come_from_the_wording_that_matched() -> None:
    both = bilingual(parsers.parse("{age} passes"), parsers.parse("{age} が経過する"))
    assert both.parse_arguments("5 minutes passes") == {"age": "5 minutes"}
    assert both.parse_arguments("5 分 が経過する") == {"age": "5 分"}
