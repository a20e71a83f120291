"""The SDK's side of extended sessions (core.sessions): keep an orchestrator's replay state alive.

``Orchestrator.create(fn)`` gives the host a ``handle(context_json)`` that builds a
``DurableOrchestrationContext`` from the whole history, runs a fresh ``TaskOrchestrationExecutor``
over it and returns the state JSON. :class:`SdkOrchestrator` does exactly what ``handle`` does
(same classes, same calls, in the same order — azure/durable_functions/orchestrator.py) and keeps
the executor, the context and the suspended generator, so the next episode can hand the executor
only the new history events: ``TaskOrchestrationExecutor.execute`` is a loop of ``process_event``
over the history, and continuing that loop with the events appended since is what a full replay
would do after reaching them — the same tasks resolve, the generator receives the same values.
What differs is only what a full replay recomputes: every old event's parse and the old part of
the action list. The state JSON of a resumed episode therefore carries only the actions added
since the previous episode (the SDK appends to its action list, never rewrites it).

This reads private attributes of the SDK (``_histories``, ``_action_payload_v2``,
``_is_processing_new_events``, ``_input_expected_type``) — checked for at start, so an SDK
version without them just runs without sessions (:func:`supports_sessions`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import GeneratorType
from typing import Any

from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.ReplaySchema import ReplaySchema
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from durable_ext.core import events as e
from durable_ext.core.wire.orchestration import trigger_event
from durable_ext.functions import replay_safe


def supports_sessions(handle: Callable[..., Any]) -> bool:
    """True when ``handle`` is the SDK's orchestrator wrapper (``Orchestrator.create``) and this
    SDK's executor has the replay loop we continue."""
    return callable(getattr(handle, "orchestrator_function", None)) and all(
        callable(getattr(TaskOrchestrationExecutor, name, None))
        for name in ("execute", "process_event", "get_orchestrator_state_str")
    )


class _Live:
    """One orchestration's executor, context and generator between episodes."""

    __slots__ = ("actions_sent", "context", "executor", "function_name")

    def __init__(
        self, context: DurableOrchestrationContext, executor: TaskOrchestrationExecutor, function_name: str
    ) -> None:
        self.context = context
        self.executor = executor
        self.function_name = function_name
        self.actions_sent = len(context._action_payload_v2)

    def resume(self, events: list[e.HistoryEvent]) -> str:
        # The trigger JSON's rule for each event: JSON text → dict → HistoryEvent (IsPlayed false).
        new = [HistoryEvent(**trigger_event(event, played=False)) for event in events]
        context, executor = self.context, self.executor
        context._histories.extend(new)
        # What execute() sets once it passes the last OrchestratorStarted: every event is new now.
        executor._is_processing_new_events = True
        replay_safe.begin_episode(context, self.function_name)
        try:
            for event in new:
                executor.process_event(event)
                if executor.has_execution_completed:
                    break
            return self._state()
        finally:
            replay_safe.end_episode()

    def _state(self) -> str:
        """``get_orchestrator_state_str`` with only the actions added since the last call."""
        context = self.context
        actions = context._action_payload_v2
        context._action_payload_v2 = actions[self.actions_sent :]
        try:
            return self.executor.get_orchestrator_state_str()
        finally:
            context._action_payload_v2 = actions
            self.actions_sent = len(actions)


class SdkOrchestrator:
    """An orchestrator function as the core calls it: ``__call__`` is the SDK's own ``handle``;
    ``start_session`` runs the same replay and keeps its state (core.sessions.SessionOrchestrator)."""

    def __init__(self, handle: Callable[[str], str], function_name: str) -> None:
        self.handle = handle
        self.function_name = function_name
        self.fn = handle.orchestrator_function  # type: ignore[attr-defined]

    def __call__(self, context_json: str) -> str:
        # Through the wrapper that publishes the episode's context for replay-safe logging.
        handle = replay_safe.published(self.handle, self.function_name)
        try:
            return handle(context_json)
        finally:
            replay_safe.end_episode()

    def start_session(self, trigger: str | dict[str, Any]) -> tuple[str, _Live | None]:
        # Orchestrator.create's handle, step by step (azure/durable_functions/orchestrator.py).
        if isinstance(trigger, str):
            context = DurableOrchestrationContext.from_json(trigger)
        else:  # what from_json builds from the text's json.loads
            context = DurableOrchestrationContext(**trigger)
        context._input_expected_type = getattr(self.handle, "_df_input_type", None)
        executor = TaskOrchestrationExecutor()
        replay_safe.begin_episode(context, self.function_name)
        try:
            state = executor.execute(context, context.histories, self.fn)
        finally:
            replay_safe.end_episode()
        if not isinstance(getattr(executor, "generator", None), GeneratorType) or executor.has_execution_completed:
            return state, None
        if context._replay_schema is ReplaySchema.V1:  # V1 nests actions per yield; only V2+ is continued
            return state, None
        return state, _Live(context, executor, self.function_name)
