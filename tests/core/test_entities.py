"""Entity batches through the SDK's own entity wrapper."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import azure.durable_functions as df

from durable_ext.core import events as e
from durable_ext.core.entities import entity_id, parse_entity_id, process_entity_batch
from durable_ext.core.messages import OrchestrationWorkItem, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire.entities import request_message

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name == "fail":
        raise ValueError("nope")
    elif context.operation_name == "delete":
        context.destruct_on_exit()
        return
    context.set_state(value)
    context.set_result(value)


HANDLE = df.Entity.create(counter)


def item(state, *requests: str) -> OrchestrationWorkItem:
    messages = [
        (str(i), TaskMessage("@counter@k", e.EventRaised(timestamp=NOW, name="op", input=r)))
        for i, r in enumerate(requests)
    ]
    return OrchestrationWorkItem("@counter@k", "lock", state, [], messages)


def test_ids():
    assert entity_id("Counter", "k1") == "@counter@k1"
    assert parse_entity_id("@counter@a@b") == ("counter", "a@b")
    assert parse_entity_id("plain") is None


def test_a_batch_runs_in_order_commits_once_and_answers_calls_only():
    report = process_entity_batch(
        item(
            None,
            request_message("add", "5", "s1", signal=True),
            request_message("add", "2", "c1", signal=False, parent="orch", parent_execution="x1"),
            request_message("fail", None, "c2", signal=False, parent="orch", parent_execution="x1"),
        ),
        now=NOW,
        invoke=HANDLE,
        known_names=["Counter"],
    )
    assert report.operations == 3 and report.failed_operations == 1
    assert report.commit.state.runtime_status is RuntimeStatus.Running
    assert json.loads(report.commit.state.input) == 7
    responses = [(m.message.instance_id, m.message.execution_id, m.message.event) for m in report.commit.messages]
    assert [(i, x, ev.name) for i, x, ev in responses] == [("orch", "x1", "c1"), ("orch", "x1", "c2")]
    assert json.loads(responses[0][2].input) == {"result": "7"}
    failure = json.loads(responses[1][2].input)
    assert failure["exceptionType"] == "Error" and json.loads(failure["result"]) == "nope"


def test_state_carries_over_and_delete_removes_the_entity():
    first = process_entity_batch(
        item(None, request_message("add", "3", "a", signal=True)), now=NOW, invoke=HANDLE, known_names=[]
    )
    second = process_entity_batch(
        item(first.commit.state, request_message("add", "4", "b", signal=True)), now=NOW, invoke=HANDLE, known_names=[]
    )
    assert json.loads(second.commit.state.input) == 7
    deleted = process_entity_batch(
        item(second.commit.state, request_message("delete", None, "c", signal=True)),
        now=NOW,
        invoke=HANDLE,
        known_names=[],
    )
    assert deleted.commit.state.runtime_status is RuntimeStatus.Completed and deleted.commit.state.input is None


def test_unknown_entity_answers_callers_with_an_error_and_changes_nothing():
    report = process_entity_batch(
        item(None, request_message("add", "1", "c", signal=False, parent="o", parent_execution="x")),
        now=NOW,
        invoke=None,
        known_names=["Other"],
    )
    assert report.commit.state is None
    (response,) = report.commit.messages
    assert "doesn't exist" in json.loads(response.message.event.input)["result"]


def test_an_operation_delivered_twice_is_applied_once():
    add = request_message("add", "5", "same-id", signal=True)
    first = process_entity_batch(item(None, add), now=NOW, invoke=HANDLE, known_names=[])
    again = process_entity_batch(item(first.commit.state, add, add), now=NOW, invoke=HANDLE, known_names=[])
    assert again.operations == 0 and again.commit.state is None
    assert json.loads(first.commit.state.input) == 5
    third = process_entity_batch(
        item(first.commit.state, add, request_message("add", "1", "new-id", signal=True)),
        now=NOW,
        invoke=HANDLE,
        known_names=[],
    )
    assert json.loads(third.commit.state.input) == 6


def test_an_operation_delivered_twice_in_one_batch_is_applied_once():
    # Found by the Azure Storage fault suite: a queue write answered 500 after it happened was sent
    # again, both copies arrived in one batch, and the counter counted the signal twice.
    add = request_message("add", "5", "same-id", signal=True)
    report = process_entity_batch(item(None, add, add), now=NOW, invoke=HANDLE, known_names=[])
    assert report.operations == 1
    assert json.loads(report.commit.state.input) == 5
