"""One traced orchestration episode: the trace context it stamps on its commit, the spans it emits
once that commit succeeded."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from durable_ext.core import events as e
from durable_ext.core.messages import OrchestrationWorkItem, OutboundMessage, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.transitions import EpisodeReport
from durable_ext.telemetry.spans import (
    FIRE_AT,
    attrs,
    broken,
    new_span_id,
    ns,
    parse_traceparent,
    stamp_entity_request,
    traceparent,
)

if TYPE_CHECKING:
    from durable_ext.telemetry.tracing import Tracing


class EpisodeTrace:
    """One traced episode: stamps its commit, then emits the spans it ended (:meth:`emit`)."""

    def __init__(self, tracing: Tracing, item: OrchestrationWorkItem, report: EpisodeReport,
                 started: e.ExecutionStarted, context: e.TraceContext, trace_id: str, flags: str, hub: str) -> None:  # fmt: skip
        self.t, self.item, self.report, self.started = tracing, item, report, started
        self.context, self.trace_id, self.flags, self.hub = context, trace_id, flags, hub
        self.own = traceparent(trace_id, context.span_id or "", flags)

    def _child(self, span_id: str) -> e.TraceContext:
        return e.TraceContext(
            trace_parent=traceparent(self.trace_id, span_id, self.flags), trace_state=self.context.trace_state
        )

    def stamp(self) -> None:
        commit = self.report.commit
        swaps: dict[int, e.HistoryEvent] = {}
        activities = []
        for message in commit.activities:
            ev = message.event
            if isinstance(ev, e.TaskScheduled) and ev.parent_trace_context is None:
                ev = swaps[id(message.event)] = replace(ev, parent_trace_context=self._child(new_span_id()))
                message = TaskMessage(message.instance_id, ev, message.execution_id)
            activities.append(message)
        commit.activities = activities
        children: dict[tuple[str, int], str] = {}
        for ev in commit.new_history:
            if isinstance(ev, e.SubOrchestrationInstanceCreated) and ev.client_span_id is None:
                span_id = new_span_id()
                swaps[id(ev)] = replace(ev, client_span_id=span_id)
                children[(ev.instance_id, ev.event_id)] = span_id
        requests: dict[tuple[str, str], str] = {}  # (entity id, request text) -> stamped text
        for ev in commit.new_history:
            if isinstance(ev, e.EventSent) and ev.input and ev.instance_id.startswith("@"):
                stamped_text = stamp_entity_request(ev.input, self.own, self.context.trace_state, ev.timestamp)
                if stamped_text is not None:
                    swaps[id(ev)] = replace(ev, input=stamped_text)
                    requests[(ev.instance_id, ev.input)] = stamped_text
        if swaps:
            commit.new_history = [swaps.get(id(ev), ev) for ev in commit.new_history]
        commit.messages = [self._stamp_message(out, children, requests) for out in commit.messages]

    def _stamp_message(
        self, out: OutboundMessage, children: dict[tuple[str, int], str], requests: dict[tuple[str, str], str]
    ) -> OutboundMessage:
        ev = out.message.event
        if requests and isinstance(ev, e.EventRaised) and ev.input is not None:
            stamped_text = requests.get((out.message.instance_id, ev.input))
            if stamped_text is not None:
                message = TaskMessage(
                    out.message.instance_id, replace(ev, input=stamped_text), out.message.execution_id
                )
                return OutboundMessage(message, out.visible_at)
        return self._stamp_start(out, children)

    def _stamp_start(self, out: OutboundMessage, children: dict[tuple[str, int], str]) -> OutboundMessage:
        ev = out.message.event
        if not isinstance(ev, e.ExecutionStarted) or ev.parent_trace_context is not None:
            return out
        if ev.parent is not None and ev.parent.instance_id == self.item.instance_id:
            span_id = children.get((ev.instance_id, ev.parent.task_scheduled_id))
            if span_id is None:
                return out
            context = self._child(span_id)
        elif ev.instance_id == self.item.instance_id:  # continue-as-new: the next execution, same parent
            context = e.TraceContext(trace_parent=self.context.trace_parent, trace_state=self.context.trace_state)
        else:
            return out
        message = TaskMessage(
            out.message.instance_id, replace(ev, parent_trace_context=context), out.message.execution_id
        )
        return OutboundMessage(message, out.visible_at)

    def emit(self, now: datetime) -> None:
        """Emit the spans this (committed) episode ended. Never raises (a failure is logged)."""
        try:
            self._emit(now)
        except Exception:
            broken("emit")

    def _emit(self, now: datetime) -> None:
        t, commit = self.t, self.report.commit
        own = t._remote(None, self.own)
        name, instance_id = self.started.name, self.item.instance_id
        results = self._results()
        if results:
            wanted = {_result_of(ev) for ev in results}
            scheduled = _scheduling_events(wanted, self.item.history, commit.new_history)
            for ev in results:
                self._emit_result(ev, scheduled, own, now)
        status = self.report.status
        ended = status is RuntimeStatus.ContinuedAsNew or (
            status is not None and status.is_terminal and bool(commit.new_history)
        )
        if not ended:
            return
        assert status is not None
        span = t._start(
            f"orchestration:{name}", t.Kind.SERVER, t._remote(self.context), start=self.context.activity_start_time,
            span_id=self.context.span_id, attributes=attrs(
                "orchestration", name, instance_id, self.hub, execution_id=self.started.execution_id,
                version=self.started.version, status=status.value,
            ),
        )  # fmt: skip
        if status is RuntimeStatus.Failed:
            state = commit.state
            failure = next(
                (ev.failure_details for ev in commit.new_history if isinstance(ev, e.ExecutionCompleted)), None
            )
            t._fail(
                span, (state.output if state else None) or "orchestration failed",
                error_type=failure.error_type if failure else "OrchestrationFailure",
                stack=failure.stack_trace if failure else None,
            )  # fmt: skip
        span.end(end_time=ns(now))

    def _results(self) -> list[e.HistoryEvent]:
        kinds = (e.TaskCompleted, e.TaskFailed, e.TimerFired, e.SubOrchestrationInstanceCompleted,
                 e.SubOrchestrationInstanceFailed)  # fmt: skip
        inbox = [m.event for _, m in self.item.messages if isinstance(m.event, kinds)]
        if not inbox:
            return []
        committed = {id(ev) for ev in self.report.commit.new_history}
        return [ev for ev in inbox if id(ev) in committed]

    def _emit_result(self, ev: e.HistoryEvent, scheduled: dict[int, e.HistoryEvent], own: Any, now: datetime) -> None:
        t = self.t
        origin = scheduled.get(_result_of(ev))
        instance_id = self.item.instance_id
        if isinstance(origin, e.TaskScheduled) and origin.parent_trace_context is not None:
            parsed = parse_traceparent(origin.parent_trace_context.trace_parent)
            span = t._start(
                f"activity:{origin.name}", t.Kind.CLIENT, own, start=origin.timestamp,
                span_id=parsed[1] if parsed else None,
                attributes=attrs("activity", origin.name, instance_id, self.hub, task_id=origin.event_id,
                                  version=origin.version),
            )  # fmt: skip
            if isinstance(ev, e.TaskFailed):
                t._fail(span, ev.reason or "activity failed")
        elif isinstance(origin, e.TimerCreated) and isinstance(ev, e.TimerFired):
            span = t._start(
                f"orchestration:{self.started.name}:timer", t.Kind.INTERNAL, own, start=origin.timestamp,
                attributes={**attrs("timer", self.started.name, instance_id, self.hub, task_id=ev.timer_id),
                            FIRE_AT: ev.fire_at.isoformat()},
            )  # fmt: skip
        elif isinstance(origin, e.SubOrchestrationInstanceCreated) and origin.client_span_id is not None:
            span = t._start(
                f"orchestration:{origin.name}", t.Kind.CLIENT, own, start=origin.timestamp,
                span_id=origin.client_span_id,
                attributes=attrs("orchestration", origin.name, origin.instance_id, self.hub, version=origin.version),
            )  # fmt: skip
            if isinstance(ev, e.SubOrchestrationInstanceFailed):
                t._fail(span, ev.reason or "sub-orchestration failed")
        else:
            return
        span.end(end_time=ns(now))


def _result_of(ev: e.HistoryEvent) -> int:
    """The sequence id of the scheduling event a result answers."""
    return ev.timer_id if isinstance(ev, e.TimerFired) else int(getattr(ev, "task_scheduled_id", -1))


def current_start(item: OrchestrationWorkItem, report: EpisodeReport) -> tuple[e.ExecutionStarted, bool] | None:
    """The ExecutionStarted of the execution this episode ran, and whether this episode started it."""
    commit = report.commit
    inbox = [m.event for _, m in item.messages if isinstance(m.event, e.ExecutionStarted)]
    if inbox:
        for ev in commit.new_history:
            if isinstance(ev, e.ExecutionStarted) and any(ev is start for start in inbox):
                return ev, True
        if report.status is RuntimeStatus.ContinuedAsNew and not commit.new_history:
            # Started and continued as new in one episode: its history is not kept, its span ends now.
            return inbox[0], True
    started = _execution_started(commit.new_history) or _execution_started(item.history)
    if started is None:
        return None
    return started, any(ev is started for ev in commit.new_history)


def _execution_started(history: list[e.HistoryEvent]) -> e.ExecutionStarted | None:
    for ev in history:
        if isinstance(ev, e.ExecutionStarted):
            return ev
    return None


_SCHEDULING = (e.TaskScheduled, e.TimerCreated, e.SubOrchestrationInstanceCreated)


def _scheduling_events(wanted: set[int], *histories: list[e.HistoryEvent]) -> dict[int, e.HistoryEvent]:
    """The activities, timers and sub-orchestrations with sequence ids in ``wanted``, searched from the
    newest event back (results mostly answer recent work, so a long history is rarely walked)."""
    found: dict[int, e.HistoryEvent] = {}
    for history in reversed(histories):
        for ev in reversed(history):
            if isinstance(ev, _SCHEDULING) and ev.event_id in wanted and ev.event_id not in found:
                found[ev.event_id] = ev
                if len(found) == len(wanted):
                    return found
    return found
