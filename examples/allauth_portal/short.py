"""allauth with its times cut to seconds, and the profile that states them: a whole harness run
through allauth's pages in minutes (docs/allauth.md, "The whole suite").

allauth's defaults make a whole run wait for hours to weeks (a login code lives 180 s, a lockout
300 s, a trusted browser and a session 14 days). Each time here is a setting allauth documents,
cut as the reference's fast-test profile cuts the manuals' own; the profile written beside it is
allauth.toml with those values, so that the harness judges allauth by what it was told to do.
``python -m examples.allauth_portal.measure`` showed allauth keeping to such settings
(login code 10 s, login_failed 5/15s/key, trust 10 s).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from examples.allauth_portal.server import PROFILE, Settings

# Every request of a run comes from 127.0.0.1: the per-IP parts are raised as in
# server.LOOPBACK_LIMITS; the per-account and per-address parts are short.
RATE_LIMITS: tuple[tuple[str, str], ...] = (
    ("login", "1000/m/ip"),
    ("login_failed", "1000/m/ip,5/15s/key"),
    ("request_login_code", "1000/m/ip,3/30s/key"),
    # The new address's verification mail: allauth's default is one per address in 3 minutes,
    # and a run's checks register the vectors' addresses (taro.yamada@gmail.com, …) from many
    # accounts. Set as the login code's limit, which the profile's mail_limit states.
    ("confirm_email", "3/30s/key"),
    ("reauthenticate", "100/m/user"),
)

# profile key -> (value, the setting that gives it)
TIMES: dict[str, tuple[int, str]] = {
    "email_otp.lifetime_seconds": (10, "ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 10"),
    "lockout.duration_seconds": (15, "ACCOUNT_RATE_LIMITS login_failed '1000/m/ip,5/15s/key'"),
    "password_throttle.window_seconds": (15, "ACCOUNT_RATE_LIMITS login_failed '1000/m/ip,5/15s/key'"),
    "mail_limit.window_seconds": (30, "ACCOUNT_RATE_LIMITS request_login_code '1000/m/ip,3/30s/key'"),
    # 20 s, not 10: the check logs in again after trusting (a PBKDF2 login, half a second
    # here) and must do so surely within the trust to judge it, on a loaded machine too.
    "trust_browser.duration_seconds": (20, "MFA_TRUST_COOKIE_AGE = 20"),
    "session.idle_seconds": (60, "SESSION_COOKIE_AGE = 60 with SESSION_SAVE_EVERY_REQUEST = True"),
    "session.first_factor_seconds": (60, "ACCOUNT_LOGIN_TIMEOUT = 60"),
    # Not a setting: Django has no absolute lifetime (baseline SESSION_ABSOLUTE_LIFETIME). The
    # profile's default (12 h) would be a wait of 12 h in real time; 90 s, as fast-test's, is
    # past an idle limit kept busy, and short enough to wait out.
    "session.absolute_seconds": (90, "none: Django has no absolute session lifetime (baseline)"),
}


def settings(smtp_port: int) -> Settings:
    """The short set-up, with 8-digit codes (the harness reads digits)."""
    times = {key: value for key, (value, _) in TIMES.items()}
    return Settings(
        smtp_port=smtp_port,
        numeric_codes=True,
        rate_limits=RATE_LIMITS,
        login_code_timeout=times["email_otp.lifetime_seconds"],
        trust_age_seconds=times["trust_browser.duration_seconds"],
        session_idle_seconds=times["session.idle_seconds"],
        login_timeout_seconds=times["session.first_factor_seconds"],
    )


def write_profile(folder: Path) -> Path:
    """allauth.toml with the short times, each with the setting as its source, in ``folder``."""
    document = tomllib.loads(PROFILE.read_text(encoding="utf-8"))
    document["profile"]["name"] = "allauth-short"
    document["profile"]["title"] = (
        "django-allauth 65.22.1, times cut to seconds (examples/allauth_portal/short.py)"
    )
    for key, (value, setting) in TIMES.items():
        section, name = key.split(".")
        document.setdefault(section, {})[name] = {"value": value, "source": f"set-up, short: {setting}"}
    path = folder / "allauth-short.toml"
    path.write_text(_toml(document), encoding="utf-8")
    return path


def _toml(document: dict[str, Any]) -> str:
    """A profile document as TOML: ``[profile]``, then one ``[section.key]`` table per parameter.
    JSON's strings, numbers, booleans and arrays of them are TOML's too."""
    lines = ["[profile]", *(f"{k} = {json.dumps(v)}" for k, v in document["profile"].items())]
    for section, entries in document.items():
        if section == "profile":
            continue
        for name, entry in entries.items():
            lines += ["", f"[{section}.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in entry.items())]
    return "\n".join(lines) + "\n"
