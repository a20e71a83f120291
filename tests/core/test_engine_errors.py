"""Issue #10 finding 9: an action the engine cannot carry out fails the instance with the reason.

Before, the action aligner ran outside ``run_episode``'s guard, so these raised out of
``process_work_item``: the lock was never abandoned and the instance was retried forever.
"""

from __future__ import annotations

import datetime

import azure.durable_functions as df
import pytest

from durable_ext.core import events as e
from durable_ext.core import transitions
from durable_ext.core.status import RuntimeStatus
from tests.core.harness import Catalog, Instance


def _completed(inst: Instance) -> e.ExecutionCompleted:
    return next(ev for ev in inst.history if isinstance(ev, e.ExecutionCompleted))


def test_timer_with_a_fire_at_the_host_cannot_parse_fails_the_instance():
    def orch(context):
        # The SDK writes year 5 as "5-01-01T…" (strftime %Y is not zero-padded): not ISO 8601.
        yield context.create_timer(datetime.datetime(5, 1, 1, tzinfo=datetime.UTC))
        return "never"

    inst = Instance("t", Catalog({"o": orch}))
    inst.start("o")
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "cannot carry out" in inst.state.output and "5-01-01" in inst.state.output
    assert _completed(inst).failure_details.error_message in inst.state.output


def test_signal_entity_inside_task_all_fails_the_instance_naming_the_action():
    def orch(context):
        entity = df.EntityId("Counter", "k")
        yield context.task_all([context.signal_entity(entity, "add", 1), context.call_activity("A", 1)])
        return "never"

    inst = Instance("s", Catalog({"o": orch}, activities=["A"], entities=["Counter"]))
    inst.start("o")
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "SignalEntity" in inst.state.output


def test_any_engine_error_while_deciding_fails_the_instance(monkeypatch: pytest.MonkeyPatch):
    def orch(context):
        yield context.call_activity("A", 1)
        return "never"

    def broken_schedule(self, decision):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(transitions._Episode, "_schedule", broken_schedule)
    inst = Instance("b", Catalog({"o": orch}, activities=["A"]))
    report = inst.start("o")
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "engine bug" in inst.state.output
    assert not report.commit.activities and not report.commit.messages
