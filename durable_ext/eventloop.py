"""The host's event loop: asyncio's, with a short spin before it sleeps.

When the loop has nothing to do it blocks in ``epoll_wait``; on a virtual machine its CPU then
halts, and the next request's arrival has to wake it first (measured on the 2-core VMs this
project runs on: about 8 % of a one-activity orchestration's start-and-wait answer, ~90 µs of
1.1 ms). :class:`SpinningSelector` first polls without blocking for up to ``spin`` seconds, so
work that arrives right after the last — a client's next request, the reply of another process —
is picked up by a loop that never slept. The loop only spins when it is about to block, at most
``spin`` each time: an idle host wakes about once a second (the dispatchers' polls), so the cost
is a fraction of a per mille of a core; a busy one rarely blocks at all.

App setting ``DURABLE_EXT_IDLE_SPIN_US`` (``config.idle_spin``): microseconds, 0 turns it off. By
default it is on for SQLite hubs only: on Azure Storage the loop mostly waits for storage round
trips, and spinning through them only took CPU from what answers them (an Azurite on the same
machine answered a one-activity orchestration 11 % slower).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable


class SpinningSelector(selectors.DefaultSelector):
    """A selector whose blocking ``select`` polls for up to ``spin`` seconds before it blocks."""

    def __init__(self, spin: float, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self.spin = spin
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if self.spin <= 0 or (timeout is not None and timeout <= 0):
            return super().select(timeout)
        started = self.clock()
        deadline = started + self.spin
        while True:
            ready = super().select(0)
            if ready:
                return ready
            now = self.clock()
            if now >= deadline:
                break
        if timeout is not None:
            timeout = max(0.0, timeout - (now - started))  # timers stay on time
        return super().select(timeout)


def new_event_loop(spin: float) -> asyncio.AbstractEventLoop:
    """The host's loop: asyncio's selector loop on a :class:`SpinningSelector` (a plain one when
    ``spin`` is 0)."""
    if spin <= 0:
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(SpinningSelector(spin))
