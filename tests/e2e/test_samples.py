"""Every sample (and the top-level app) through the real host process, as its README says."""

from __future__ import annotations

import json

import azure.durable_functions as df
import pytest

from tests.e2e.hostproc import HostProcess, run_async


def run(host: HostProcess, name: str, body=None, timeout: float = 60) -> dict:
    done = host.wait(host.start_orchestration(name, body)["id"], timeout=timeout)
    assert done["runtimeStatus"] == "Completed", done
    return done


def test_function_chaining(host_factory, storage):
    host = host_factory("samples/function_chaining", storage=storage)
    assert run(host, "hello_orchestrator")["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    ok = run(host, "chaining_with_compensation", {"account": "alice", "amount": 50})["output"]
    assert ok == {"status": "ok", "steps": ["reserved 50 for alice", "debited 50 from alice", "notified alice"]}
    compensated = run(host, "chaining_with_compensation", {"account": "bob", "amount": 150})["output"]
    assert compensated["status"] == "compensated"
    assert "insufficient funds" in compensated["error"]
    assert compensated["steps"] == ["reserved 150 for bob", "refunded 150 to bob"]


def test_fan_out_fan_in(host_factory, storage):
    host = host_factory("samples/fan_out_fan_in", storage=storage)
    assert run(host, "fan_out_fan_in")["output"] == 285
    assert run(host, "fan_out_fan_in", 100)["output"] == 328350
    assert run(host, "fan_out_fan_in", 0)["output"] == 0


def test_async_http_api(host_factory, storage):
    host = host_factory("samples/async_http_api", storage=storage)
    links = host.start_orchestration("slow_orchestrator", "report")
    first = host.session.get(links["statusQueryGetUri"], timeout=30)
    assert first.status_code == 202 and first.headers["Location"]
    assert host.wait(links["id"])["output"] == "done: report"
    waited = host.session.post(host.url("api/orchestrators_wait/slow_orchestrator"), json="report", timeout=30)
    assert waited.status_code == 200 and waited.text == "done: report"
    early = host.session.post(
        host.url("api/orchestrators_wait/slow_orchestrator"), params={"timeout": 100}, json="x", timeout=30
    )
    assert early.status_code == 202 and "statusQueryGetUri" in early.json()


def test_monitor(host_factory, storage):
    host = host_factory("samples/monitor", storage=storage)
    done = run(host, "monitor", {"job_id": "job-7", "polls": 3, "interval_seconds": 1})
    assert done["output"] == {"job_id": "job-7", "iterations": 3, "status": "done"}
    assert done["customStatus"] == {"iteration": 2}
    expired = run(host, "monitor", {"job_id": "job-8", "expiry_seconds": 0})["output"]
    assert expired == {"job_id": "job-8", "iterations": 0, "status": "expired"}


def test_human_interaction(host_factory, storage):
    host = host_factory("samples/human_interaction", storage=storage)
    links = host.start_orchestration("approval_workflow", {"timeout_seconds": 30})
    host.wait(links["id"], statuses=("Running",))
    url = links["sendEventPostUri"].replace("{eventName}", "Approval")
    assert (
        host.session.post(url, data="true", headers={"Content-Type": "application/json"}, timeout=30).status_code == 202
    )
    assert host.wait(links["id"])["output"] == {"approved": True}

    via_sdk = host.start_orchestration("approval_workflow", {"timeout_seconds": 30})
    host.wait(via_sdk["id"], statuses=("Running",))
    run_async(
        df.DurableOrchestrationClient(host.client_binding("HumanInteractionHub")).raise_event(
            via_sdk["id"], "Approval", True
        )
    )
    assert host.wait(via_sdk["id"])["output"] == {"approved": "true"}

    assert run(host, "approval_workflow", {"timeout_seconds": 1})["output"] == "timed out"


def test_sub_orchestrations(host_factory, storage):
    host = host_factory("samples/sub_orchestrations", storage=storage)
    done = run(host, "parent")
    assert done["output"] == ["Hello Seattle!", "Hello London!"]
    child = host.status(f"{done['instanceId']}-child2").json()
    assert child["name"] == "child" and child["output"] == "Hello London!"


@pytest.mark.parametrize(
    ("failures", "expected"), [(0, "succeeded after 0 failures"), (2, "succeeded after 2 failures")]
)
def test_retries_succeed_within_the_attempts(host_factory, storage, failures, expected):
    host = host_factory("samples/retries", storage=storage)
    assert run(host, "retry_activity", {"failures": failures})["output"] == expected


def test_retries_give_up_after_the_last_attempt(host_factory, storage):
    host = host_factory("samples/retries", storage=storage)
    out = run(host, "retry_activity", {"failures": 3})["output"]
    assert "attempt 3 failed" in out["error"]
    history = host.status(run(host, "retry_activity", {"failures": 5})["instanceId"], showHistory="true").json()
    kinds = [ev["EventType"] for ev in history["historyEvents"]]
    assert kinds.count("TaskFailed") == 3 and kinds.count("TimerFired") == 3
    sub = run(host, "retry_sub_orchestrator", {"failures": 1})["output"]
    assert sub == "succeeded after 1 failures"


def test_eternal_continue_as_new(host_factory, storage):
    host = host_factory("samples/eternal", storage=storage)
    done = run(host, "eternal_counter", {"count": 0, "max": 3})
    assert done["output"] == {"final": 3}
    # As on Azure, a continue-as-new input is the SDK's JSON text, shown as a JSON string.
    assert json.loads(done["input"]) == {"count": 3, "max": 3}


def test_top_level_app_shows_the_five_patterns(host_factory, storage):
    host = host_factory(".", storage=storage)
    assert run(host, "hello_orchestrator")["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert run(host, "fan_out_fan_in", 5)["output"] == 30
    assert run(host, "slow_orchestrator", "x")["output"] == "done: x"
    assert run(host, "monitor_orchestrator", {"job_id": "j", "polls": 1})["output"]["status"] == "done"
    links = host.start_orchestration("approval")
    host.wait(links["id"], statuses=("Running",))
    url = links["sendEventPostUri"].replace("{eventName}", "Approval")
    host.session.post(url, data=json.dumps(True), headers={"Content-Type": "application/json"}, timeout=30)
    assert host.wait(links["id"])["output"] == {"approved": True}
    waited = host.session.post(host.url("api/orchestrators_wait/hello_orchestrator"), timeout=30)
    assert waited.status_code == 200 and waited.json()[0] == "Hello Tokyo!"


def test_top_level_app_answers_bad_starts_with_a_400(host_factory):
    # The app everyone runs first: an unknown orchestrator name or a body that is not JSON is the
    # caller's mistake, answered 400 with the reason, not a 500 from an exception in the starter.
    host = host_factory(".")
    for route in ("api/orchestrators", "api/orchestrators_wait"):
        reply = host.session.post(host.url(f"{route}/no_such_orchestrator"), timeout=30)
        assert reply.status_code == 400, (route, reply.status_code, reply.text)
        assert "no_such_orchestrator" in reply.text and "doesn't exist" in reply.text, reply.text
        reply = host.session.post(host.url(f"{route}/hello_orchestrator"), data="{bad", timeout=30)
        assert reply.status_code == 400 and "not valid JSON" in reply.text, (route, reply.text)
    reply = host.session.post(host.url("api/orchestrators_wait/hello_orchestrator"), params={"timeout": "x"}, timeout=30)
    assert reply.status_code == 400 and "timeout" in reply.text, reply.text
    listing = host.session.get(host.url("runtime/webhooks/durabletask/instances"), timeout=30).json()
    assert listing == []  # nothing was started
