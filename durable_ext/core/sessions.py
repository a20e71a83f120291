"""Extended sessions: an orchestration's replay state kept in memory from one episode to the next.

Without a session every episode replays the whole history through the orchestrator (and our
aligner), so an orchestration of N steps costs O(N²). With one, the orchestrator's state (the
SDK's executor, context and suspended generator — owned by ``durable_ext.functions``, opaque
here) and the :class:`~durable_ext.core.shim.Aligner` stay alive, and the next episode feeds
them only the events appended since: the scheduling events the last episode committed and the
new messages. The .NET host calls this an extended session (``extendedSessionsEnabled``).

A session is only ever *continued* when the history is exactly the one it left behind: same
execution, same length, same last event. Anything else — a restart, eviction, another worker
that ran an episode, a rewind, continue-as-new, a commit that failed — is a miss, and the
episode replays in full, which gives the identical result (the property test in
tests/core/test_sessions.py holds the two ways to the same histories). A full replay also
starts a new session. The cache that keeps sessions between episodes belongs to the dispatcher
(``durable_ext.dispatcher.sessions``) and is injected; nothing here is process-global.

Determinism: a session never re-runs old code, so it cannot see a divergence between the code
and the history — and it cannot hide one either: code changes only by a restart, which empties
the cache, and the first episode after it replays in full and is checked event by event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from durable_ext.core import events as e
from durable_ext.core.shim import Aligner


class Resumable(Protocol):
    """An orchestrator's live state after an episode (provided by ``durable_ext.functions``)."""

    def resume(self, events: list[e.HistoryEvent]) -> str:
        """Feed the events appended to history since the last call (the new ones unplayed).

        Returns the OrchestratorState JSON the SDK's ``handle`` would return for a full replay,
        except that ``actions`` holds only the actions added by this call. Raises as ``handle``
        does (a failure's message ends in ``$OutOfProcData$:`` + state JSON, same rule).
        """


@runtime_checkable
class SessionOrchestrator(Protocol):
    """An orchestrator (``Invoke``) that can also start a session on a full replay."""

    def __call__(self, context_json: str) -> str: ...

    def start_session(self, trigger: str | dict[str, Any]) -> tuple[str, Resumable | None]:
        """Like ``__call__`` (full replay; all actions), plus the live state to continue from,
        or None when there is nothing to continue (the orchestrator is not a generator, or done).

        ``trigger``: the trigger JSON, or for a first episode what the SDK parses from it
        (``core.wire.orchestration.context_dict``)."""


@dataclass(slots=True)
class EpisodeSession:
    """What one instance's next episode continues from.

    ``consumed`` is how many history events the orchestrator and the aligner have seen;
    ``history_length`` and ``last_event`` describe the history as the episode that made this
    session committed it (set by ``core.transitions``; until then the session is not usable).
    """

    execution_id: str
    orchestrator: Resumable
    aligner: Aligner
    consumed: int
    history_length: int = -1
    last_event: e.HistoryEvent | None = None

    def continues(self, history: list[e.HistoryEvent], execution_id: str) -> bool:
        """True when ``history`` is exactly the one this session left behind."""
        return (
            self.execution_id == execution_id
            and self.last_event is not None
            and len(history) == self.history_length
            and self.consumed <= self.history_length
            and (history[-1] is self.last_event or history[-1] == self.last_event)
        )
