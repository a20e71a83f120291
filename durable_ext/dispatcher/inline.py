"""Which orchestrator episodes and activity calls run on the event loop's own thread instead of a user thread.

Both are user code, so they normally run on a user thread (``functions.threads``): user code may
block, and meanwhile the loop keeps serving HTTP, committing and running every other instance. The
hop costs, though: to the thread and back is two wake-ups and two more loop iterations, about a
tenth of a one-activity orchestration's start-to-result time on these 2-core VMs per hop. When the
process has nothing else in flight — at most the one item of each dispatcher loop that leads to
this call (the activity whose result an episode takes, the episode that scheduled an activity) —
the hop buys nothing: the loop would only wait. There the call runs on the loop's thread, provided
that:

- an episode replays little: a first episode, or the continuation of an extended session (a full
  replay of a long history goes to a thread); an activity is a plain ``def`` (an ``async def``
  one runs on the loop anyway);
- its function has shown itself quick: its last ``PROVEN`` calls each took at most the limit,
  wherever they ran. Each kind has its own record and limit (:class:`InlineCalls`): app settings
  ``DURABLE_EXT_INLINE_EPISODE_MS`` (default 5 ms) and ``DURABLE_EXT_INLINE_ACTIVITY_MS`` (default
  1 ms: activities do I/O, and one that is quick three times may not be the fourth); 0 turns a
  kind off.

Under load calls keep going to threads, where they overlap the loop's own work (a fan-in's episodes
among its activities' results, too: run inline, each took fewer results and the fan-out of 1,000
took 40 % longer with one process). A call on the loop's thread that takes longer than the limit
sends its function back to user threads for good (in this process): the worst a function that
turns slow costs is one call's stall of the process. While a call runs inline the loop is hidden
from it (``asyncio.get_running_loop()`` fails, ``asyncio.run`` works), as on a user thread.

A runaway cannot be stopped on either thread. On a user thread it fails at functionTimeout and its
process is recycled (``dispatcher.timeouts``). On the loop's thread it stalls the process, so the
:class:`~durable_ext.dispatcher.timeouts.LoopWatchdog` recycles the process once the call has run
for functionTimeout; nothing of the call was committed, so a fresh process — which knows no
function as quick — retries it on a user thread, where it fails as any runaway does. Only
``durable-ext start`` with a functionTimeout runs calls inline (it has the watchdog), and only on a
hub that hands work over in-process (SQLite: ``HandsOffWork``); worker mode and the test kit never do.
"""

from __future__ import annotations

import time
from asyncio import events
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from durable_ext.log import logger

T = TypeVar("T")

#: Quick calls in a row after which a function's calls may run on the loop's thread.
PROVEN = 3
#: The limits when the app settings give none (seconds).
DEFAULT_EPISODE_LIMIT = 0.005
DEFAULT_ACTIVITY_LIMIT = 0.001
_DEMOTED = -1  # ran long on the loop's thread: user threads from now on


@dataclass(frozen=True, slots=True)
class Running:
    """The call running on the loop's thread (for the watchdog)."""

    function_name: str
    instance_id: str
    started: float  # InlineCalls.clock()


class InlineCalls:
    """The record of how long one kind's calls (``kind``: "Orchestrator", "Activity") take per
    function, and the call running inline."""

    def __init__(
        self,
        kind: str,
        limit: float = DEFAULT_EPISODE_LIMIT,
        proven: int = PROVEN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limit``: seconds a call may take and still count as quick; ``clock``: seconds, monotonic."""
        self.kind = kind
        self.limit = limit
        self.proven = proven
        self.clock = clock
        self.running: Running | None = None
        self._quick: dict[str, int] = {}  # function name → quick calls in a row (capped), or _DEMOTED
        self._others: list[Callable[[], int]] = []

    def alongside(self, in_flight: Callable[[], int]) -> None:
        """Count a dispatcher loop's work (``in_flight()``: its items running now, the caller's own
        included) as the process's."""
        self._others.append(in_flight)

    def quiet(self) -> bool:
        """Whether the loops (``alongside``) have at most one item each in flight."""
        # Asked several times per orchestration step: a plain loop, not all() over a generator.
        for in_flight in self._others:  # noqa: SIM110
            if in_flight() > 1:
                return False
        return True

    def allows(self, function_name: str) -> bool:
        """Whether ``function_name`` has shown itself quick (the dispatcher checks the rest)."""
        return self._quick.get(function_name, 0) >= self.proven

    def run(self, function_name: str, instance_id: str, call: Callable[[], T]) -> T:
        """``call()`` here, on the loop's thread, watched and timed, the running loop hidden from it."""
        started = self.clock()
        self.running = Running(function_name, instance_id, started)
        loop = events._get_running_loop()
        events._set_running_loop(None)
        try:
            return call()
        finally:
            events._set_running_loop(loop)
            self.running = None
            self._note(function_name, self.clock() - started, inline=True)

    def timed(self, function_name: str, call: Callable[[], T]) -> T:
        """``call()``, timed (on a user thread)."""
        started = self.clock()
        try:
            return call()
        finally:
            self._note(function_name, self.clock() - started, inline=False)

    def overdue(self, limit: float) -> Running | None:
        """The call running on the loop's thread if it has run for longer than ``limit`` seconds."""
        running = self.running
        return running if running is not None and self.clock() - running.started > limit else None

    def _note(self, function_name: str, seconds: float, *, inline: bool) -> None:
        # Called from user threads too: each call is one read and one write of a dict entry.
        count = self._quick.get(function_name, 0)
        if count == _DEMOTED:
            return
        if seconds <= self.limit:
            self._quick[function_name] = min(count + 1, self.proven)
        elif inline:
            self._quick[function_name] = _DEMOTED
            logger.info(
                "%s '%s' took %.0f ms on the event loop's thread; it runs on worker threads from now on.",
                self.kind,
                function_name,
                seconds * 1000,
            )
        else:
            self._quick[function_name] = 0
