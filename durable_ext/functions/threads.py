"""The threads user code runs on, with a cheaper hand-off from the event loop than ``run_in_executor``.

Every orchestrator episode and every activity goes from the event loop to a thread and back (user
code may block). Through ``loop.run_in_executor`` and a ``ThreadPoolExecutor`` each round trip is
a ``concurrent.futures.Future`` chained to an asyncio one, the pool's idle semaphore, and a wake-up
of the loop — about 58 µs here, eleven times per HelloSequence5. :func:`run_in` on a
:class:`UserThreads` pool queues the call itself and settles the asyncio future straight from the
worker thread (one ``call_soon_threadsafe``): about 34 µs. Any other executor gets
``run_in_executor``; ``submit`` keeps the pool usable as a plain ``Executor`` too.

Threads are started on demand up to ``max_workers`` and live as long as the pool: a thread stuck
in user code (a runaway past functionTimeout) keeps its place, as with ``ThreadPoolExecutor``. As
there, the threads are not daemons: at interpreter exit the idle ones are told to end and the busy
ones finish their call first (worker mode hands its locks back before that wait: ``worker.runtime``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

T = TypeVar("T")

_Job = Callable[[], None]


class UserThreads(Executor):
    def __init__(self, max_workers: int, thread_name_prefix: str = "durable-user") -> None:
        self.max_workers = max_workers
        self.thread_name_prefix = thread_name_prefix
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._shut_down = False
        self._exit_hooked = False

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on a pool thread; a future of the calling event loop settles with its outcome."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def job() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:  # delivered to the awaiting coroutine, as run_in_executor does
                _deliver(loop, _fail, future, exc)
            else:
                _deliver(loop, _succeed, future, result)

        self._put(job)
        return future

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        self._put(job)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._shut_down and not wait:
                return
            self._shut_down = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _put(self, job: _Job) -> None:
        with self._lock:
            if self._shut_down:
                raise RuntimeError("cannot schedule new work after shutdown")
            if self._idle:
                self._idle -= 1  # that idle thread takes it
            elif len(self._threads) < self.max_workers:
                if not self._exit_hooked:
                    self._exit_hooked = True
                    _at_exit(lambda: self.shutdown(wait=False))
                # Not a daemon even when started from one (the engine's loop runs on a daemon thread in worker mode).
                thread = threading.Thread(
                    target=self._work, name=f"{self.thread_name_prefix}_{len(self._threads)}", daemon=False
                )
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            del job  # drop the call's references before waiting for the next one
            with self._lock:
                self._idle += 1


def _at_exit(callback: Callable[[], object]) -> None:
    """Run ``callback`` at interpreter exit before non-daemon threads are joined (as concurrent.futures does)."""
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(callback)
        else:  # pragma: no cover - every CPython this runs on has it
            import atexit

            atexit.register(callback)
    except RuntimeError:
        pass  # the interpreter is already shutting down


def run_in(executor: Executor | None, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``loop.run_in_executor(executor, fn, *args)``, cheaper on a :class:`UserThreads` pool."""
    if isinstance(executor, UserThreads):
        return executor.run(fn, *args)
    return asyncio.get_running_loop().run_in_executor(executor, fn, *args)


def _deliver(loop: asyncio.AbstractEventLoop, settle: Callable[[asyncio.Future, Any], None], future, value) -> None:
    try:
        loop.call_soon_threadsafe(settle, future, value)
    except RuntimeError:
        pass  # the loop is closed: nobody waits any more


def _succeed(future: asyncio.Future, result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        if isinstance(exc, StopIteration):  # a future refuses it (it would end a generator)
            exc = RuntimeError(f"user code raised StopIteration: {exc}")
        future.set_exception(exc)
