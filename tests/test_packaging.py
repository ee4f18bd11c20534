"""The distribution: one import package, ``ninsho``, that works where a QA team installs it.

A QA repository often has folders of its own called ``conformance/`` or ``reference/``. When the
wheel took those names, pytest in such a repository could not even load the plugin. So the wheel
is built, its top-level names are listed, and it is installed into a fresh virtual environment
and run from a folder that has both.

The fresh environment gets its third-party dependencies from this one's site-packages (a path
line in a ``.pth`` file), not from the package index: the test is about our wheel, and a fresh
machine has no network but the registries.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNSHIPPED = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "reports",
    ".hypothesis",
)
LAYER_FOLDERS = {"spec": "ninsho.spec", "reference": "ninsho.reference", "conformance": "ninsho.conformance"}


def listed_packages() -> set[str]:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(document["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_listed() -> None:
    """A package folder missing from pyproject.toml would be missing from the wheel."""
    found = {"ninsho", "ninsho.features"}
    for folder, package in LAYER_FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                relative = init.parent.relative_to(ROOT / folder).parts
                found.add(".".join((package, *relative)))
    assert found == listed_packages()


def test_the_checkout_links_each_layer() -> None:
    """ninsho/ links the layer folders, so a checkout imports what the wheel installs."""
    for folder in ("spec", "reference", "conformance", "features"):
        link = ROOT / "ninsho" / folder
        assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve(), folder


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # From a clean copy of the tree: setuptools reuses a build/ folder, and a module deleted since
    # (the checkout's build/lib) would ship again.
    source = tmp_path_factory.mktemp("source") / "ninsho"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*UNSHIPPED))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("ninsho-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--quiet", str(wheel)], check=True, timeout=300
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "outer_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield home


@pytest.fixture
def qa_repository(tmp_path: Path) -> Path:
    """A QA team's repository with folders named as ours once were, and one plain test."""
    for name in ("conformance", "reference", "spec"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f'"""the QA team\'s own {name}"""\n')
    (tmp_path / "test_trivial.py").write_text("def test_trivial():\n    assert 1 + 1 == 2\n")
    (tmp_path / "portal.toml").write_text('[portal]\nprofile = "iimc"\n')
    return tmp_path


def run(venv_home: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NINSHO_", "PYTEST_", "PYTHON"))}
    return subprocess.run(
        [str(venv_home / "bin" / argv[0]), *argv[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_wheel_has_one_top_level_name(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"ninsho"}
    for data in (
        "ninsho/spec/requirements.toml",
        "ninsho/spec/profiles/iimc.toml",
        "ninsho/spec/vectors/addresses.toml",
        "ninsho/features/en/login.feature",
        "ninsho/features/ja/login.feature",
        "ninsho/reference/web/templates/login.html",
    ):
        assert data in names, data
    assert not [n for n in names if "embedded_fixtures" in n or n.startswith("ninsho/tests")]


@pytest.mark.slow
def test_plain_pytest_in_a_qa_repository(fresh_venv: Path, qa_repository: Path) -> None:
    """The plugin loads beside folders named conformance/ and reference/, and stays quiet."""
    done = run(
        fresh_venv, qa_repository, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_trivial.py"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "Ninsho verdicts" not in done.stdout
    markers = run(fresh_venv, qa_repository, "python", "-m", "pytest", "--markers", "-p", "no:cacheprovider")
    assert markers.returncode == 0, markers.stderr
    assert "TOTP_WINDOW" not in markers.stdout  # the requirement markers only in sessions that use them
    assert "--ninsho-portal" in run(fresh_venv, qa_repository, "python", "-m", "pytest", "--help").stdout


@pytest.mark.slow
def test_ninsho_check_from_the_wheel(fresh_venv: Path, qa_repository: Path) -> None:
    done = run(fresh_venv, qa_repository, "ninsho", "check", "-q", "-m", "TOTP_REPLAY", "--report-dir", "r")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "TOTP_REPLAY" in done.stdout and "PASS" in done.stdout
    assert (qa_repository / "r" / "ninsho.json").is_file()


@pytest.mark.slow
def test_pytest_with_a_portal_from_the_wheel(fresh_venv: Path, qa_repository: Path) -> None:
    done = run(
        fresh_venv,
        qa_repository,
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--ninsho-portal",
        "portal.toml",
        "-m",
        "EMAIL_BLOCKED_DOMAIN",
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "EMAIL_BLOCKED_DOMAIN" in done.stdout and "Ninsho verdicts" in done.stdout
    imported = run(
        fresh_venv, qa_repository, "python", "-c", "import ninsho.conformance.plugin as p; print(p.__file__)"
    )
    assert "site-packages" in imported.stdout, imported.stdout + imported.stderr
