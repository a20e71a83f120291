"""Which orchestrator episodes run on the event loop's own thread instead of a user thread.

An episode is user code, so it normally runs on a user thread (``functions.threads``): user code
may block, and meanwhile the loop keeps serving HTTP, committing and running every other instance.
The hop costs, though: to the thread and back is two wake-ups and two more loop iterations, about a
tenth of a one-activity orchestration's start-to-result time on these 2-core VMs. When the process
has nothing else in flight — no other orchestration work, at most one activity (the one whose result
this episode takes) — the hop buys nothing: the loop would only wait. There the episode runs on the
loop's thread, provided that:

- it replays little: a first episode, or the continuation of an extended session (a full replay of
  a long history goes to a thread);
- its orchestrator function has shown itself quick: its last ``PROVEN`` episodes each took at most
  the limit (app setting ``DURABLE_EXT_INLINE_EPISODE_MS``, default 5 ms; 0 turns this off),
  wherever they ran.

Under load episodes keep going to threads, where they overlap the loop's own work (a fan-in's
episodes among its activities' results, too: run inline, each took fewer results and the fan-out of
1,000 took 40 % longer with one process). An episode on the loop's thread that takes longer than the
limit sends its function back to user threads for good (in this process).

A runaway cannot be stopped on either thread. On a user thread it fails at functionTimeout and its
process is recycled (``dispatcher.timeouts``). On the loop's thread it stalls the process, so the
:class:`~durable_ext.dispatcher.timeouts.LoopWatchdog` recycles the process once the episode has run
for functionTimeout; nothing of the episode was committed, so a fresh process — which knows no
function as quick — retries it on a user thread, where it fails as any runaway does. Only
``durable-ext start`` with a functionTimeout runs episodes inline (it has the watchdog), and only on a
hub that hands work over in-process (SQLite: ``HandsOffWork``); worker mode and the test kit never do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from durable_ext.log import logger

T = TypeVar("T")

#: Quick episodes in a row after which a function's episodes may run on the loop's thread.
PROVEN = 3
#: The limit when the app setting gives none.
DEFAULT_LIMIT = 0.005
_DEMOTED = -1  # ran long on the loop's thread: user threads from now on


@dataclass(frozen=True, slots=True)
class Running:
    """The episode running on the loop's thread (for the watchdog)."""

    function_name: str
    instance_id: str
    started: float  # InlineEpisodes.clock()


class InlineEpisodes:
    """The record of how long each orchestrator function's episodes take, and the one running inline."""

    def __init__(
        self, limit: float = DEFAULT_LIMIT, proven: int = PROVEN, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``limit``: seconds an episode may take and still count as quick; ``clock``: seconds, monotonic."""
        self.limit = limit
        self.proven = proven
        self.clock = clock
        self.running: Running | None = None
        self._quick: dict[str, int] = {}  # function name → quick episodes in a row (capped), or _DEMOTED
        self._others: list[Callable[[], int]] = []

    def alongside(self, in_flight: Callable[[], int]) -> None:
        """Count another dispatcher loop's work (``in_flight()``: its items running now) as the process's."""
        self._others.append(in_flight)

    def quiet(self) -> bool:
        """Whether the other loops (``alongside``) have at most one item each in flight."""
        return all(in_flight() <= 1 for in_flight in self._others)

    def allows(self, function_name: str) -> bool:
        """Whether ``function_name`` has shown itself quick (the dispatcher checks the rest)."""
        return self._quick.get(function_name, 0) >= self.proven

    def run(self, function_name: str, instance_id: str, episode: Callable[[], T]) -> T:
        """``episode()`` here, on the loop's thread, watched and timed."""
        started = self.clock()
        self.running = Running(function_name, instance_id, started)
        try:
            return episode()
        finally:
            self.running = None
            self._note(function_name, self.clock() - started, inline=True)

    def timed(self, function_name: str, episode: Callable[[], T]) -> T:
        """``episode()``, timed (on a user thread)."""
        started = self.clock()
        try:
            return episode()
        finally:
            self._note(function_name, self.clock() - started, inline=False)

    def overdue(self, limit: float) -> Running | None:
        """The episode running on the loop's thread if it has run for longer than ``limit`` seconds."""
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
                "Orchestrator '%s' took %.0f ms on the event loop's thread; its episodes run on worker threads "
                "from now on.",
                function_name,
                seconds * 1000,
            )
        else:
            self._quick[function_name] = 0
