"""Over real HTTP: a portal that names its refusals otherwise FAILs only BINDING_ERROR_NAMES, and
the two mail faults FAIL only their requirement, with nothing else disturbed.

The renaming portal is ``ninsho serve`` behind a small front on loopback that renames the
``error`` of every JSON refusal as the clean room's author first named them (issue #18:
``address_blocked``, ``invalid_input`` for an invalid address, ``code_refused``, ``locked``,
``session_unknown``). Status, requirement, field and message are left as they are, as a portal
that follows the binding's every other word would send them. Before the names were normative
and the harness judged by kind, these FAILed EMAIL_BLOCKED_DOMAIN, EMAIL_BLOCKED_SUBDOMAIN,
EMAIL_ADDRESS_SYNTAX and eleven more; now only the names requirement hears of them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ninsho.reference.faults import FAULTS
from tests.harness.test_http_harness import JSON_NOT_APPLICABLE, Run, harness_server, run_harness
from tests.web.support import ServerProcess

RENAMES = {
    "blocked_address": "address_blocked",
    "invalid_address": "invalid_input",
    "code_rejected": "code_refused",
    "account_locked": "locked",
    "session_expired": "session_unknown",
}
# The behaviour the renamed refusals speak for: each must still PASS.
JUDGED_BY_KIND = (
    "EMAIL_BLOCKED_DOMAIN",
    "EMAIL_BLOCKED_SUBDOMAIN",
    "EMAIL_ADDRESS_SYNTAX",
    "LOCKOUT_THRESHOLD",
    "LOCKOUT_DURATION",
    "SESSION_EXPIRY",
    "TOTP_WINDOW",
    "EMAIL_OTP_LIFETIME",
)
MAIL_FAULTS = ("wrong-mail-subject", "wrong-code-digits")
HOP_HEADERS = {"connection", "content-length", "content-encoding", "transfer-encoding", "host", "keep-alive"}


class RenamingFront:
    """An HTTP front on 127.0.0.1 that forwards everything to ``upstream`` and renames the
    ``error`` of JSON refusals by :data:`RENAMES`; ``renamed`` counts what it renamed."""

    def __init__(self, upstream: str) -> None:
        self.renamed: dict[str, int] = {}
        self._client = httpx.Client(base_url=upstream, timeout=30)
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body are two writes (see tests/cleanroom/binding.py)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                answer = front._client.request(
                    self.command, self.path, content=self.rfile.read(length), headers=headers
                )
                body = front.rename(answer)
                self.send_response(answer.status_code)
                for key, value in answer.headers.multi_items():
                    if key.lower() not in HOP_HEADERS | {"date", "server"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:  # quiet, as a proxy is
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def rename(self, answer: httpx.Response) -> bytes:
        if answer.status_code < 400 or "json" not in answer.headers.get("content-type", ""):
            return answer.content
        document = answer.json()
        name = document.get("error") if isinstance(document, dict) else None
        if name not in RENAMES:
            return answer.content
        with self._lock:
            self.renamed[name] = self.renamed.get(name, 0) + 1
        return json.dumps({**document, "error": RENAMES[name]}, ensure_ascii=False).encode("utf-8")

    def __enter__(self) -> RenamingFront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Run], dict[str, int]]]:
    """The renamed portal and each mail fault, each against its own server; all stopped after."""
    plan: dict[str, str | None] = {"renamed": None} | {f"fault:{name}": name for name in MAIL_FAULTS}
    servers: list[ServerProcess] = []
    try:
        for key, fault in plan.items():
            server = harness_server(tmp_path_factory.mktemp(key.replace(":", "-")), fault)
            servers.append(server)
            server.start()
        with RenamingFront(servers[0].url) as front:
            fronts = {"renamed": front.url}
            with ThreadPoolExecutor(max_workers=max(1, min(len(plan), os.cpu_count() or 1))) as pool:
                futures = {
                    key: pool.submit(run_harness, s.workdir, s, "json", base_url=fronts.get(key))
                    for key, s in zip(plan, servers, strict=True)
                }
                yield {key: future.result() for key, future in futures.items()}, dict(front.renamed)
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_other_error_names_fail_only_the_names_requirement(
    runs: tuple[dict[str, Run], dict[str, int]],
) -> None:
    done, renamed = runs
    run = done["renamed"]
    assert set(renamed) == set(RENAMES), f"the front renamed only {renamed}: the run did not meet every kind"
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == {"BINDING_ERROR_NAMES"}, run.output
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    assert others == dict.fromkeys(JSON_NOT_APPLICABLE, "NOT_APPLICABLE"), run.output
    assert all(run.verdicts[rid] == "PASS" for rid in JUDGED_BY_KIND), run.output
    reasons = " ".join(run.reasons["BINDING_ERROR_NAMES"])
    assert "'address_blocked'" in reasons and "'blocked_address'" in reasons, reasons
    assert run.status == 1, run.output


@pytest.mark.slow
@pytest.mark.parametrize("fault", MAIL_FAULTS)
def test_a_mail_fault_fails_exactly_its_requirement(
    runs: tuple[dict[str, Run], dict[str, int]], fault: str
) -> None:
    """Found by recipient and time, the mail is judged part by part: no ERROR, no timeout."""
    run = runs[0][f"fault:{fault}"]
    failed = {rid for rid, verdict in run.verdicts.items() if verdict == "FAIL"}
    assert failed == set(FAULTS[fault].breaks), f"{fault}: {FAULTS[fault].description}\n{run.output}"
    others = {rid: v for rid, v in run.not_passed().items() if rid not in failed}
    assert others == dict.fromkeys(JSON_NOT_APPLICABLE, "NOT_APPLICABLE"), f"{fault} disturbed: {others}"
    assert run.status == 1, run.output
