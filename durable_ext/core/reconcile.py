"""The status an instance's history proves, for a row that missed its final checkpoint.

A provider that writes history and the instance's status in two steps (Azure Storage: the
History table, then the Instances row) can lose the second step to a crash. For a running
instance the next episode rewrites the row; for one that *ended* no episode ever comes — its
redelivered messages are duplicates of history — so the row would stay Running for good
(DurableTask issue #1252, fixed in DTFx by checking the row when a work item arrives for an
ended instance). :func:`ended_state` is that check.
"""

from __future__ import annotations

from dataclasses import replace

from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState
from durable_ext.core.status import RuntimeStatus

#: Bookkeeping events that may follow an execution's end in the same episode.
_EPISODE_MARKERS = (e.OrchestratorStarted, e.OrchestratorCompleted)


def ended_state(instance_id: str, history: list[e.HistoryEvent], stored: InstanceState | None) -> InstanceState | None:
    """The row state ``history`` proves when its execution has ended but ``stored`` does not say
    so; None when the row is right (or the execution has not ended).

    The columns history cannot tell (custom status, version, tags) are kept from ``stored``.
    """
    last = next((ev for ev in reversed(history) if not isinstance(ev, _EPISODE_MARKERS)), None)
    if not isinstance(last, e.ExecutionCompleted):
        return None
    started = next((ev for ev in history if isinstance(ev, e.ExecutionStarted)), None)
    if started is None:
        return None
    if stored is not None:
        if stored.runtime_status is last.status and stored.execution_id == started.execution_id:
            return None
        if stored.runtime_status is RuntimeStatus.Pending and stored.execution_id not in (None, started.execution_id):
            return None  # a re-created instance's new row, newer than this history
    base = stored or InstanceState(
        instance_id=instance_id,
        name=started.name,
        runtime_status=last.status,
        created_time=started.timestamp,
        last_updated_time=last.timestamp,
        version=started.version,
        parent_instance_id=started.parent.instance_id if started.parent else None,
    )
    return replace(
        base,
        runtime_status=last.status,
        execution_id=started.execution_id,
        input=started.input,
        output=last.result,
        last_updated_time=last.timestamp,
        completed_time=last.timestamp,
    )
