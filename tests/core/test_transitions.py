"""Episode decisions for each orchestration feature, with the SDK's real replay."""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from tests.core.harness import Catalog, Instance


def _failed(inst, task_id, reason="boom"):
    return e.TaskFailed(timestamp=inst.clock, task_scheduled_id=task_id, reason=reason, details="{}")


def _fire(inst, timer_id):
    created = next(ev for ev in inst.history if isinstance(ev, e.TimerCreated) and ev.event_id == timer_id)
    return e.TimerFired(timestamp=created.fire_at, timer_id=timer_id, fire_at=created.fire_at)


def test_retry_that_always_fails_numbers_ids_like_dtfx():
    def orch(context):
        try:
            yield context.call_activity_with_retry("Flaky", df.RetryOptions(5000, 3), "x")
        except Exception as exc:
            return f"gave up: {exc}"

    inst = Instance("r", Catalog({"o": orch}, activities=["Flaky"]))
    inst.start("o")
    for attempt_id in (0, 2, 4):
        report = inst.deliver(_failed(inst, attempt_id))
        timer = next(ev for ev in report.commit.new_history if isinstance(ev, e.TimerCreated))
        assert timer.event_id == attempt_id + 1
        report = inst.deliver(_fire(inst, attempt_id + 1))
    scheduling = [(ev.TYPE.name, ev.event_id) for ev in inst.history if ev.event_id >= 0]
    assert scheduling == [
        ("TaskScheduled", 0),
        ("TimerCreated", 1),
        ("TaskScheduled", 2),
        ("TimerCreated", 3),
        ("TaskScheduled", 4),
        ("TimerCreated", 5),
    ]
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output).startswith("gave up: boom")


def test_retry_timer_fires_after_the_interval_and_the_last_one_at_once():
    def orch(context):
        result = yield context.call_activity_with_retry("Flaky", df.RetryOptions(5000, 2), None)
        return result

    inst = Instance("r2", Catalog({"o": orch}, activities=["Flaky"]))
    inst.start("o")
    report = inst.deliver(_failed(inst, 0))
    timer = report.commit.messages[0]
    assert timer.visible_at == inst.clock + timedelta(seconds=5)
    inst.deliver(_fire(inst, 1))
    report = inst.deliver(_failed(inst, 2))
    final = next(ev for ev in report.commit.new_history if isinstance(ev, e.TimerCreated))
    assert final.fire_at == inst.clock
    inst.deliver(_fire(inst, 3))
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "boom" in inst.state.output


def test_retry_ids_interleave_with_new_actions_as_the_sdk_allocates_them():
    def orch(context):
        retry = context.call_activity_with_retry("A", df.RetryOptions(1000, 2), None)
        yield context.task_any([retry, context.call_activity("B", None)])
        context.signal_entity(df.EntityId("Counter", "k"), "add", 1)
        yield context.call_activity("C", None)
        return "done"

    inst = Instance("i", Catalog({"o": orch}, activities=["A", "B", "C"], entities=["Counter"]))
    inst.start("o")
    report = inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=1, result='"b"'), _failed(inst, 0))
    new = {ev.event_id: ev.TYPE.name for ev in report.commit.new_history if ev.event_id >= 0}
    assert new == {2: "EventSent", 3: "TaskScheduled", 4: "TimerCreated"}


def test_changed_orchestrator_code_fails_with_non_determinism_naming_the_event():
    def v1(context):
        yield context.call_activity("A", None)

    inst = Instance("nd", Catalog({"o": v1}, activities=["A", "B"]))
    inst.start("o")

    def v2(context):
        yield context.call_activity("B", None)

    inst.catalog = Catalog({"o": v2}, activities=["A", "B"])
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="1"))
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "Non-Deterministic workflow detected" in inst.state.output
    assert "named 'A'" in inst.state.output and "named 'B'" in inst.state.output


def test_activity_failure_is_catchable_with_reason_and_details():
    def orch(context):
        try:
            yield context.call_activity("A", None)
        except Exception as exc:
            return str(exc)

    inst = Instance("f", Catalog({"o": orch}, activities=["A"]))
    inst.start("o")
    inst.deliver(_failed(inst, 0, reason="Activity function 'A' failed:  ValueError: nope"))
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == "Activity function 'A' failed:  ValueError: nope \n {}"


def test_orchestrator_exception_fails_the_instance_with_reason():
    def orch(context):
        yield context.call_activity("A", None)
        raise ValueError("bad input")

    inst = Instance("x", Catalog({"o": orch}, activities=["A"]))
    inst.start("o")
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="1"))
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert inst.state.output == "Orchestrator function 'o' failed: bad input"
    completed = inst.history[-2]
    assert completed.failure_details.error_message == "bad input"
    assert "ValueError" in completed.failure_details.stack_trace


def test_unknown_activity_fails_the_orchestration_listing_known_ones():
    def orch(context):
        yield context.call_activity("Nope", None)

    inst = Instance("u", Catalog({"o": orch}, activities=["A"]))
    inst.start("o")
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "The function 'Nope' doesn't exist" in inst.state.output and "'a'" in inst.state.output.lower()


