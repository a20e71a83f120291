"""The shape every dispatcher loop shares: fetch work under a concurrency limit, sleep well.

A loop takes a slot, asks the provider for one work item, and hands it to a task — or, with
``fetch_many`` (a provider that can lock several at once), takes every free slot (up to
``max_batch``) and asks for that many in one call; with nothing to do it sleeps until this process enqueues work (``WorkSignal``), until the next timer is due,
or at most ``max_poll`` (other processes sharing the hub cannot wake us). Errors talking to
storage are logged and retried with back-off; they never end the loop.

Work can also arrive without a fetch: another dispatcher of this process that commits follow-up
work locks it for this loop in the same transaction (``providers.base.HandsOffWork``). It first
reserves free slots (``reserve``; never more than the concurrency limit allows), then hands over
what it got (``accept``); the items run exactly as fetched ones do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from durable_ext.core.clock import Clock
from durable_ext.log import logger
from durable_ext.providers.base import Provider

T = TypeVar("T")


class Slots:
    """A counting semaphore that can also be taken without waiting (one waiter: the loop)."""

    def __init__(self, count: int) -> None:
        self.free = count
        self._freed = asyncio.Event()

    def locked(self) -> bool:
        return self.free <= 0

    async def acquire(self) -> None:
        while self.free <= 0:
            self._freed.clear()
            await self._freed.wait()
        self.free -= 1

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` free slots, at once; how many were taken."""
        taken = max(0, min(wanted, self.free))
        self.free -= taken
        return taken

    def release(self, count: int = 1) -> None:
        self.free += count
        self._freed.set()


class WorkLoop(Generic[T]):
    def __init__(
        self,
        name: str,
        provider: Provider,
        clock: Clock,
        *,
        concurrency: int,
        fetch: Callable[[], Awaitable[T | None]],
        handle: Callable[[T], Awaitable[None]],
        max_poll: float = 1.0,
        fetch_many: Callable[[int], Awaitable[list[T]]] | None = None,
        max_batch: int = 32,
    ) -> None:
        self.name = name
        self.provider = provider
        self.clock = clock
        self.fetch = fetch
        self.fetch_many = fetch_many
        self.max_batch = max_batch
        self.handle = handle
        self.max_poll = max_poll
        self.concurrency = concurrency
        self.slots = Slots(concurrency)
        self._fetching = 0  # slots a fetch holds while it asks the provider (not yet work)
        self.signal = provider.work_signal.event(name)
        self.running: set[asyncio.Task] = set()
        #: Whether other dispatchers may hand work to this loop (``reserve``); the test kit's driver,
        #: which runs the loops' work in rounds of its own, turns it off.
        self.takes_handoffs = True
        self._stopping = False

    async def run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            await self.slots.acquire()
            if self._stopping:
                self.slots.release()
                break
            taken = 1
            if self.fetch_many is not None:
                taken += self.slots.take(self.max_batch - 1)  # every free slot, up to a batch
            self.signal.clear()
            self._fetching = taken
            items: list[T] | None
            try:
                if self.fetch_many is not None:
                    items = await self.fetch_many(taken)
                else:
                    item = await self.fetch()
                    items = [] if item is None else [item]
            except Exception:
                logger.exception("%s: fetching work failed; retrying in %.1fs", self.name, backoff)
                items = None
            finally:
                self._fetching = 0
            if items is None:
                self.slots.release(taken)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.05
            self.accept(items, taken)
            if not items:
                await self._idle()

    def in_flight(self) -> int:
        """Work items this loop is running now, fetched or handed over (a fetch under way not counted)."""
        return self.concurrency - self.slots.free - self._fetching

    def reserve(self, wanted: int) -> int:
        """Take up to ``wanted`` free slots for work handed over (see the module docstring)."""
        return self.slots.take(wanted) if self.takes_handoffs and not self._stopping else 0

    def accept(self, items: list[T], reserved: int) -> None:
        """Run ``items`` (at most ``reserved``) in reserved slots; the slots left over are freed."""
        for item in items:
            self.run_reserved(self.handle(item))
        if reserved > len(items):
            self.slots.release(reserved - len(items))

    def run_reserved(self, work: Awaitable[None]) -> None:
        """Run ``work`` (one item's handling, however it came) in a slot reserved for it, as a
        fetched item runs: waited for at ``stop``, its slot freed when it ends."""
        task = asyncio.ensure_future(self._run_one(work))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _run_one(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            logger.exception("%s: processing a work item failed; it will be retried when its lock expires", self.name)
        finally:
            self.slots.release()

    async def _idle(self) -> None:
        timeout = self.max_poll
        try:
            due = await self.provider.next_visible_time(self.clock.now())
        except Exception:
            due = None
        if due is not None:
            timeout = max(0.0, min(timeout, (due - self.clock.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.signal.wait(), timeout)

    async def stop(self, grace: float) -> None:
        """Stop fetching; let running items finish for up to ``grace`` seconds."""
        self._stopping = True
        self.signal.set()
        if self.running:
            _, pending = await asyncio.wait(set(self.running), timeout=grace)
            for task in pending:
                task.cancel()
