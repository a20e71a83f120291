"""From a locked work item to the checkpoint that commits it.

``process_work_item`` is the orchestration dispatcher's pure half: it sorts the inbox messages
(start, terminate, suspend, resume, rewind, task results, events), decides whether user code
runs, runs one episode through :func:`core.episode.run_episode` and turns the outcome into an
:class:`OrchestrationCommit` — history events as DTFx records them (OrchestratorStarted, the new
events, the scheduling events of new work, the completion, OrchestratorCompleted), the new
instance row, and the messages and activities to send. It never raises for anything user code
or stored data can do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from durable_ext.core import events as e
from durable_ext.core.entities import OPERATION_EVENT, parse_entity_id
from durable_ext.core.episode import EpisodeOutcome, Invoke, run_episode
from durable_ext.core.kinds import DurableKind, unknown_function
from durable_ext.core.messages import (
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    OutboundMessage,
    TaskMessage,
)
from durable_ext.core.played import PlayedHistory
from durable_ext.core.rewind import rewind_history
from durable_ext.core.sessions import EpisodeSession
from durable_ext.core.shim import HTTP_ACTIVITY_NAME, Decision, TaskKind
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire.entities import request_message
from durable_ext.core.wire.orchestration import stored_input

_CONTROL = (e.ExecutionTerminated, e.ExecutionSuspended, e.ExecutionResumed, e.ExecutionRewound)


class Catalog(Protocol):
    """What the core needs to know about the app's functions."""

    default_version: str | None

    def orchestrator(self, name: str) -> Invoke | None: ...

    def has_activity(self, name: str) -> bool: ...

    def has_entity(self, name: str) -> bool: ...

    def names(self, kind: DurableKind) -> list[str]:
        """Known names of ``kind``, for error messages."""


@dataclass(slots=True)
class EpisodeReport:
    """The commit plus what the dispatcher logs about it."""

    commit: OrchestrationCommit
    invoked: str | None = None  # orchestrator name when user code ran
    outcome: EpisodeOutcome | None = None
    status: RuntimeStatus | None = None
    notes: list[str] = field(default_factory=list)
    #: Extended sessions: what the instance's next episode may continue from, once this commit
    #: succeeded (None: nothing to keep; the next episode replays in full).
    session: EpisodeSession | None = None


def process_work_item(
    item: OrchestrationWorkItem,
    *,
    now: datetime,
    catalog: Catalog,
    new_id: Callable[[], str],
    session: EpisodeSession | None = None,
    keep_session: bool = False,
    played: PlayedHistory | None = None,
    fail_with: str | None = None,
) -> EpisodeReport:
    """Decide one episode for ``item``; see the module docstring.

    ``played``: the caller's played-history JSON cache, passed on to :func:`core.episode.run_episode`.

    Extended sessions (core.sessions): ``session`` is the instance's session taken from the
    caller's cache (used only if it continues the item's history exactly); with
    ``keep_session`` the report carries the session for the next episode, to be cached by the
    caller once the commit succeeded.

    ``fail_with`` fails the instance with that reason instead of running user code (an episode that
    outlived functionTimeout). An engine error while deciding (a bug, or stored data the engine cannot handle) fails the
    instance with the reason instead of raising: a raise would leave the work item locked and
    retried forever (DTFx likewise fails an orchestration whose actions it cannot process).
    """
    try:
        return _Episode(
            item, now, catalog, new_id, session, keep_session, played=played, engine_error=fail_with
        ).run()
    except Exception as exc:
        error = f"The host could not process this orchestration's episode: {type(exc).__name__}: {exc}"
        return _Episode(item, now, catalog, new_id, engine_error=error).run()


