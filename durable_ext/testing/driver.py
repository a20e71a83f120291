"""Run the dispatchers' work until nothing is runnable — a real quiescence condition, not a sleep.

The host runs each :class:`~durable_ext.dispatcher.loop.WorkLoop` forever, sleeping on its work
signal or the next timer. A test needs to know *when everything runnable has run*, so the
:class:`Driver` runs the very same ``fetch`` / ``handle`` pair of each loop itself, in rounds:

* a round clears every wake source (the provider's work signals and the driver's own), asks
  each loop for work until it has none, and starts a task per work item;
* while tasks run, the driver waits for one to finish or for a wake source to be set;
* the hub is **quiescent** when a round found no work, no task is running and no wake source was
  set meanwhile (a client call from the test enqueues work and sets a signal, so it can never
  slip between a round and the quiescence it would contradict).

Work is never handed from one loop to another past the driver (``WorkLoop.takes_handoffs`` is
off): every item is fetched in a round, so none runs where the driver does not see it.

Time never moves here: timers that are not yet due simply are not runnable. Moving the clock is
the caller's decision (see ``AsyncTestEnv.wait_for_completion`` and ``skip_time``).
A work item whose handler raises is a runtime bug; it is kept and re-raised to the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from durable_ext.dispatcher.loop import WorkLoop
from durable_ext.errors import DurableExtError


class HarnessError(DurableExtError):
    """The test harness cannot go on: a runtime bug surfaced, or a wait cannot end."""


class Driver:
    """Runs ``loops``' work items as tasks; ``settle()`` returns once the hub is quiescent."""

    def __init__(self, loops: Sequence[WorkLoop], *, concurrency: int = 64) -> None:
        self.loops = list(loops)
        for loop in self.loops:
            loop.takes_handoffs = False
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        self._quiet = asyncio.Event()
        self._running: set[asyncio.Task] = set()
        self._errors: list[BaseException] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="durable-ext-test-driver")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.wait(set(self._running))

    async def settle(self, timeout: float) -> None:
        """Return when nothing is runnable; ``timeout`` (wall seconds) only guards against hung user code."""
        self.raise_errors()
        self._quiet.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            raise HarnessError("the test environment is not running (closed, or its driver failed)")
        waiter = asyncio.ensure_future(self._quiet.wait())
        try:
            done, _ = await asyncio.wait({waiter, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._task in done:
            self._task.result()  # the driver itself failed: raise its error
        if waiter not in done:
            raise HarnessError(
                f"work was still running after {timeout:g} s of wall time; an activity or orchestrator may be "
                "blocked (virtual time does not move while anything runs)"
            )
        self.raise_errors()

    def raise_errors(self) -> None:
        if self._errors:
            error, self._errors = self._errors[0], []
            raise HarnessError(f"a work item failed inside the runtime: {error!r}") from error

    # -- the loop ------------------------------------------------------------------------------

    def _sources(self) -> list[asyncio.Event]:
        return [self._wake, *(loop.signal for loop in self.loops)]

    async def _run(self) -> None:
        while True:
            for source in self._sources():
                source.clear()
            started = await self._fill()
            if self._running:
                await self._wait_for_change()
                continue
            if started or any(source.is_set() for source in self._sources()):
                continue
            self._quiet.set()
            await self._wait_for_change()
            self._quiet.clear()

    async def _fill(self) -> bool:
        started = False
        for loop in self.loops:
            while len(self._running) < self.concurrency:
                item = await loop.fetch()
                if item is None:
                    break
                task = asyncio.create_task(self._handle(loop, item))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                started = True
        return started

    async def _handle(self, loop: WorkLoop, item: object) -> None:
        try:
            await loop.handle(item)
        except Exception as exc:
            self._errors.append(exc)

    async def _wait_for_change(self) -> None:
        waiters = [asyncio.ensure_future(source.wait()) for source in self._sources()]
        try:
            await asyncio.wait({*waiters, *self._running}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