def test_unknown_orchestrator_fails_the_instance():
    inst = Instance("u2", Catalog({}, activities=[]))
    inst.start("missing")
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "The function 'missing' doesn't exist" in inst.state.output


def test_sub_orchestration_ids_the_extension_refuses_fail_the_parent():
    # EXT DurableOrchestrationContext.CallDurableTaskFunctionAsync: an '@' id is an entity's (the
    # start message would be dropped by the entity and the parent wait forever), and the parent's own
    # id would restart the parent; both are ArgumentExceptions that fail the orchestration.
    def at_id(context):
        return (yield context.call_sub_orchestrator("child", 1, instance_id="@counter@k"))

    def own_id(context):
        return (yield context.call_sub_orchestrator("child", 1, instance_id=context.instance_id))

    def child(context):
        return context.get_input()

    catalog = Catalog({"at_id": at_id, "own_id": own_id, "child": child}, activities=[])
    for name, reason in (
        ("at_id", "Orchestration instance ids must not start with @"),
        ("own_id", "The instance ID of a sub-orchestration must be different than the instance ID of a parent"),
    ):
        inst = Instance(f"p-{name}", catalog)
        report = inst.start(name)
        assert inst.state.runtime_status is RuntimeStatus.Failed, name
        assert reason in inst.state.output, inst.state.output
        assert not any(isinstance(ev, e.SubOrchestrationInstanceCreated) for ev in inst.history), name
        assert report.commit.messages == [], name


def test_custom_status_over_16_kb_fails_the_orchestration():
    # EXT SetCustomStatus serializes with a 16 KB limit (UTF-16 size of the JSON) and throws past it:
    # the orchestration fails with the reason instead of storing a status no Azure table row holds.
    def orch(context):
        context.set_custom_status(context.get_input())
        yield context.call_activity("A", None)
        return "done"

    small, big = "s" * 8000, "b" * 8200  # 16,002 and 16,402 bytes as JSON in UTF-16
    inst = Instance("cs-ok", Catalog({"o": orch}, activities=["A"]))
    inst.start("o", json.dumps(json.dumps(small)))
    assert inst.state.runtime_status is RuntimeStatus.Running
    assert json.loads(inst.state.custom_status) == small
    inst = Instance("cs-big", Catalog({"o": orch}, activities=["A"]))
    report = inst.start("o", json.dumps(json.dumps(big)))
    assert inst.state.runtime_status is RuntimeStatus.Failed
    assert "must not exceed 16 KB" in inst.state.output, inst.state.output
    assert inst.state.custom_status is None and report.commit.activities == []


def test_event_raised_before_the_wait_is_kept():
    def orch(context):
        yield context.call_activity("A", None)
        value = yield context.wait_for_external_event("Go")
        return value

    inst = Instance("ev", Catalog({"o": orch}, activities=["A"]))
    inst.start("o")
    inst.deliver(e.EventRaised(timestamp=inst.clock, name="Go", input='"early"'))
    assert inst.state.runtime_status is RuntimeStatus.Running
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="1"))
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == "early"


def test_timer_race_with_event():
    def orch(context):
        timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
        event = context.wait_for_external_event("Approval")
        winner = yield context.task_any([event, timer])
        if winner == event:
            timer.cancel()
            return "approved"
        return "timeout"

    inst = Instance("h", Catalog({"o": orch}))
    report = inst.start("o")
    (timer,) = report.commit.messages
    assert timer.visible_at == inst.clock + timedelta(hours=1)
    inst.deliver(e.EventRaised(timestamp=inst.clock, name="Approval", input="true"))
    assert json.loads(inst.state.output) == "approved"


def test_sub_orchestration_start_and_result():
    def parent(context):
        a = yield context.call_sub_orchestrator("child", "Seattle")
        b = yield context.call_sub_orchestrator("child", "Tokyo", instance_id="fixed-child")
        return [a, b]

    def child(context):
        return f"Hello {context.get_input()}!"
        yield  # pragma: no cover

    inst = Instance("p", Catalog({"parent": parent, "child": child}))
    report = inst.start("parent")
    (start,) = report.commit.messages
    assert start.message.instance_id == "exec1:0"
    assert start.message.event.parent.task_scheduled_id == 0
    assert start.message.event.parent.instance_id == "p"
    inst.deliver(e.SubOrchestrationInstanceCompleted(timestamp=inst.clock, task_scheduled_id=0, result='"a"'))
    report = inst.reports[-1]
    assert report.commit.messages[0].message.instance_id == "fixed-child"

    kid = Instance("exec1:0", inst.catalog)
    report = kid.deliver(start.message.event)
    assert kid.state.runtime_status is RuntimeStatus.Completed
    (to_parent,) = report.commit.messages
    assert to_parent.message.instance_id == "p"
    assert isinstance(to_parent.message.event, e.SubOrchestrationInstanceCompleted)
    assert json.loads(to_parent.message.event.result) == "Hello Seattle!"