class _Episode:
    def __init__(
        self,
        item: OrchestrationWorkItem,
        now: datetime,
        catalog: Catalog,
        new_id: Callable[[], str],
        session: EpisodeSession | None = None,
        keep_session: bool = False,
        engine_error: str | None = None,
        played: PlayedHistory | None = None,
    ):
        self.item, self.now, self.catalog, self.new_id = item, now, catalog, new_id
        self.session, self.keep_session, self.played = session, keep_session, played
        self.next_session: EpisodeSession | None = None
        self.engine_error = engine_error
        self.state = item.state
        self.past: list[e.HistoryEvent] = list(item.history)
        self.new: list[e.HistoryEvent] = [e.OrchestratorStarted(timestamp=now)]
        self.messages: list[OutboundMessage] = []
        self.activities: list[TaskMessage] = []
        self.replace_history = False

    # -- message sorting -----------------------------------------------------------------------

    def run(self) -> EpisodeReport:
        started, control, events = self._sort_messages()
        status = self.state.runtime_status if self.state else None
        if started is not None:
            self._start_execution(started)
        elif not self.past:
            # Nothing ever started here (stale messages for a purged or unknown instance).
            return self._unchanged("dropped messages for an instance that has not started")
        elif status is not None and status.is_terminal:
            rewind = next((c for c in control if isinstance(c, e.ExecutionRewound)), None)
            if rewind is None or status is not RuntimeStatus.Failed:
                return self._unchanged(f"dropped messages for a {status.value} instance")
            self._rewind(rewind)
            control = []
        for event in control:
            if isinstance(event, e.ExecutionTerminated):
                return self._terminate(event)
        suspended = status is RuntimeStatus.Suspended
        for event in control:
            if isinstance(event, e.ExecutionSuspended) and not suspended:
                self.new.append(event)
                suspended = True
            elif isinstance(event, e.ExecutionResumed) and suspended:
                self.new.append(event)
                suspended = False
        self.new.extend(events)
        if suspended:
            # Held in history, delivered to user code after resume.
            return self._finish(RuntimeStatus.Suspended, invoked=None)
        return self._run_user_code()

    def _sort_messages(self) -> tuple[e.ExecutionStarted | None, list[e.HistoryEvent], list[e.HistoryEvent]]:
        current = self.state.execution_id if self.state else None
        started: e.ExecutionStarted | None = None
        control: list[e.HistoryEvent] = []
        events: list[e.HistoryEvent] = []
        for _, message in self.item.messages:
            event = message.event
            if isinstance(event, e.ExecutionStarted):
                if started is None and self._accepts_start(event):
                    started = event
                continue
            if message.execution_id and current and message.execution_id != current:
                continue  # addressed to an older execution (continue-as-new, re-created id)
            (control if isinstance(event, _CONTROL) else events).append(event)
        return started, control, events

    def _accepts_start(self, event: e.ExecutionStarted) -> bool:
        if not self.past or self.state is None:
            return True
        status = self.state.runtime_status
        if status is RuntimeStatus.ContinuedAsNew:
            return event.execution_id == self.state.execution_id
        return status.is_terminal  # a finished instance may be started again (sub-orchestration ids)

    def _start_execution(self, started: e.ExecutionStarted) -> None:
        if self.past:
            self.replace_history = True
            self.past = []
        self.new.append(started)
        self.state = InstanceState(
            instance_id=self.item.instance_id,
            name=started.name,
            runtime_status=RuntimeStatus.Running,
            created_time=self.state.created_time if self.state else self.now,
            last_updated_time=self.now,
            execution_id=started.execution_id,
            version=started.version,
            input=started.input,
            parent_instance_id=started.parent.instance_id if started.parent else None,
        )

    # -- outcomes ------------------------------------------------------------------------------

    def _unchanged(self, note: str) -> EpisodeReport:
        commit = OrchestrationCommit(state=None, new_history=[])
        status = self.state.runtime_status if self.state else None
        # History is untouched, so a session that continued it still does.
        return EpisodeReport(commit=commit, notes=[note], status=status, session=self.session)

    def _terminate(self, event: e.ExecutionTerminated) -> EpisodeReport:
        reason = event.input
        self.new.append(event)
        self.new.append(e.ExecutionCompleted(timestamp=self.now, status=RuntimeStatus.Terminated, result=reason))
        self._notify_parent(failed=True, result=None, reason=f"Orchestration terminated: {reason}", details="")
        return self._finish(RuntimeStatus.Terminated, invoked=None, output=reason)

    def _rewind(self, event: e.ExecutionRewound) -> None:
        plan = rewind_history(self.past)
        self.past = plan.history
        self.replace_history = True
        for scheduled in plan.activities:
            self.activities.append(self._activity_message(scheduled))
        for child in plan.children:
            self._send(child, e.ExecutionRewound(timestamp=self.now, reason=event.reason))
        self.new.append(e.GenericEvent(timestamp=self.now, data=f"Rewound: {event.reason or ''}".strip()))
        assert self.state is not None
        self.state = replace(self.state, runtime_status=RuntimeStatus.Running, output=None, completed_time=None)

    def _run_user_code(self) -> EpisodeReport:
        assert self.state is not None
        name = self.state.name
        if self.engine_error is not None:
            return self._fail(name, self.engine_error, "", invoked=None)
        invoke = self.catalog.orchestrator(name)
        if invoke is None:
            return self._fail(
                name,
                unknown_function(name, DurableKind.ORCHESTRATOR, self.catalog.names(DurableKind.ORCHESTRATOR)),
                "",
                invoked=None,
            )
        outcome = run_episode(
            invoke,
            self.past,
            self.new,
            instance_id=self.item.instance_id,
            execution_id=self.state.execution_id or "",
            parent_instance_id=self.state.parent_instance_id,
            execution_input=self.state.input,
            session=self.session,
            keep_session=self.keep_session,
            played=self.played,
        )
        self.next_session = outcome.session
        too_big = _custom_status_too_large(outcome.custom_status)
        if too_big and not outcome.failed:
            return self._fail(name, too_big, "", invoked=name, outcome=outcome)
        if outcome.custom_status is not None or self.state.custom_status is not None:
            self.state = self.state.evolve(custom_status=outcome.custom_status)
        if outcome.failed:
            return self._fail(name, outcome.error, outcome.details, invoked=name, outcome=outcome)
        missing = self._missing_function(outcome.decisions)
        if missing:
            return self._fail(name, missing, "", invoked=name, outcome=outcome)
        for decision in outcome.decisions:
            self._schedule(decision)
        if outcome.continued_as_new:
            return self._continue_as_new(outcome)
        if outcome.is_done:
            self.new.append(
                e.ExecutionCompleted(timestamp=self.now, status=RuntimeStatus.Completed, result=outcome.output)
            )
            self._notify_parent(failed=False, result=outcome.output, reason="", details="")
            return self._finish(RuntimeStatus.Completed, invoked=name, output=outcome.output, outcome=outcome)
        return self._finish(RuntimeStatus.Running, invoked=name, outcome=outcome)

    def _fail(
        self, name: str, error: str, details: str, *, invoked: str | None, outcome: EpisodeOutcome | None = None
    ) -> EpisodeReport:
        reason = f"Orchestrator function '{name}' failed: {error}"
        failure = e.FailureDetails(error_type="OrchestrationFailure", error_message=error, stack_trace=details or None)
        self.new.append(
            e.ExecutionCompleted(
                timestamp=self.now, status=RuntimeStatus.Failed, result=reason, failure_details=failure
            )
        )
        self._notify_parent(failed=True, result=None, reason=reason, details=f"Message: {error}, StackTrace: {details}")
        return self._finish(RuntimeStatus.Failed, invoked=invoked, output=reason, outcome=outcome)

    def _continue_as_new(self, outcome: EpisodeOutcome) -> EpisodeReport:
        assert self.state is not None
        execution_id = self.new_id()
        start = e.ExecutionStarted(
            timestamp=self.now,
            name=self.state.name,
            instance_id=self.item.instance_id,
            execution_id=execution_id,
            input=outcome.continue_as_new_input,
            version=self.state.version,
            parent=self._parent(),
        )
        self.messages.append(OutboundMessage(TaskMessage(self.item.instance_id, start, execution_id)))
        self.new.append(e.OrchestratorCompleted(timestamp=self.now))
        # The next execution starts from an empty history: the old one is not kept (DTFx
        # overwrites it too), and messages for the old execution id will be dropped.
        self.state = replace(
            self.state,
            runtime_status=RuntimeStatus.ContinuedAsNew,
            execution_id=execution_id,
            input=outcome.continue_as_new_input,
            last_updated_time=self.now,
        )
        commit = OrchestrationCommit(
            state=self.state, new_history=[], messages=self.messages, activities=self.activities, replace_history=True
        )
        return EpisodeReport(commit, invoked=self.state.name, outcome=outcome, status=RuntimeStatus.ContinuedAsNew)

    def _finish(
        self,
        status: RuntimeStatus,
        *,
        invoked: str | None,
        output: str | None = None,
        outcome: EpisodeOutcome | None = None,
    ) -> EpisodeReport:
        assert self.state is not None
        self.new.append(e.OrchestratorCompleted(timestamp=self.now))
        done = status.is_terminal
        self.state = self.state.evolve(
            runtime_status=status,
            last_updated_time=self.now,
            output=output if done else self.state.output,
            completed_time=self.now if done else None,
        )
        history = self.past + self.new if self.replace_history else self.new
        session = self.next_session if status is RuntimeStatus.Running else None
        if session is not None:
            session.history_length = len(self.past) + len(self.new)
            session.last_event = self.new[-1]
        commit = OrchestrationCommit(
            state=self.state,
            new_history=history,
            messages=self.messages,
            activities=self.activities,
            replace_history=self.replace_history,
        )
        return EpisodeReport(commit, invoked=invoked, outcome=outcome, status=status, session=session)

    # -- new work ------------------------------------------------------------------------------

    def _missing_function(self, decisions: list[Decision]) -> str | None:
        """Why the new work cannot be scheduled (it fails the orchestration), or None."""
        for d in decisions:
            if d.kind is TaskKind.ACTIVITY and d.name != HTTP_ACTIVITY_NAME and not self.catalog.has_activity(d.name):
                return _unknown(d.name, DurableKind.ACTIVITY, self.catalog)
            if d.kind is TaskKind.SUB_ORCHESTRATION and self.catalog.orchestrator(d.name) is None:
                return _unknown(d.name, DurableKind.ORCHESTRATOR, self.catalog)
            # EXT CallDurableTaskFunctionAsync's ArgumentExceptions: an '@' id names an entity (which
            # drops the start, so the parent would wait forever); the parent's own id restarts it.
            if d.kind is TaskKind.SUB_ORCHESTRATION and d.instance_id == self.item.instance_id:
                return (
                    "The instance ID of a sub-orchestration must be different than the instance ID of a "
                    "parent orchestration."
                )
            if d.kind is TaskKind.SUB_ORCHESTRATION and (d.instance_id or "").startswith("@"):
                return f"Orchestration instance ids must not start with @ (sub-orchestration ID '{d.instance_id}')."
            if d.kind is TaskKind.ENTITY and not self.catalog.has_entity(_entity_name(d.instance_id or "")):
                return _unknown(_entity_name(d.instance_id or ""), DurableKind.ENTITY, self.catalog)
        return None

    def _schedule(self, d: Decision) -> None:
        now = self.now
        match d.kind:
            case TaskKind.ACTIVITY:
                scheduled = e.TaskScheduled(event_id=d.task_id, timestamp=now, name=d.name, input=d.input)
                self.new.append(scheduled)
                self.activities.append(self._activity_message(scheduled))
            case TaskKind.TIMER:
                assert d.fire_at is not None
                self.new.append(e.TimerCreated(event_id=d.task_id, timestamp=now, fire_at=d.fire_at))
                fired = e.TimerFired(timestamp=d.fire_at, timer_id=d.task_id, fire_at=d.fire_at)
                self._send(self.item.instance_id, fired, visible_at=d.fire_at, own=True)
            case TaskKind.SUB_ORCHESTRATION:
                self._start_sub_orchestration(d)
            case TaskKind.ENTITY:
                self._send_entity_request(d)

    def _activity_message(self, scheduled: e.TaskScheduled) -> TaskMessage:
        assert self.state is not None
        return TaskMessage(self.item.instance_id, scheduled, self.state.execution_id)

    def _send(
        self, instance_id: str, event: e.HistoryEvent, *, visible_at: datetime | None = None, own: bool = False
    ) -> None:
        execution_id = self.state.execution_id if own and self.state else None
        self.messages.append(OutboundMessage(TaskMessage(instance_id, event, execution_id), visible_at))

    def _start_sub_orchestration(self, d: Decision) -> None:
        assert self.state is not None and d.instance_id is not None
        # The action's input is the SDK's df_dumps text; the host stores it JSON-encoded again.
        started_input = stored_input(d.input)
        version = d.version if d.version is not None else self.catalog.default_version
        self.new.append(
            e.SubOrchestrationInstanceCreated(
                event_id=d.task_id,
                timestamp=self.now,
                name=d.name,
                instance_id=d.instance_id,
                input=started_input,
                version=version,
            )
        )
        start = e.ExecutionStarted(
            timestamp=self.now,
            name=d.name,
            instance_id=d.instance_id,
            execution_id=self.new_id(),
            input=started_input,
            version=version,
            parent=e.ParentInstance(
                name=self.state.name,
                version=self.state.version,
                instance_id=self.item.instance_id,
                execution_id=self.state.execution_id or "",
                task_scheduled_id=d.task_id,
            ),
        )
        self.messages.append(OutboundMessage(TaskMessage(d.instance_id, start, start.execution_id)))

    def _send_entity_request(self, d: Decision) -> None:
        assert self.state is not None and d.instance_id is not None
        text = request_message(
            d.name,
            d.input,
            self.new_id(),
            signal=d.is_signal,
            parent=self.item.instance_id,
            parent_execution=self.state.execution_id,
        )
        self.new.append(
            e.EventSent(event_id=d.task_id, timestamp=self.now, instance_id=d.instance_id, name=d.name, input=text)
        )
        self._send(d.instance_id, e.EventRaised(timestamp=self.now, name=OPERATION_EVENT, input=text))

    def _parent(self) -> e.ParentInstance | None:
        for event in self.past + self.new:
            if isinstance(event, e.ExecutionStarted):
                return event.parent
        return None

    def _notify_parent(self, *, failed: bool, result: str | None, reason: str, details: str) -> None:
        parent = self._parent()
        if parent is None:
            return
        if failed:
            event: e.HistoryEvent = e.SubOrchestrationInstanceFailed(
                timestamp=self.now, task_scheduled_id=parent.task_scheduled_id, reason=reason, details=details
            )
        else:
            event = e.SubOrchestrationInstanceCompleted(
                timestamp=self.now, task_scheduled_id=parent.task_scheduled_id, result=result
            )
        self.messages.append(OutboundMessage(TaskMessage(parent.instance_id, event, parent.execution_id)))


def _entity_name(entity_id: str) -> str:
    parsed = parse_entity_id(entity_id)
    return parsed[0] if parsed else entity_id


#: EXT ``SetCustomStatus``: the JSON's UTF-16 size may be at most 16 KB (it lives in a table row).
MAX_CUSTOM_STATUS_BYTES = 16 * 1024


def _custom_status_too_large(text: str | None) -> str | None:
    """The extension's message for a custom status over the limit, else None."""
    if text is None or len(text) * 4 <= MAX_CUSTOM_STATUS_BYTES:
        return None  # fast path: a character is at most 4 bytes in UTF-16
    size = len(text.encode("utf-16-le", errors="surrogatepass"))
    if size <= MAX_CUSTOM_STATUS_BYTES:
        return None
    return (
        f"The UTF-16 size of the JSON-serialized payload must not exceed {MAX_CUSTOM_STATUS_BYTES // 1024} KB. "
        f"The current payload size is {size // 1024} KB (the orchestration's custom status)."
    )


def _unknown(name: str, kind: DurableKind, catalog: Catalog) -> str:
    return unknown_function(name, kind, catalog.names(kind))
