"""Fixtures for tests/web: in-process portals (httpx over ASGI), real servers, an SMTP sink."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ninsho.reference.web.app import create_app
from ninsho.reference.web.config import Runtime, ServerConfig, build_runtime
from ninsho.spec.profile import Profile
from ninsho.spec.registry import load_profile

from .support import ADMIN_TOKEN, OpenApi, ServerProcess, SmtpSink

API = "/api/v1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def openapi() -> OpenApi:
    return OpenApi()


@pytest.fixture(scope="session")
def profile() -> Profile:
    return load_profile("iimc")


class WebPortal:
    """An in-process portal and a client for it; every API exchange is checked against
    spec/openapi.yaml unless the test sends deliberately bad input (``check=False``)."""

    def __init__(self, runtime: Runtime, client: httpx.AsyncClient, openapi: OpenApi) -> None:
        self.runtime = runtime
        self.client = client
        self.openapi = openapi

    @property
    def outbox_codes(self) -> list[tuple[str, str, str]]:
        assert self.runtime.outbox is not None
        return [(m.to, m.subject, m.body) for m in self.runtime.outbox.messages]

    def last_code(self, to: str, digits: int = 8) -> str:
        import re

        assert self.runtime.outbox is not None
        mail = self.runtime.outbox.latest(to)
        assert mail is not None, f"no mail to {to}"
        found = re.findall(rf"(?<!\d)\d{{{digits}}}(?!\d)", mail.body)
        assert found, mail.body
        return str(found[0])

    async def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        admin: bool = False,
        check: bool = True,
        lane: str | None = None,
    ) -> httpx.Response:
        headers = {} if lane is None else {"Ninsho-Test-Clock-Lane": lane}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if admin:
            headers["authorization"] = f"Bearer {ADMIN_TOKEN}"
        if check and body is not None:
            self.openapi.check_request(method, API + path, body)
        response = await self.client.request(method, API + path, json=body, headers=headers)
        if check:
            self.openapi.check_response(response)
        return response

    async def add_user(self, login_id: str, password: str = "correct horse") -> None:
        r = await self.api("POST", "/admin/users", {"login_id": login_id, "password": password}, admin=True)
        assert r.status_code == 201, r.text

    async def login(self, login_id: str, password: str = "correct horse", **extra: Any) -> dict[str, Any]:
        r = await self.api("POST", "/login", {"login_id": login_id, "password": password, **extra})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def advance(self, seconds: float) -> None:
        r = await self.api("POST", "/test-clock", {"advance_seconds": seconds})
        assert r.status_code == 200, r.text

    async def user_with_email(self, login_id: str, address: str) -> None:
        """An account whose address for email-authentication is registered."""
        await self.add_user(login_id)
        session = (await self.login(login_id))["session"]
        r = await self.api("POST", "/settings/email", {"address": address}, token=session)
        assert r.status_code == 200, r.text
        r = await self.api(
            "POST", "/settings/email/confirm", {"code": self.last_code(address)}, token=session
        )
        assert r.status_code == 200, r.text
        assert (await self.api("POST", "/logout", token=session)).status_code == 204


MakePortal = Callable[..., Awaitable[WebPortal]]


@pytest.fixture
async def make_portal(tmp_path: Path, openapi: OpenApi, profile: Profile) -> AsyncIterator[MakePortal]:
    """Builds in-process portals on a SQLite file each; all are closed at teardown."""
    made: list[tuple[Runtime, httpx.AsyncClient]] = []

    async def make(**overrides: Any) -> WebPortal:
        settings: dict[str, Any] = {
            "profile": profile,
            "db_path": tmp_path / f"portal{len(made)}.sqlite",
            "pepper": secrets.token_bytes(32),
            "admin_token": ADMIN_TOKEN,
            "test_clock": True,
            "hash_cost": 4,
        }
        settings.update(overrides)
        config = ServerConfig(**settings)
        runtime = build_runtime(config)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(config, runtime)), base_url="http://testserver"
        )
        made.append((runtime, client))
        return WebPortal(runtime, client, openapi)

    yield make
    for runtime, client in made:
        await client.aclose()
        runtime.close()


@pytest.fixture
async def portal(make_portal: MakePortal) -> WebPortal:
    return await make_portal()


# --- real processes --------------------------------------------------------------------
@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp_sink: SmtpSink) -> Iterator[ServerProcess]:
    """One ``ninsho serve`` per module, relaying to the SMTP sink, with the test clock."""
    workdir = tmp_path_factory.mktemp("server")
    process = ServerProcess(workdir, smtp_port=smtp_sink.port).start()
    yield process
    process.stop()
    shutil.rmtree(workdir, ignore_errors=True)
