"""host.json ``functionTimeout`` for orchestrator episodes, entity batches and activities.

The Functions host fails an invocation that outlives ``functionTimeout`` with
``FunctionTimeoutException("Timeout value of hh:mm:ss was exceeded by function: Functions.<name>")``
and, for out-of-process languages, recycles the worker process: a Python thread cannot be stopped, so
only the end of its process reclaims the CPU of a runaway loop. Durable Functions then treats the
failure like any other: a timed-out activity is a ``TaskFailed`` the orchestrator can catch, a
timed-out orchestrator fails its instance (and its parent sees a failed sub-orchestration).

Here the same happens in two halves:

* :meth:`FunctionTimeouts.run` races the invocation against the limit. On expiry it logs the host's
  "Timeout value of … exceeded by function …. Initiating cancellation." line and raises
  :class:`~durable_ext.errors.FunctionTimeoutError`; the dispatcher then commits the failure durably
  (the lock is still held: it is being renewed) without running user code again — the runaway keeps
  its thread, which no longer matters to anything.
* The dispatcher then calls :meth:`FunctionTimeouts.runaway`, which hands over to whoever owns the
  process (``on_runaway``): ``durable_ext start`` lets its host process end so that its supervisor
  starts a fresh one (``durable_ext.supervisor``). Worker-extension mode builds no limit: there the
  Functions host owns the worker process and its functionTimeout (``engine.Engine``). Nothing in
  user code state survives a recycle, so nothing may depend on it (in-memory caches fall back to
  replaying history).

An ``async def`` function that never awaits blocks the event loop itself, so nothing on the loop can
notice it; :class:`LoopWatchdog` is a thread that ends the process when the loop has not run for
longer than the limit. That invocation is not failed durably (nothing can write while the loop is
stuck): it runs again after the restart, like work of a killed process. The same thread watches an
orchestrator episode or activity call that runs on the loop's thread (``dispatcher.inline``) and
recycles the process once it has run for functionTimeout; its retry runs on a user thread and times
out as above.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TypeVar

from durable_ext.dispatcher.inline import InlineCalls
from durable_ext.errors import FunctionTimeoutError
from durable_ext.log import flush_console, logger

T = TypeVar("T")

#: Exit status of a host process that ends to reclaim a runaway function's CPU; its supervisor
#: starts a fresh one at once.
RECYCLE_EXIT_CODE = 3


def timeout_text(limit: timedelta) -> str:
    """``hh:mm:ss`` as .NET prints a TimeSpan (``d.hh:mm:ss`` past a day)."""
    total = int(limit.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}.{text}" if days else text


class FunctionTimeouts:
    """The limit (None = unlimited) and what to do once a runaway has been failed."""

    def __init__(self, limit: timedelta | None, on_runaway: Callable[[str], None] | None = None) -> None:
        self.limit = limit
        self.on_runaway = on_runaway
        self.runaways = 0

    async def run(self, function_name: str, invocation_id: str, work: Awaitable[T]) -> T:
        """Await ``work``; raise FunctionTimeoutError when it outlives the limit (``work`` is cancelled,
        which stops a coroutine but not a thread — see :meth:`runaway`)."""
        if self.limit is None:
            return await work
        # asyncio.timeout cancels this task's await at the limit — a timer, where a task and
        # asyncio.wait per invocation cost several percent of a HelloSequence5's host time.
        try:
            async with asyncio.timeout(self.limit.total_seconds()) as limit:
                return await work
        except TimeoutError:
            if not limit.expired():
                raise  # the function's own TimeoutError, not ours
        shown = timeout_text(self.limit)
        logger.error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). Initiating cancellation.",
            shown,
            function_name,
            invocation_id,
        )
        raise FunctionTimeoutError(f"Timeout value of {shown} was exceeded by function: Functions.{function_name}")

    def runaway(self, function_name: str) -> None:
        """The timed-out invocation's failure is committed; reclaim its CPU (``on_runaway``)."""
        self.runaways += 1
        if self.on_runaway is not None:
            self.on_runaway(function_name)


class LoopWatchdog:
    """A thread that ends the process (status ``RECYCLE_EXIT_CODE``) when the event loop stops running
    for longer than ``limit`` — an ``async def`` function that never yields — or, with ``inline``,
    when a call of one of those kinds has run on the loop's thread for longer than ``episode_limit``
    (functionTimeout: ``dispatcher.inline``)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: timedelta,
        exit: Callable[[int], None] = os._exit,
        *,
        inline: Sequence[InlineCalls] = (),
        episode_limit: timedelta | None = None,
    ):
        self.loop = loop
        self.limit = limit.total_seconds()
        self.exit = exit
        self.inline = tuple(inline) if episode_limit is not None else ()
        self.episode_limit = episode_limit.total_seconds() if episode_limit is not None else 0.0
        self.beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="durable-loop-watchdog", daemon=True)
        self._tick: asyncio.Task | None = None

    def start(self) -> None:
        self._tick = self.loop.create_task(self._heartbeat())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._tick is not None:
            self._tick.cancel()

    async def _heartbeat(self) -> None:
        period = min(1.0, self.limit / 4)
        while True:
            self.beat = time.monotonic()
            await asyncio.sleep(period)

    def _watch(self) -> None:
        period = min(1.0, self.limit / 4, self.episode_limit / 4 if self.inline else 1.0)
        while not self._stop.wait(period):
            overdue = next((found for inline in self.inline if (found := inline.overdue(self.episode_limit))), None)
            if overdue is not None:
                logger.error(
                    "Timeout value of %s exceeded by function 'Functions.%s' running on the event loop's thread "
                    "(instance '%s'). Recycling the host process; the call is retried on a worker thread.",
                    timeout_text(timedelta(seconds=self.episode_limit)),
                    overdue.function_name,
                    overdue.instance_id,
                )
                flush_console()
                self.exit(RECYCLE_EXIT_CODE)
                return
            stalled = time.monotonic() - self.beat
            if stalled > self.limit:
                logger.error(
                    "The event loop has not run for %.0fs (functionTimeout %s): an async function is blocking it. "
                    "Recycling the host process.",
                    stalled,
                    timeout_text(timedelta(seconds=self.limit)),
                )
                flush_console()
                self.exit(RECYCLE_EXIT_CODE)
                return
