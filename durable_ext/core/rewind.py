"""Rewind: take a Failed execution back to just before the failures that failed it.

A failure is *final* when its task was not tried again afterwards (no later scheduling of the
same name with a higher id) — that is the failure the orchestrator could not get past. Final
failures are removed from history and their tasks are sent again; an earlier failure the
orchestrator handled (a retry attempt, a caught exception followed by another call) stays, so
replay takes the same path. A retry's last timer (fired at once after the last failure) goes
with its failure. The ExecutionCompleted(Failed) goes too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus


@dataclass(slots=True)
class RewindPlan:
    history: list[e.HistoryEvent]
    activities: list[e.TaskScheduled] = field(default_factory=list)
    children: list[str] = field(default_factory=list)  # failed sub-orchestrations to rewind too


def rewind_history(history: list[e.HistoryEvent]) -> RewindPlan:
    scheduled: dict[int, e.HistoryEvent] = {
        ev.event_id: ev
        for ev in history
        if isinstance(ev, e.TaskScheduled | e.SubOrchestrationInstanceCreated | e.TimerCreated)
    }
    final_failures: set[int] = set()
    for ev in history:
        if isinstance(ev, e.TaskFailed | e.SubOrchestrationInstanceFailed):
            source = scheduled.get(ev.task_scheduled_id)
            if source is not None and not _retried_later(source, scheduled):
                final_failures.add(ev.task_scheduled_id)
    dropped_timers = _final_retry_timers(history, final_failures)
    plan = RewindPlan(history=[])
    for ev in history:
        if isinstance(ev, e.ExecutionCompleted) and ev.status is RuntimeStatus.Failed:
            continue
        if isinstance(ev, e.TaskFailed | e.SubOrchestrationInstanceFailed) and ev.task_scheduled_id in final_failures:
            source = scheduled[ev.task_scheduled_id]
            if isinstance(source, e.TaskScheduled):
                plan.activities.append(source)
            elif isinstance(source, e.SubOrchestrationInstanceCreated):
                plan.children.append(source.instance_id)
            continue
        if isinstance(ev, e.TimerCreated) and ev.event_id in dropped_timers:
            continue
        if isinstance(ev, e.TimerFired) and ev.timer_id in dropped_timers:
            continue
        plan.history.append(ev)
    return plan


def _retried_later(source: e.HistoryEvent, scheduled: dict[int, e.HistoryEvent]) -> bool:
    name = getattr(source, "name", None)
    return any(
        other.event_id > source.event_id and type(other) is type(source) and getattr(other, "name", None) == name
        for other in scheduled.values()
    )


def _final_retry_timers(history: list[e.HistoryEvent], final_failures: set[int]) -> set[int]:
    """Timers created at their episode's own time in the episode that processed a final failure."""
    dropped: set[int] = set()
    episode_time = None
    failed_here = False
    for ev in history:
        if isinstance(ev, e.OrchestratorStarted):
            episode_time, failed_here = ev.timestamp, False
        elif isinstance(ev, e.TaskFailed | e.SubOrchestrationInstanceFailed) and ev.task_scheduled_id in final_failures:
            failed_here = True
        elif isinstance(ev, e.TimerCreated) and failed_here and ev.fire_at == episode_time:
            dropped.add(ev.event_id)
    return dropped
