"""A synchronous httpx transport onto an ASGI app in this process: how the html driver, which
is synchronous, browses the embedded portal's pages (conformance/drivers/embedded.py).

httpx's own ``ASGITransport`` is asynchronous only. This one runs it on an event loop of its
own, in a daemon thread shared by every app, and hands each answer back whole: the pages are
small and the driver reads them whole anyway.
"""

from __future__ import annotations

import asyncio
import threading

import httpx
from starlette.types import ASGIApp

_LOOP: asyncio.AbstractEventLoop | None = None
_LOCK = threading.Lock()


def _loop() -> asyncio.AbstractEventLoop:
    global _LOOP
    with _LOCK:
        if _LOOP is None:
            _LOOP = asyncio.new_event_loop()
            threading.Thread(target=_LOOP.run_forever, name="ninsho-asgi", daemon=True).start()
        return _LOOP


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a crash is a 500

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        status, headers, content = asyncio.run_coroutine_threadsafe(self._handle(request), _loop()).result()
        # A stream, as a network transport's answer is: not read yet (its reader may drain it raw).
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(content), request=request)

    async def _handle(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._inner.handle_async_request(request)
        try:
            content = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        return response.status_code, response.headers.raw, content
