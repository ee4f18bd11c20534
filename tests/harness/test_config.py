"""The portal config's numbers of seconds: from the file or the environment, and refused with
the key at fault when they are not a positive, finite number."""

from __future__ import annotations

from pathlib import Path

import pytest

from ninsho.conformance.config import ConfigError, load


def test_the_environment_sets_the_mail_timeout_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "portal.toml"
    config.write_text("[mailbox]\ntimeout_seconds = 30\nquiet_seconds = 0.5\n", encoding="utf-8")
    assert load(config, environ={}).mail_timeout_seconds == 30.0
    loaded = load(config, environ={"NINSHO_MAILBOX_TIMEOUT": "4.5"})
    assert (loaded.mail_timeout_seconds, loaded.mail_quiet_seconds) == (4.5, 0.5)


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", "-1", "0", "", "１０", "1e999"])
def test_a_bad_timeout_from_the_environment_names_the_key(raw: str) -> None:
    environ = {"NINSHO_MAILBOX_TIMEOUT": raw}
    if not raw:  # an empty variable is unset, as for every NINSHO_* variable
        assert load(None, environ=environ).mail_timeout_seconds == 30.0
        return
    with pytest.raises(ConfigError, match=r"mailbox\.timeout_seconds") as caught:
        load(None, environ=environ)
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize("value", ["-2", "0", "nan", "inf", "true", '"x"'])
def test_a_bad_quiet_period_in_the_file_names_the_key(tmp_path: Path, value: str) -> None:
    config = tmp_path / "portal.toml"
    config.write_text(f"[mailbox]\nquiet_seconds = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mailbox\.quiet_seconds"):
        load(config, environ={})
