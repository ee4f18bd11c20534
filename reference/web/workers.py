"""The worker threads that run the portal's blocking calls (scrypt, SQLite and its fsync).

Every API call and page action hops from the event loop to a thread and back. Starlette's
``run_in_threadpool`` (``anyio.to_thread.run_sync``) did that hop with an extra pass through the
event loop (a checkpoint), a capacity limiter, a cancel scope and a ``queue.Queue`` built on
Python-level conditions: about 100-130 µs of CPU per hop on the benchmark machine (2 cores, a
VM), against 15-45 µs for this pool (a C ``SimpleQueue`` and one ``call_soon_threadsafe``)
and 50-90 µs for ``loop.run_in_executor`` with a ``ThreadPoolExecutor``. The hop is on every
TOTP verification, so it was about a tenth of its CPU over HTTP (benchmarks/README.md, item 3).

What it keeps from anyio's default:

- at most 40 threads (anyio's default limiter), started only when no thread is idle; beyond
  that, calls wait in the queue;
- the caller's context variables are copied into the call;
- a call that was submitted always runs to its end, and a caller cancelled meanwhile still waits
  for it before the cancellation goes on: a transaction may be committing, and the store must
  not be closed under it (the lifespan closes the store once the requests are done).

One pool for the process (the threads are daemons and never exit), shared by every app and
event loop: a test suite that builds hundreds of apps still has at most 40 such threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")
MAX_THREADS = 40

_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], contextvars.Context, Callable[[Any], Any], Any]


class _Pool:
    def __init__(self, max_threads: int) -> None:
        self._max = max_threads
        self._reset()
        # A forked child has none of the parent's threads: it starts with an empty pool.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads done with their last job and not yet promised another one

    def submit(self, fn: Callable[[A], T], arg: A) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            start = not self._idle and self._threads < self._max
            if self._idle:
                self._idle -= 1
            elif start:
                self._threads += 1
        self._jobs.put((loop, future, contextvars.copy_context(), fn, arg))
        if start:
            threading.Thread(target=self._work, name="ninsho-worker", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            loop, future, context, fn, arg = self._jobs.get()
            result: Any = None
            error: BaseException | None = None
            try:
                result = context.run(fn, arg)
            except BaseException as exc:  # handed to the caller, as anyio does
                error = exc
            with self._lock:  # before the answer: the caller's next call finds this thread idle
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if isinstance(error, StopIteration):  # a future cannot hold StopIteration (anyio does the same)
        wrapped = RuntimeError("the call raised StopIteration")
        wrapped.__cause__ = error
        error = wrapped
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_POOL = _Pool(MAX_THREADS)


async def run_blocking(fn: Callable[[A], T], arg: A) -> T:
    """``fn(arg)`` in a worker thread; its result, or its exception raised here."""
    future = _POOL.submit(fn, arg)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():  # see "always runs to its end" above
            try:
                await asyncio.wait((future,))
            except asyncio.CancelledError:
                continue
        raise
