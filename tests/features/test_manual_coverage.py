"""Every numbered step of the manuals' procedures is placed in a feature, in both languages.

A step is placed by a comment naming its number (``# ④``) right above the Gherkin steps that
perform it, or by a comment saying why it is out of scope. Procedures whose numbers are not
steps (initial-setup.en.txt's "① Initial Setup" is the document's title) are not listed.
"""

from __future__ import annotations

import re

import pytest

from .paths import FEATURES, LANGUAGES

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮"

# (manual procedure, feature file, number of steps, how a step's number is written: "" for the
# bare number, else the prefix that tells it from the numbers of another procedure in the file)
PROCEDURES = [
    ("email-change Step2 ①–⑩", "change_email.feature", 10, ""),
    ("email-change Step2 ①–⑩, for a first set-up", "first_login_email_setup.feature", 10, ""),
    ("email-change 【If you cannot confirm a valid one-time password】 ①–⑮", "email_reset.feature", 15, ""),
    ("app-reset Step2 ①–⑭", "app_reset.feature", 14, ""),
    ("app-reset ⑨–⑭, the App tab", "register_app.feature", 14, ""),
    ("faq-totp-reset-2021 Operation Procedure 1–12 (numbered ①–⑫ there)", "faq_reset_link.feature", 12, ""),
    (
        "faq-totp-reset-2021 'ICT Support Center' 1–2 (written ICT ①–②)",
        "faq_reset_helpdesk.feature",
        2,
        "ICT ",
    ),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("procedure", "feature", "steps", "prefix"), PROCEDURES, ids=[p[0] for p in PROCEDURES]
)
def test_each_numbered_step_is_placed(
    procedure: str, feature: str, steps: int, prefix: str, language: str
) -> None:
    text = (FEATURES / language / feature).read_text(encoding="utf-8")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    # register_app.feature transcribes the App tab alone: ⑨ to ⑭.
    wanted = CIRCLED[8:steps] if feature == "register_app.feature" else CIRCLED[:steps]
    missing = [n for n in wanted if f"{prefix}{n}" not in comments]
    assert not missing, f"{language}/{feature} does not place {procedure} steps {''.join(missing)}"


def test_the_faq_procedure_is_declared_out_of_scope() -> None:
    for language in LANGUAGES:
        text = (FEATURES / language / "app_reset.feature").read_text(encoding="utf-8")
        assert re.search(r"faq-totp-reset-2021.*1–12", text), (
            f"{language}: the FAQ steps 1–12 are not accounted for"
        )


def test_the_ict_procedure_is_placed_where_the_link_feature_leaves_it() -> None:
    """faq_reset_link.feature transcribes the Operation Procedure and leaves the "ICT Support
    Center" procedure to faq_reset_helpdesk.feature: each says so, in both languages."""
    for language in LANGUAGES:
        text = (FEATURES / language / "faq_reset_link.feature").read_text(encoding="utf-8")
        assert "faq_reset_helpdesk.feature" in text, f"{language}: the ICT path is not pointed to"
