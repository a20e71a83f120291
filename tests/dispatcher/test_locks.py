"""dispatcher.locks.renewing: the lock is renewed every third of its timeout while the block runs,
renewals stop when the lock is lost, and leaving the block waits for a renewal in flight."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from durable_ext.dispatcher.locks import renewing
from durable_ext.errors import LockLostError

TIMEOUT = timedelta(seconds=0.6)  # a renewal every 0.2 s


def test_renews_while_the_block_runs_and_not_after():
    calls = []

    async def scenario() -> None:
        twice = asyncio.Event()

        async def renew() -> None:
            calls.append(1)
            if len(calls) == 2:
                twice.set()

        async with renewing(renew, TIMEOUT, "item"):
            await asyncio.wait_for(twice.wait(), 30)  # bounded; a loaded machine only delays it
        await asyncio.sleep(0.5)  # two more ticks' worth: the timer was cancelled

    asyncio.run(scenario())
    assert len(calls) == 2


def test_a_short_block_never_renews():
    calls = []

    async def scenario() -> None:
        async def renew() -> None:
            calls.append(1)

        async with renewing(renew, TIMEOUT, "item"):
            await asyncio.sleep(0)
        await asyncio.sleep(0.4)

    asyncio.run(scenario())
    assert calls == []


def test_a_lost_lock_stops_renewals_and_errors_are_retried():
    outcomes = [RuntimeError("storage hiccup"), None, LockLostError("gone")]
    calls = []

    async def scenario() -> None:
        lost = asyncio.Event()

        async def renew() -> None:
            calls.append(1)
            outcome = outcomes[len(calls) - 1]
            if outcome is not None:
                if isinstance(outcome, LockLostError):
                    lost.set()
                raise outcome

        async with renewing(renew, TIMEOUT, "item"):
            await asyncio.wait_for(lost.wait(), 30)
            await asyncio.sleep(0.5)  # two more ticks' worth: none comes after the lost lock

    asyncio.run(scenario())
    assert len(calls) == 3


def test_leaving_the_block_waits_for_a_renewal_in_flight():
    finished = []

    async def scenario() -> None:
        started = asyncio.Event()

        async def renew() -> None:
            started.set()
            await asyncio.sleep(0.3)
            finished.append(True)

        async with renewing(renew, TIMEOUT, "item"):
            await started.wait()
        assert finished == [True]

    asyncio.run(scenario())
