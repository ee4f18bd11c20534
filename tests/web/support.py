"""Helpers for the web tests: the OpenAPI checker, an SMTP sink, a real server process.

Kept out of conftest.py so tests can import them by name; the fixtures live in conftest.py.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests import servers

ADMIN_TOKEN = "test-admin-token-0123456789"
REPO = Path(__file__).resolve().parents[2]
NINSHO = str(Path(sys.executable).with_name("ninsho"))  # the console script beside this Python


# --- the OpenAPI document as a test oracle -------------------------------------------------
class OpenApi:
    """Finds an operation by method and concrete path, and validates bodies against it."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = yaml.safe_load((files("ninsho.spec") / "openapi.yaml").read_text("utf-8"))
        self.prefix = self.doc["servers"][0]["url"]
        self._paths = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"), t)
            for t in self.doc["paths"]
        ]

    def operation(self, method: str, path: str) -> dict[str, Any]:
        local = path.split("?")[0].removeprefix(self.prefix)
        for pattern, template in self._paths:
            if pattern.match(local):
                op = self.doc["paths"][template].get(method.lower())
                assert op is not None, f"{method} {path}: no such operation in spec/openapi.yaml"
                return op
        raise AssertionError(f"{path}: not in spec/openapi.yaml")

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _validate(self, schema: dict[str, Any], instance: object) -> None:
        # Validating with the whole document's components in scope resolves every "#/..." ref.
        rooted = {**schema, "components": self.doc["components"]}
        jsonschema.Draft202012Validator(rooted).validate(instance)

    def check_request(self, method: str, path: str, body: object) -> None:
        op = self.operation(method, path)
        request_body = self._resolve(op["requestBody"])
        self._validate(request_body["content"]["application/json"]["schema"], body)

    def check_response(self, response: httpx.Response) -> None:
        op = self.operation(response.request.method, response.request.url.path)
        documented = op["responses"].get(str(response.status_code))
        assert documented is not None, (
            f"{response.request.method} {response.request.url.path}: status {response.status_code} "
            f"is not documented in spec/openapi.yaml ({response.text[:200]})"
        )
        documented = self._resolve(documented)
        if "content" not in documented:
            assert response.content == b"", "a response documented without content has a body"
            return
        assert response.headers["content-type"].startswith("application/json")
        self._validate(documented["content"]["application/json"]["schema"], response.json())


# --- mail ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["subject"])

    @property
    def body(self) -> str:
        content = self.message.get_content()
        assert isinstance(content, str)
        return content

    def code(self, digits: int) -> str:
        found = re.findall(rf"(?<!\d)\d{{{digits}}}(?!\d)", self.body)
        assert found, f"no {digits}-digit code in the mail body:\n{self.body}"
        return str(found[0])


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives (aiosmtpd needs a concrete port)."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self._cond = threading.Condition()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self._cond:
            self.received.append(
                ReceivedMail(
                    str(envelope.mail_from), tuple(str(r) for r in envelope.rcpt_tos), bytes(content)
                )
            )
            self._cond.notify_all()
        return "250 OK"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def mails_to(self, address: str) -> list[ReceivedMail]:
        with self._cond:
            return [m for m in self.received if address in m.rcpt_tos]

    def wait_for(self, address: str, *, count: int, timeout: float = 10.0) -> ReceivedMail:
        """The ``count``-th mail to ``address`` (waits on a condition, never a fixed sleep)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                mails = [m for m in self.received if address in m.rcpt_tos]
                if len(mails) >= count:
                    return mails[count - 1]
                left = deadline - time.monotonic()
                assert left > 0, f"no mail #{count} to {address} within {timeout}s (got {len(mails)})"
                self._cond.wait(left)


# --- processes -----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli_env(**extra: str) -> dict[str, str]:
    """No NINSHO_* override and no PYTEST_ADDOPTS from the outer run leaks into a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINSHO_") and k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ninsho.reference.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=60,
        check=False,
    )


class PortTaken(Exception):
    """Another process bound the port between free_port() and the server's own bind."""


