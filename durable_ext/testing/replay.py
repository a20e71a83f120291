"""Replay orchestrator code against a saved history and report non-determinism before deploying.

A history can come as typed events, as DTFx-shaped event dicts (``EventId`` on every event: what
the task hub stores), or as the status API's ``historyEvents`` (``showHistory=true&
showHistoryOutput=true``), whole response or just the array. The status API's shape is lossy —
no sequence numbers, no ``OrchestratorStarted`` events, and each completed task merged into its
completion — so it is rebuilt alongside the code: the replay runs one recorded result at a time, and
each task the code schedules takes the recorded task of the same kind and name (same input
preferred). A task the code schedules where history recorded another keeps the recorded one's
place, so the check that decides is the runtime's own (``core.shim``), with the Durable Task
Framework's message. ``current_utc_datetime`` in the rebuilt episodes is each recorded result's
time (the real episode started a few milliseconds later).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from durable_ext.core import events as e
from durable_ext.core.episode import EpisodeOutcome, run_episode
from durable_ext.core.shim import Decision, TaskKind
from durable_ext.core.wire import event_from_dict, parse_datetime
from durable_ext.functions.invoke import call_orchestrator
from durable_ext.functions.loader import load_app
from durable_ext.functions.stubs import orchestrator_invoke
from durable_ext.web.status_payload import parse_token

Invoke = Callable[[str], str]


class NonDeterminismError(AssertionError):
    """The orchestrator code no longer makes the decisions the history recorded."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What replaying one history told.

    ``non_determinism`` is the runtime's message (None when the code lines up with the history);
    ``diverging_event`` the history event it could not line up and ``diverging_row`` that event as
    given (the status API's row) when the input was dicts. ``notes`` name differences that are not
    non-determinism: a different output, work scheduled past a finished history.
    """

    orchestrator: str
    non_determinism: str | None
    diverging_event: e.HistoryEvent | None = None
    diverging_row: dict[str, Any] | None = None
    completed: bool = False
    output: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.non_determinism is None

    def raise_for_non_determinism(self) -> None:
        if self.non_determinism is not None:
            where = f"\nDiverging event: {self.diverging_row or self.diverging_event}"
            raise NonDeterminismError(self.non_determinism + where)


class Replayer:
    """Orchestrators by name; :meth:`replay` checks a history against the one it names."""

    def __init__(self, orchestrators: Mapping[str, Any]) -> None:
        self._invokes = {name.lower(): orchestrator_invoke(fn) for name, fn in orchestrators.items()}

    @classmethod
    def from_app(cls, app_dir: str | Path) -> Replayer:
        """The orchestrators of ``<app_dir>/function_app.py``, loaded as the host loads them."""
        registry = load_app(Path(app_dir))
        replayer = cls({})
        for name in registry.orchestrator_names():
            info = registry.orchestrator(name)
            assert info is not None
            replayer._invokes[name.lower()] = partial(call_orchestrator, info)
        return replayer

    def replay(self, history: Any, *, orchestrator: str | None = None) -> ReplayResult:
        """Replay ``history`` through the orchestrator it started (or ``orchestrator``); never raises for
        non-determinism — see :meth:`ReplayResult.raise_for_non_determinism`.

        ``history``: typed events, a list of event dicts, a status API response with
        ``historyEvents``, its JSON text, or a ``Path`` to a JSON file holding any of those.
        """
        instance_id, items = _items(history)
        if all(isinstance(item, e.HistoryEvent) for item in items):
            return self._replay_events(list(items), None, orchestrator)
        rows = [dict(item) for item in items]
        if not all("EventId" in row for row in rows):
            return _StatusReplay(self, instance_id, rows, orchestrator).run()
        return self._replay_events([_event(row) for row in rows], rows, orchestrator)

    def invoke_for(self, name: str) -> Invoke:
        invoke = self._invokes.get(name.lower())
        if invoke is None:
            known = ", ".join(sorted(self._invokes)) or "none"
            raise KeyError(f"no orchestrator named {name!r} to replay (known: {known})")
        return invoke

    def _replay_events(
        self, events: list[e.HistoryEvent], rows: list[dict[str, Any]] | None, orchestrator: str | None
    ) -> ReplayResult:
        started = _execution_started(events)
        name = orchestrator or started.name
        outcome = _episode(self.invoke_for(name), events, [], started)
        recorded = next((ev for ev in events if isinstance(ev, e.ExecutionCompleted)), None)
        row = None
        if rows is not None and outcome.diverging_event is not None:
            row = rows[next(i for i, ev in enumerate(events) if ev is outcome.diverging_event)]
        return _result(
            name,
            outcome,
            finished=recorded is not None,
            recorded_output=recorded.result if recorded else None,
            new_work=outcome.decisions,
            diverging_row=row,
        )


def replay_history(app_dir: str | Path, history: Any, *, orchestrator: str | None = None) -> ReplayResult:
    """``Replayer.from_app(app_dir).replay(history)``."""
    return Replayer.from_app(app_dir).replay(history, orchestrator=orchestrator)


# -- input shapes --------------------------------------------------------------------------------


def _items(history: Any) -> tuple[str, list[Any]]:
    """(instance id, the events: all typed, or all JSON objects)."""
    if isinstance(history, Path):
        history = json.loads(history.read_text(encoding="utf-8"))
    elif isinstance(history, str):
        history = json.loads(history)
    instance_id = "replay"
    if isinstance(history, Mapping):
        instance_id = str(history.get("instanceId") or instance_id)
        if "historyEvents" not in history:
            raise ValueError("a history object needs a 'historyEvents' array (status API: showHistory=true)")
        history = history["historyEvents"]
    if not isinstance(history, Iterable):
        raise ValueError(f"not a history: {type(history).__name__}")
    items = list(history)
    if not (all(isinstance(i, e.HistoryEvent) for i in items) or all(isinstance(i, Mapping) for i in items)):
        raise ValueError("a history is a list of events: all typed HistoryEvents or all JSON objects")
    return instance_id, items


def _event_type(row: Mapping[str, Any]) -> e.EventType:
    raw = row.get("EventType")
    try:
        return e.EventType[raw] if isinstance(raw, str) else e.EventType(int(raw))  # type: ignore[arg-type]
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"unknown history event type {raw!r} in {dict(row)}") from None


def _event(row: dict[str, Any]) -> e.HistoryEvent:
    data = {**row, "EventType": int(_event_type(row))}
    if "Name" not in data and "FunctionName" in data:
        data["Name"] = data["FunctionName"]
    return event_from_dict(data)


def _execution_started(events: list[e.HistoryEvent]) -> e.ExecutionStarted:
    started = next((ev for ev in events if isinstance(ev, e.ExecutionStarted)), None)
    if started is None:
        raise ValueError("the history has no ExecutionStarted event")
    return started


def _episode(
    invoke: Invoke, past: list[e.HistoryEvent], new: list[e.HistoryEvent], started: e.ExecutionStarted
) -> EpisodeOutcome:
    return run_episode(
        invoke,
        past,
        new,
        instance_id=started.instance_id or "replay",
        execution_id=started.execution_id or "replay",
        parent_instance_id=started.parent.instance_id if started.parent else None,
        execution_input=started.input,
    )


def _result(
    name: str,
    outcome: EpisodeOutcome,
    *,
    finished: bool,
    recorded_output: str | None,
    new_work: list[Decision],
    diverging_row: dict[str, Any] | None = None,
) -> ReplayResult:
    if outcome.diverging_event is not None:
        return ReplayResult(name, outcome.error, outcome.diverging_event, diverging_row)
    notes: list[str] = []
    if outcome.failed:
        notes.append(f"the orchestrator failed during the replay: {outcome.error}")
    elif outcome.is_done and finished and parse_token(outcome.output) != parse_token(recorded_output):
        notes.append(f"the output differs: history has {recorded_output}, the code returns {outcome.output}")
    if finished and new_work:
        scheduled = ", ".join(d.kind.value + (f" named {d.name!r}" if d.name else "") for d in new_work)
        notes.append(f"the history is finished, but the code would now schedule {scheduled}")
    output = parse_token(outcome.output) if outcome.is_done else None
    return ReplayResult(name, None, completed=outcome.is_done, output=output, notes=notes)


# -- the status API's shape ------------------------------------------------------------------------

_RESULT_KINDS = {
    e.EventType.TaskCompleted: TaskKind.ACTIVITY,
    e.EventType.TaskFailed: TaskKind.ACTIVITY,
    e.EventType.SubOrchestrationInstanceCompleted: TaskKind.SUB_ORCHESTRATION,
    e.EventType.SubOrchestrationInstanceFailed: TaskKind.SUB_ORCHESTRATION,
}
_SCHEDULING_KINDS = {
    e.EventType.TaskScheduled: TaskKind.ACTIVITY,
    e.EventType.SubOrchestrationInstanceCreated: TaskKind.SUB_ORCHESTRATION,
    e.EventType.TimerCreated: TaskKind.TIMER,
    e.EventType.EventSent: TaskKind.ENTITY,
}
# Rows that are delivered to the orchestration as new events, one per rebuilt episode.
_DELIVERED = frozenset(
    {
        *_RESULT_KINDS,
        e.EventType.TimerFired,
        e.EventType.EventRaised,
        e.EventType.ExecutionTerminated,
        e.EventType.ExecutionSuspended,
        e.EventType.ExecutionResumed,
    }
)


@dataclass
class _Recorded:
    """One task history scheduled: the row that shows it, and the sequence number it was given."""

    kind: TaskKind
    name: str
    input: str | None
    at: datetime
    row: dict[str, Any]
    order: int
    fire_at: datetime | None = None
    task_id: int | None = None
    fired: bool = False


def _text(value: Any) -> str | None:
    """A row value back to the JSON text history stores (``Result`` was parsed for display)."""
    return None if value is None else json.dumps(value)


class _StatusReplay:
    def __init__(self, replayer: Replayer, instance_id: str, rows: list[dict[str, Any]], name: str | None) -> None:
        self.replayer = replayer
        self.rows = rows
        start_row = next((r for r in rows if _event_type(r) is e.EventType.ExecutionStarted), None)
        if start_row is None:
            raise ValueError("the history has no ExecutionStarted event")
        at = parse_datetime(start_row["Timestamp"])
        self.started = e.ExecutionStarted(
            timestamp=at,
            name=start_row.get("FunctionName") or start_row.get("Name") or "",
            instance_id=instance_id,
            execution_id="replay",
            input=start_row.get("Input"),
        )
        self.name = name or self.started.name
        self.invoke = replayer.invoke_for(self.name)
        self.history: list[e.HistoryEvent] = [e.OrchestratorStarted(timestamp=at), self.started]
        self.row_of: dict[int, dict[str, Any]] = {id(self.started): start_row}
        self.recorded = self._recorded_tasks()
        self.next_id = 0
        self.new_work: list[Decision] = []

    def _recorded_tasks(self) -> list[_Recorded]:
        tasks: list[_Recorded] = []
        for index, row in enumerate(self.rows):
            kind = _event_type(row)
            if kind in _RESULT_KINDS and "ScheduledTime" in row:
                at, name = parse_datetime(row["ScheduledTime"]), row.get("FunctionName") or ""
                tasks.append(_Recorded(_RESULT_KINDS[kind], name, row.get("Input"), at, row, index))
            elif kind in _SCHEDULING_KINDS:
                at = parse_datetime(row["Timestamp"])
                fire_at = parse_datetime(row["FireAt"]) if row.get("FireAt") else None
                name = row.get("Name") or ""
                tasks.append(_Recorded(_SCHEDULING_KINDS[kind], name, row.get("Input"), at, row, index, fire_at))
        tasks.sort(key=lambda t: (t.at, t.order))
        return tasks

    def run(self) -> ReplayResult:
        outcome = self._step([])
        for row in self.rows:
            if outcome.diverging_event is not None:
                break
            if _event_type(row) in _DELIVERED:
                outcome = self._step(self._deliver(row))
        recorded = next((r for r in self.rows if _event_type(r) is e.EventType.ExecutionCompleted), None)
        diverging = outcome.diverging_event
        return _result(
            self.name,
            outcome,
            finished=recorded is not None,
            recorded_output=_text(recorded.get("Result")) if recorded else None,
            new_work=self.new_work,
            diverging_row=self.row_of.get(id(diverging)) if diverging is not None else None,
        )

    def _step(self, new: list[e.HistoryEvent]) -> EpisodeOutcome:
        """Run the code over history + ``new``; record the tasks it schedules where history has them."""
        past = list(self.history)
        self.history.extend(new)
        outcome = _episode(self.invoke, past, new, self.started)
        self.new_work = []
        if outcome.diverging_event is None:
            for decision in outcome.decisions:
                self._schedule(decision)
        return outcome

    def _schedule(self, decision: Decision) -> None:
        self.next_id = max(self.next_id, decision.task_id + 1)
        task = self._match(decision)
        if task is None:
            self.new_work.append(decision)  # past the end of the recorded history
            return
        task.task_id = decision.task_id
        self._append(self._scheduling_event(task, decision.task_id), task.row)

    def _match(self, decision: Decision) -> _Recorded | None:
        free = [t for t in self.recorded if t.task_id is None]
        same = [
            t
            for t in free
            if t.kind is decision.kind and (t.kind is TaskKind.TIMER or t.name.lower() == decision.name.lower())
        ]
        if same:
            wanted = decision.fire_at if decision.kind is TaskKind.TIMER else decision.input
            return next((t for t in same if (t.fire_at if t.kind is TaskKind.TIMER else t.input) == wanted), same[0])
        # History recorded something else here: it keeps its place, and the shim reports the mismatch.
        return free[0] if free else None

    def _scheduling_event(self, task: _Recorded, task_id: int) -> e.HistoryEvent:
        row = task.row
        if task.kind is TaskKind.ACTIVITY:
            return e.TaskScheduled(event_id=task_id, timestamp=task.at, name=task.name, input=task.input)
        if task.kind is TaskKind.TIMER:
            return e.TimerCreated(event_id=task_id, timestamp=task.at, fire_at=task.fire_at or task.at)
        if task.kind is TaskKind.SUB_ORCHESTRATION:
            return e.SubOrchestrationInstanceCreated(
                event_id=task_id,
                timestamp=task.at,
                name=task.name,
                instance_id=row.get("InstanceId") or "",
                input=task.input,
            )
        return e.EventSent(
            event_id=task_id,
            timestamp=task.at,
            instance_id=row.get("InstanceId") or "",
            name=task.name,
            input=task.input,
        )

    def _deliver(self, row: dict[str, Any]) -> list[e.HistoryEvent]:
        """OrchestratorStarted + the event the row shows (with the sequence number of its task)."""
        kind = _event_type(row)
        at = parse_datetime(row["Timestamp"])
        new: list[e.HistoryEvent] = [e.OrchestratorStarted(timestamp=at)]
        if kind in _RESULT_KINDS or kind is e.EventType.TimerFired:
            task = self._task_of(row, kind)
            if task.task_id is None:
                # The code never scheduled it: give it a number the code has not used, so the
                # replay meets a recorded task it did not schedule.
                task.task_id = self.next_id
                self.next_id += 1
                new.append(self._scheduling_event(task, task.task_id))
                self.row_of[id(new[-1])] = task.row
            new.append(self._result_event(row, kind, at, task.task_id))
        elif kind is e.EventType.EventRaised:
            new.append(e.EventRaised(timestamp=at, name=row.get("Name") or "", input=row.get("Input")))
        elif kind is e.EventType.ExecutionTerminated:
            new.append(e.ExecutionTerminated(timestamp=at, input=row.get("Input")))
        elif kind is e.EventType.ExecutionSuspended:
            new.append(e.ExecutionSuspended(timestamp=at, reason=row.get("Reason")))
        else:
            new.append(e.ExecutionResumed(timestamp=at, reason=row.get("Reason")))
        self.row_of[id(new[-1])] = row
        return new

    def _task_of(self, row: dict[str, Any], kind: e.EventType) -> _Recorded:
        if kind is e.EventType.TimerFired:
            fire_at = parse_datetime(row["FireAt"])
            timers = [t for t in self.recorded if t.kind is TaskKind.TIMER and t.fire_at == fire_at]
            timer = next((t for t in timers if t.task_id is not None and not t.fired), None)
            timer = timer or next((t for t in timers if not t.fired), None)
            if timer is None:
                raise ValueError(f"TimerFired at {row['FireAt']} has no TimerCreated row with that FireAt")
            timer.fired = True
            return timer
        return next(t for t in self.recorded if t.row is row)

    def _result_event(self, row: dict[str, Any], kind: e.EventType, at: datetime, task_id: int) -> e.HistoryEvent:
        if kind is e.EventType.TimerFired:
            return e.TimerFired(timestamp=at, timer_id=task_id, fire_at=parse_datetime(row["FireAt"]))
        if kind is e.EventType.TaskCompleted:
            return e.TaskCompleted(timestamp=at, task_scheduled_id=task_id, result=_text(row.get("Result")))
        if kind is e.EventType.TaskFailed:
            return e.TaskFailed(
                timestamp=at, task_scheduled_id=task_id, reason=row.get("Reason"), details=row.get("Details")
            )
        if kind is e.EventType.SubOrchestrationInstanceCompleted:
            return e.SubOrchestrationInstanceCompleted(
                timestamp=at, task_scheduled_id=task_id, result=_text(row.get("Result"))
            )
        return e.SubOrchestrationInstanceFailed(
            timestamp=at, task_scheduled_id=task_id, reason=row.get("Reason"), details=row.get("Details")
        )

    def _append(self, event: e.HistoryEvent, row: dict[str, Any]) -> None:
        self.history.append(event)
        self.row_of[id(event)] = row
