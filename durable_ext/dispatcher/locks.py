"""Keep a work item's lock while its user code runs.

A lock expires so that a dead worker's work is retried; a live worker whose episode, entity batch or
activity runs longer than the lock would lose it to itself or another worker and never commit (DTFx
renews its work-item locks in the dispatcher for the same reason: ``WorkItemDispatcher`` /
``TaskActivityDispatcher.RenewUntil``). :func:`renewing` extends the lock every third of its
timeout until the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from durable_ext.errors import LockLostError
from durable_ext.log import logger


@contextlib.asynccontextmanager
async def renewing(renew: Callable[[], Awaitable[None]], lock_timeout: timedelta, what: str) -> AsyncIterator[None]:
    """Call ``renew()`` every ``lock_timeout / 3`` while the block runs.

    Stops on ``LockLostError`` (the commit will then be rejected, as it must); other errors are
    logged and retried at the next tick — a storage hiccup must not end the renewals. Leaving the
    block waits for a renewal in flight instead of cancelling it: on Azure Storage a renewal
    changes the messages' pop receipts, and a commit must start from the ones it left. Commit after
    the block, not inside it, for the same reason.

    A timer, not a task, waits for the first tick: nearly every episode and activity ends long
    before it, and this runs for each of them (a task and a ``wait_for`` per block were several
    percent of a HelloSequence5's host time).
    """
    renewer = _Renewer(renew, max(0.2, lock_timeout.total_seconds() / 3), what)
    try:
        yield
    finally:
        await renewer.stop()


class _Renewer:
    def __init__(self, renew: Callable[[], Awaitable[None]], interval: float, what: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.renew = renew
        self.interval = interval
        self.what = what
        self.task: asyncio.Task | None = None
        self.stopped = False
        self.timer: asyncio.TimerHandle | None = self.loop.call_later(interval, self._tick)

    def _tick(self) -> None:
        self.timer = None
        if not self.stopped:
            self.task = self.loop.create_task(self._renew_once())

    async def _renew_once(self) -> None:
        try:
            await self.renew()
        except LockLostError:
            logger.warning("%s: lock lost while running; its result will not be committed", self.what)
            return
        except Exception as exc:
            logger.warning("%s: renewing the lock failed (%s: %s); retrying", self.what, type(exc).__name__, exc)
        if not self.stopped:
            self.timer = self.loop.call_later(self.interval, self._tick)

    async def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.task is not None and not self.task.done():
            await self.task  # a renewal in flight finishes (see renewing)


async def hand_back(abandon: Callable[[], Awaitable[None]], what: str, error: Exception, *, pause: float = 1.0) -> None:
    """A result could not be written (disk full, storage down): give the work item back now.

    Without this the item stays locked until its lock expires (minutes) although nobody works on it.
    ``pause`` first, so that a storage that keeps failing is not hammered by the same item; the retry
    then comes from whichever worker takes the item next. If handing back fails too, the lock's
    expiry is the retry.
    """
    logger.error("%s: the result could not be written (%s); handing the work item back for a retry", what, error)
    await asyncio.sleep(pause)
    try:
        await abandon()
    except Exception as again:
        logger.error("%s: handing the work item back failed too (%s); it is retried when its lock expires", what, again)
