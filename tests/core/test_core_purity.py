"""reference/core is sans-I/O: it imports no network, file, clock, randomness, process or
logging module, and calls no clock or random function. The clock and the random source come
in through the ports (reference/core/ports.py). Of the project it imports only the spec layer's
pure modules (the profile model); tests/test_layers.py holds the layers themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "reference" / "core"
CORE_FILES = sorted(CORE.glob("*.py"))

FORBIDDEN_MODULES = {
    # network and protocols
    "socket", "ssl", "select", "selectors", "http", "urllib.request", "urllib.response",
    "ftplib", "smtplib", "imaplib", "poplib", "email", "xmlrpc", "socketserver",
    "requests", "httpx", "aiohttp", "starlette", "uvicorn", "aiosmtpd", "jinja2",
    # storage and files
    "sqlite3", "dbm", "shelve", "pickle", "os", "io", "pathlib", "shutil", "tempfile", "glob",
    "tomllib", "importlib",
    # processes, concurrency, signals
    "asyncio", "subprocess", "threading", "multiprocessing", "concurrent", "signal",
    # clocks and randomness
    "time", "datetime", "calendar", "random", "secrets", "uuid",
    # logging to the world
    "logging.handlers", "syslog",
}  # fmt: skip
ALLOWED_MODULES = {
    "__future__", "base64", "binascii", "collections.abc", "dataclasses", "enum", "hashlib",
    "hmac", "re", "typing", "unicodedata", "urllib.parse", "idna",
    "ninsho.spec.profile", "ninsho.spec.errors",
}  # fmt: skip
FORBIDDEN_CALLS = {
    "time.time",
    "time.monotonic",
    "time.sleep",
    "datetime.now",
    "datetime.utcnow",
    "date.today",
}
FORBIDDEN_ROOTS = {"secrets", "random", "os", "time", "datetime"}
FORBIDDEN_BUILTINS = {"open", "input", "__import__", "exec", "eval", "breakpoint"}


def _forbidden(module: str) -> bool:
    return any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_MODULES)


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def problems(source: str) -> list[str]:
    """What is wrong with one module's source, as readable lines."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for module in modules:
            if _forbidden(module):
                found.append(f"line {node.lineno}: imports {module}")
        if modules and not _forbidden(modules[0]) and modules[0] not in ALLOWED_MODULES:
            found.append(f"line {node.lineno}: imports {modules[0]}, which is not on the allow-list")
        if isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name and (
                any(name == call or name.endswith("." + call) for call in FORBIDDEN_CALLS)
                or name.split(".")[0] in FORBIDDEN_ROOTS
            ):
                found.append(f"line {node.lineno}: uses {name}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_BUILTINS
        ):
            found.append(f"line {node.lineno}: calls {node.func.id}()")
    return found


def test_the_core_has_files() -> None:
    assert {p.name for p in CORE_FILES} >= {"otp.py", "addresses.py", "portal.py", "rules.py"}


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_module_is_sans_io(path: Path) -> None:
    assert problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import os.path",
        "from os import environ",
        "import email.message",
        "from email import message_from_string",
        "import urllib.request",
        "from urllib.request import urlopen",
        "from urllib import request",
        "import logging.handlers",
        "from logging import handlers",
        "import time as clock",
        "import secrets",
        "from datetime import datetime",
        "import httpx",
        "import numpy",  # not forbidden by name, but not on the allow-list either
        "x = datetime.now()",
        "x = datetime.datetime.now()",
        "x = time.time()",
        "x = secrets.token_bytes(4)",
        "x = random.random()",
        "x = open('f')",
        "x = __import__('socket')",
    ],
)
def test_the_checker_catches(source: str) -> None:
    assert problems(source), source


@pytest.mark.parametrize(
    "source",
    [
        "from urllib.parse import quote",
        "import hmac, hashlib, base64",
        "from collections.abc import Mapping",
        "from . import otp",
        "from .ports import Clock",
        "now = self.clock.now()",
        "code = self.random.randbytes(4)",
    ],
)
def test_the_checker_allows(source: str) -> None:
    assert problems(source) == []
