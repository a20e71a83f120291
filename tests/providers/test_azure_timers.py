"""Timers are delayed control-queue messages; one longer than the queue's maximum delay hops.

Azure caps a message's invisibility at 7 days (DF asks for at most 6), so a longer timer is sent
with the capped delay and hidden again each time it shows up early. The tests shrink the cap to
one second instead of waiting a week.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from durable_ext.core import events as e
from durable_ext.core.messages import TaskMessage
from tests.azurite import azure_provider, new_hub

LOCK = timedelta(seconds=30)


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def now(self) -> datetime:
        return self.value


def test_queue_delays_are_whole_seconds_never_early_and_capped_at_six_days(azurite, run):
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    provider = azure_provider(azurite.connection_string, new_hub("Delay"))
    provider.storage.queues.clock = ManualClock(t0)
    delay = provider.storage.queues.delay_seconds
    assert delay(None) == 0 and delay(t0 - timedelta(hours=1)) == 0
    assert delay(t0 + timedelta(seconds=1.2)) == 2
    assert delay(t0 + timedelta(days=6)) == 6 * 86400
    assert delay(t0 + timedelta(days=30)) == 6 * 86400  # the rest is hopped
    run(provider.close())


def test_a_timer_beyond_the_maximum_delay_hops_and_fires_on_time(run, azurite):
    async def scenario():
        hub = new_hub("Hop")
        short = {"max_queue_delay": timedelta(seconds=1)}
        sender = azure_provider(azurite.connection_string, hub, **short)
        worker = azure_provider(azurite.connection_string, hub, max_polling_interval=timedelta(seconds=0.1), **short)
        try:
            await sender.create_hub()
            fire_at = datetime.now(UTC) + timedelta(seconds=3.5)
            fired = e.TimerFired(timestamp=fire_at, timer_id=0, fire_at=fire_at)
            await sender.send_message(TaskMessage("sleeper", fired), visible_at=fire_at)
            item, deadline = None, time.monotonic() + 10
            while item is None and time.monotonic() < deadline:
                item = await worker.lock_next_orchestration(now=datetime.now(UTC), lock_timeout=LOCK, worker_id="w")
                await asyncio.sleep(0.1)
            delivered = datetime.now(UTC)
            assert item is not None and [m.event for _, m in item.messages] == [fired]
            assert fire_at <= delivered < fire_at + timedelta(seconds=1.5)
            assert worker.sessions.hops >= 2  # seen early at ~1 s and ~2 s, hidden again each time
        finally:
            await sender.close()
            await worker.close()

    run(scenario())
