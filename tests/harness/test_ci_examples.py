"""The CI examples (examples/ci) call ``ninsho check`` the way the README documents it: options
the CLI accepts, the config and baseline they name load, secrets come from the CI's store, the
reports are kept as artifacts even when the run fails, and nothing swallows the exit status."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ninsho.conformance.cli import parser
from ninsho.conformance.config import load, secret_variables
from ninsho.conformance.results import Baseline
from ninsho.spec.registry import requirements

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
README = (ROOT / "README.md").read_text("utf-8")
SECRET_NAMES = {*secret_variables(), "OPS_SSH_KEY"}


def workflow(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CI / name).read_text("utf-8"))
    return document


def commands(lines: list[str]) -> list[list[str]]:
    """Every ``ninsho check …`` command among shell lines, as argv after ``ninsho check``."""
    found = []
    for line in lines:
        for part in re.split(r"&&|;|\n", line):
            words = shlex.split(part, comments=True)
            if words[:2] == ["ninsho", "check"]:
                found.append(words[2:])
    return found


def github_steps() -> list[dict[str, Any]]:
    jobs = workflow("github-actions.yml")["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def gitlab_job() -> dict[str, Any]:
    job: dict[str, Any] = workflow("gitlab-ci.yml")["ninsho-staging"]
    return job


def all_commands() -> dict[str, list[list[str]]]:
    github = commands([step["run"] for step in github_steps() if "run" in step])
    gitlab = commands(gitlab_job()["script"])
    return {"github": github, "gitlab": gitlab}


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_the_job_runs_ninsho_check_once_as_documented(ci: str) -> None:
    [argv] = all_commands()[ci]
    args = parser().parse_args(argv)  # an option the CLI does not know would exit 2 here
    for option in (o for o in argv if o.startswith("-")):
        assert option in README, f"{option} is not documented in README.md"
    assert args.portal is not None and (ROOT / args.portal).is_file()
    assert args.baseline is not None and args.strict and str(args.report_dir) == "reports"
    config = load(ROOT / args.portal, environ={})
    assert config.driver == "json" and config.provision == "pool" and config.mailbox in ("imap", "smtp-sink")
    Baseline.load(ROOT / args.baseline, requirements())


def test_the_exit_status_is_the_gate() -> None:
    github = [s for s in github_steps() if "ninsho check" in s.get("run", "")]
    assert all(not s.get("continue-on-error") for s in github)
    assert not gitlab_job().get("allow_failure", False)
    for line in [s["run"] for s in github] + gitlab_job()["script"]:
        if "ninsho check" in line:
            assert "|| true" not in line and "; true" not in line and "set +e" not in line, line


def test_the_reports_are_kept_when_the_run_fails() -> None:
    upload = next(s for s in github_steps() if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "reports"
    summary = next(s for s in github_steps() if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()" and "reports/ninsho.md" in summary["run"]
    artifacts = gitlab_job()["artifacts"]
    assert artifacts["when"] == "always" and "reports/" in artifacts["paths"]
    assert artifacts["reports"]["junit"] == "reports/junit.xml"


def test_secrets_come_from_the_ci_store_not_the_files() -> None:
    jobs = workflow("github-actions.yml")["jobs"]
    env = {k: v for job in jobs.values() for k, v in job.get("env", {}).items()}
    for step in github_steps():
        env.update(step.get("env", {}))
    for name in SECRET_NAMES & set(env):
        assert re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ \}\}", str(env[name])), f"{name}: {env[name]}"
    assert {"NINSHO_TEST_PASSWORD", "NINSHO_IMAP_PASSWORD"} <= set(env)
    gitlab_text = (CI / "gitlab-ci.yml").read_text("utf-8")
    assert "variables:" not in gitlab_text, "GitLab's secrets are masked CI/CD variables, not in the file"
    for text in (CI / name for name in ("staging-portal.toml", "github-actions.yml", "gitlab-ci.yml")):
        assert not re.search(r"(?i)password\s*=\s*\"[^\"]+\"", text.read_text("utf-8")), text


def test_the_ci_examples_run_after_a_deploy_to_staging() -> None:
    on = workflow("github-actions.yml").get("on") or workflow("github-actions.yml").get(True)
    assert "deployment_status" in on
    job = gitlab_job()
    assert job["environment"]["name"] == "staging" and job["needs"]