class ServerProcess:
    """``ninsho serve`` in a subprocess on 127.0.0.1, on a port found free just before. The web
    tests and tests/harness (which runs ``ninsho check`` against it) share it.

    Started through tests/servers.py: in its own process group and recorded, so that a pytest run
    that is killed leaves it to the next session's sweep instead of to init."""

    def __init__(
        self,
        workdir: Path,
        *,
        smtp_port: int | None = None,
        test_clock: bool = True,
        profile: str = "iimc",
        fault: str | None = None,
        log_level: str = "warning",
        admin_token: tuple[str, str] = ("NINSHO_ADMIN_TOKEN", ADMIN_TOKEN),  # (variable, value)
        workers: int = 1,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.db = workdir / "portal.sqlite"
        self.smtp_port = smtp_port
        self.test_clock = test_clock
        self.profile, self.fault, self.log_level = profile, fault, log_level
        self.admin_token = admin_token
        self.workers = workers
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._server: servers.Server | None = None
        self.log_path = workdir / "server.log"
        self._log: Any = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> ServerProcess:
        """Starts the server; a port taken between choosing and binding it gets another try."""
        for attempt in range(attempts):
            try:
                return self._start_once()
            except PortTaken:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> ServerProcess:
        assert self.process is None
        self.port = free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--db", str(self.db)]
        args += ["--hash-cost", "4", "--log-level", self.log_level, "--profile", self.profile]
        args += ["--admin-token-env", self.admin_token[0]]
        if self.smtp_port is not None:
            args += ["--smtp", f"127.0.0.1:{self.smtp_port}"]
        if self.test_clock:
            args.append("--test-clock")
        if self.fault:
            args += ["--fault", self.fault]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        self._log = self.log_path.open("ab")
        self._server = servers.start(
            [sys.executable, "-m", "ninsho.reference.cli", *args],
            label=f"ninsho serve for {self.workdir}",
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=cli_env(**dict([self.admin_token])),
        )
        self.process = self._server.process
        self.starts += 1
        self._wait_ready()
        return self

    # Where readiness shows, and how: a subclass serving another portal names its own.
    ready_path, ready_status = "/healthz", 200

    def _wait_ready(self, timeout: float = 30.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    log, code = self.log(), self.process.returncode
                    self._reset()
                    if "address already in use" in log.lower():
                        raise PortTaken(log)
                    raise AssertionError(f"{type(self).__name__} exited {code}:\n{log}")
                try:
                    if client.get(self.url + self.ready_path).status_code == self.ready_status:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)  # polling for readiness, not waiting on portal time
        log = self.log()
        self.stop()  # start() raised: no caller holds this server to stop it
        raise AssertionError(f"{type(self).__name__} did not become ready in {timeout}s:\n{log}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL to its process group: no shutdown handler runs, as in a crash."""
        assert self._server is not None
        self._server.kill()
        self._reset()

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 10 s; a stopped server may start again."""
        if self._server is None:
            return
        self._server.stop(timeout=10.0)
        self._reset()

    def _reset(self) -> None:
        """After the process has ended and been reaped: its record goes, its log is closed."""
        if self._server is not None:
            self._server.forget()
            self._server = None
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class ApiClient:
    """A sync JSON client for a real server; checks every exchange against spec/openapi.yaml."""

    def __init__(self, base_url: str, openapi: OpenApi) -> None:
        self.http = httpx.Client(base_url=base_url + "/api/v1", timeout=30.0)
        self.openapi = openapi

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, admin: bool = False
    ) -> httpx.Response:
        headers = {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if admin:
            headers["authorization"] = f"Bearer {ADMIN_TOKEN}"
        if body is not None:
            self.openapi.check_request(method, "/api/v1" + path, body)
        response = self.http.request(method, path, json=body, headers=headers)
        self.openapi.check_response(response)
        return response

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = self.call(method, path, body, **kw)
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def login(self, login_id: str, password: str = "correct horse", **extra: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(
            "POST", "/login", {"login_id": login_id, "password": password, **extra}
        )
        return result

    def now(self) -> float:
        return float(self.ok("GET", "/test-clock")["now"])

    def advance(self, seconds: float) -> None:
        self.ok("POST", "/test-clock", {"advance_seconds": seconds})

    def clock_back_to_real_time(self) -> None:
        """Operator commands run on the real clock: give the portal the same time as them."""
        offset = float(self.ok("GET", "/test-clock")["offset_seconds"])
        if offset:
            self.advance(-offset)
