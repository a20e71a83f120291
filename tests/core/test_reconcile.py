"""``ended_state``: the row an ended execution must have, for a row that missed its last write."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState
from durable_ext.core.reconcile import ended_state
from durable_ext.core.status import RuntimeStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=5)
STARTED = e.ExecutionStarted(timestamp=T0, name="Orch", instance_id="i", execution_id="x1", input='"in"')
RUNNING = InstanceState(
    "i", "Orch", RuntimeStatus.Running, T0, T0, execution_id="x1", input='"in"', custom_status='"s"'
)


def episode(*events: e.HistoryEvent) -> list[e.HistoryEvent]:
    return [e.OrchestratorStarted(timestamp=T0), STARTED, *events, e.OrchestratorCompleted(timestamp=T1)]


def test_a_running_history_needs_no_repair():
    scheduled = e.TaskScheduled(event_id=0, timestamp=T0, name="A")
    assert ended_state("i", episode(scheduled), RUNNING) is None


def test_a_completed_history_with_a_running_row_gives_the_completed_row_keeping_the_custom_status():
    done = e.ExecutionCompleted(timestamp=T1, status=RuntimeStatus.Completed, result='"out"')
    state = ended_state("i", episode(done), RUNNING)
    assert state == replace(
        RUNNING, runtime_status=RuntimeStatus.Completed, output='"out"', last_updated_time=T1, completed_time=T1
    )
    assert ended_state("i", episode(done), state) is None  # once repaired, nothing more to do


def test_failed_and_terminated_executions_carry_their_reason_as_output():
    failed = e.ExecutionCompleted(
        timestamp=T1, status=RuntimeStatus.Failed, result="Orchestrator function 'Orch' failed"
    )
    assert ended_state("i", episode(failed), RUNNING).runtime_status is RuntimeStatus.Failed
    terminated = [
        e.ExecutionTerminated(timestamp=T1, input='"stop"'),
        e.ExecutionCompleted(timestamp=T1, status=RuntimeStatus.Terminated, result='"stop"'),
    ]
    state = ended_state("i", episode(*terminated), RUNNING)
    assert (state.runtime_status, state.output) == (RuntimeStatus.Terminated, '"stop"')


def test_a_missing_or_pending_row_is_rebuilt_from_the_start_event():
    done = e.ExecutionCompleted(timestamp=T1, status=RuntimeStatus.Completed, result="1")
    state = ended_state("i", episode(done), None)
    assert (state.name, state.created_time, state.input, state.execution_id) == ("Orch", T0, '"in"', "x1")
    pending = replace(RUNNING, runtime_status=RuntimeStatus.Pending, execution_id=None)
    assert ended_state("i", episode(done), pending).runtime_status is RuntimeStatus.Completed


def test_a_row_of_an_older_execution_is_repaired_to_the_one_history_holds():
    done = e.ExecutionCompleted(timestamp=T1, status=RuntimeStatus.Completed, result="1")
    older = replace(RUNNING, runtime_status=RuntimeStatus.Completed, execution_id="x0")
    assert ended_state("i", episode(done), older).execution_id == "x1"


def test_the_pending_row_of_a_re_created_instance_is_newer_than_the_old_history():
    done = e.ExecutionCompleted(timestamp=T1, status=RuntimeStatus.Completed, result="1")
    recreated = replace(RUNNING, runtime_status=RuntimeStatus.Pending, execution_id="x2", created_time=T1)
    assert ended_state("i", episode(done), recreated) is None
