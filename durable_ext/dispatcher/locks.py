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
    """
    stop = asyncio.Event()
    task = asyncio.create_task(_renew_until_stopped(renew, lock_timeout, what, stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def _renew_until_stopped(
    renew: Callable[[], Awaitable[None]], lock_timeout: timedelta, what: str, stop: asyncio.Event
) -> None:
    interval = max(0.2, lock_timeout.total_seconds() / 3)
    while True:
        try:
            await asyncio.wait_for(stop.wait(), interval)
            return
        except TimeoutError:
            pass
        try:
            await renew()
        except LockLostError:
            logger.warning("%s: lock lost while running; its result will not be committed", what)
            return
        except Exception as exc:
            logger.warning("%s: renewing the lock failed (%s: %s); retrying", what, type(exc).__name__, exc)


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
