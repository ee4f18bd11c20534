"""ninsho.reference.web.workers: the hop from the event loop to a worker thread and back.

It replaced Starlette's run_in_threadpool (anyio) for speed; these hold what the web edge relied
on: results and exceptions come back as they were, the caller's context variables are seen by
the call, no more than MAX_THREADS threads, and a submitted call runs to its end even when its
caller is cancelled, the caller waiting for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from ninsho.reference.web import workers
from ninsho.reference.web.workers import run_blocking

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="none")


def test_result_and_exception_come_back() -> None:
    class Refused(Exception):
        """Raised in the worker thread; the caller must get this very exception back."""

    def refuse(_: int) -> int:
        raise Refused("no")

    async def main() -> None:
        assert await run_blocking(lambda x: x * 2, 21) == 42
        with pytest.raises(Refused, match="no"):
            await run_blocking(refuse, 0)
        assert await run_blocking(lambda x: threading.current_thread().name, 0) == "ninsho-worker"

    asyncio.run(main())


def test_stop_iteration_becomes_a_runtime_error() -> None:
    def stop(_: None) -> None:
        raise StopIteration

    async def main() -> None:
        with pytest.raises(RuntimeError) as info:
            await run_blocking(stop, None)
        assert isinstance(info.value.__cause__, StopIteration)

    asyncio.run(main())


def test_the_call_sees_the_callers_context() -> None:
    async def one(name: str) -> str:
        REQUEST_ID.set(name)
        return await run_blocking(lambda _: REQUEST_ID.get(), None)

    async def main() -> list[str]:
        return await asyncio.gather(*(one(f"r{i}") for i in range(20)))

    assert asyncio.run(main()) == [f"r{i}" for i in range(20)]


def test_at_most_max_threads_and_calls_beyond_wait() -> None:
    running, peak, lock, all_in = 0, 0, threading.Lock(), threading.Event()

    def work(_: None) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            if running == workers.MAX_THREADS:
                all_in.set()
        all_in.wait(timeout=10)  # the first MAX_THREADS calls hold their threads until all run
        with lock:
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(run_blocking(work, None) for _ in range(workers.MAX_THREADS + 20)))

    asyncio.run(main())
    assert all_in.is_set() and peak == workers.MAX_THREADS
    names = [t.name for t in threading.enumerate() if t.name == "ninsho-worker"]
    assert len(names) <= workers.MAX_THREADS


def test_a_cancelled_caller_waits_for_its_call_to_end() -> None:
    started, finished = threading.Event(), threading.Event()

    def slow(_: None) -> str:
        started.set()
        time.sleep(0.2)
        finished.set()
        return "committed"

    async def main() -> None:
        task = asyncio.create_task(run_blocking(slow, None))
        while not started.is_set():
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.sleep(0.01)
        task.cancel()  # twice: the caller still waits
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished.is_set(), "the caller returned before its call ended"

    asyncio.run(main())