def test_terminate_records_the_reason_without_running_user_code():
    def orch(context):
        yield context.wait_for_external_event("never")

    inst = Instance("t", Catalog({"o": orch}))
    inst.start("o")
    report = inst.deliver(e.ExecutionTerminated(timestamp=inst.clock, input="stop it"))
    assert report.invoked is None
    assert inst.state.runtime_status is RuntimeStatus.Terminated
    assert inst.state.output == "stop it"
    assert inst.types()[-3:] == ["ExecutionTerminated", "ExecutionCompleted", "OrchestratorCompleted"]
    report = inst.deliver(e.EventRaised(timestamp=inst.clock, name="never", input="1"))
    assert report.commit.state is None and report.commit.new_history == []


def test_suspended_instance_holds_events_until_resumed():
    def orch(context):
        value = yield context.wait_for_external_event("Go")
        return value

    inst = Instance("s", Catalog({"o": orch}))
    inst.start("o")
    inst.deliver(
        e.ExecutionSuspended(timestamp=inst.clock, reason="pause"),
        e.EventRaised(timestamp=inst.clock, name="Go", input="1"),
    )
    assert inst.state.runtime_status is RuntimeStatus.Suspended
    report = inst.deliver(e.ExecutionResumed(timestamp=inst.clock, reason="go"))
    assert report.invoked == "o"
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == 1


def test_continue_as_new_starts_a_fresh_execution_with_the_new_input():
    def orch(context):
        n = context.get_input() or 0
        yield context.call_activity("A", n)
        if n < 2:
            context.continue_as_new(n + 1)
            return None
        return n

    inst = Instance("c", Catalog({"o": orch}, activities=["A"]))
    inst.start("o", json.dumps(json.dumps(0)))
    for _ in range(3):
        report = inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="null"))
        if report.status is RuntimeStatus.ContinuedAsNew:
            assert inst.history == []
            (start,) = report.commit.messages
            assert start.message.execution_id == inst.state.execution_id
            inst.deliver(start.message.event)
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == 2


def test_custom_status_is_the_last_one_set_in_the_episode():
    def orch(context):
        context.set_custom_status({"step": 1})
        yield context.call_activity("A", None)
        context.set_custom_status("two")
        return "ok"

    inst = Instance("cs", Catalog({"o": orch}, activities=["A"]))
    inst.start("o")
    assert json.loads(inst.state.custom_status) == {"step": 1}
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="1"))
    assert json.loads(inst.state.custom_status) == "two"


def test_rewind_reschedules_the_failed_activity_and_completes():
    def orch(context):
        a = yield context.call_activity("A", 1)
        b = yield context.call_activity("B", 2)
        return [a, b]

    inst = Instance("rw", Catalog({"o": orch}, activities=["A", "B"]))
    inst.start("o")
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=0, result="1"))
    inst.deliver(_failed(inst, 1))
    assert inst.state.runtime_status is RuntimeStatus.Failed
    report = inst.deliver(e.ExecutionRewound(timestamp=inst.clock, reason="try again"))
    assert [a.event.name for a in report.commit.activities] == ["B"]
    assert inst.state.runtime_status is RuntimeStatus.Running
    inst.deliver(e.TaskCompleted(timestamp=inst.clock, task_scheduled_id=1, result="2"))
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == [1, 2]


def test_entity_call_and_signal_are_recorded_as_event_sent():
    def orch(context):
        entity = df.EntityId("Counter", "k")
        context.signal_entity(entity, "add", 5)
        value = yield context.call_entity(entity, "get")
        return value

    inst = Instance("en", Catalog({"o": orch}, entities=["Counter"]))
    report = inst.start("o")
    sent = [ev for ev in report.commit.new_history if isinstance(ev, e.EventSent)]
    assert [(s.event_id, s.instance_id, s.name) for s in sent] == [(0, "@counter@k", "add"), (1, "@counter@k", "get")]
    signal, call = (json.loads(s.input) for s in sent)
    assert signal["signal"] is True and "signal" not in call
    assert [m.message.instance_id for m in report.commit.messages] == ["@counter@k", "@counter@k"]
    response = json.dumps({"result": "5"})
    inst.deliver(e.EventRaised(timestamp=inst.clock, name=call["id"], input=response))
    assert inst.state.runtime_status is RuntimeStatus.Completed
    assert json.loads(inst.state.output) == 5


def test_an_instance_state_evolves_as_dataclasses_replace_would_for_every_field():
    import dataclasses

    from durable_ext.core.messages import InstanceState

    names = [f.name for f in dataclasses.fields(InstanceState)]
    state = InstanceState(**{name: f"old {name}" for name in names})  # type: ignore[arg-type]
    for name in names:
        changed = state.evolve(**{name: f"new {name}"})
        assert changed == dataclasses.replace(state, **{name: f"new {name}"})
        assert [getattr(changed, n) for n in names] == [f"{'new' if n == name else 'old'} {n}" for n in names]
