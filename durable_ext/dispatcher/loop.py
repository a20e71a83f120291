"""The shape every dispatcher loop shares: fetch work under a concurrency limit, sleep well.

A loop takes a slot, asks the provider for one work item, and hands it to a task — or, with
``fetch_many`` (a provider that can lock several at once), takes every free slot (up to
``max_batch``) and asks for that many in one call; with nothing to do it sleeps until this process enqueues work (``WorkSignal``), until the next timer is due,
or at most ``max_poll`` (other processes sharing the hub cannot wake us). Errors talking to
storage are logged and retried with back-off; they never end the loop.
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
        self.slots = asyncio.Semaphore(concurrency)
        self.signal = provider.work_signal.event(name)
        self.running: set[asyncio.Task] = set()
        self._stopping = False

    async def run(self) -> None:
        backoff = 0.05
        while not self._stopping:
            await self.slots.acquire()
            if self._stopping:
                self.slots.release()
                break
            taken = 1
            while self.fetch_many is not None and taken < self.max_batch and not self.slots.locked():
                await self.slots.acquire()  # a free slot: returns at once
                taken += 1
            self.signal.clear()
            try:
                if self.fetch_many is not None:
                    items = await self.fetch_many(taken)
                else:
                    item = await self.fetch()
                    items = [] if item is None else [item]
            except Exception:
                for _ in range(taken):
                    self.slots.release()
                logger.exception("%s: fetching work failed; retrying in %.1fs", self.name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.05
            for _ in range(taken - len(items)):
                self.slots.release()
            if not items:
                await self._idle()
                continue
            for item in items:
                task = asyncio.create_task(self._run_one(item))
                self.running.add(task)
                task.add_done_callback(self.running.discard)

    async def _run_one(self, item: T) -> None:
        try:
            await self.handle(item)
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
