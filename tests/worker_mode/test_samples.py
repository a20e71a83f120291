"""Every sample and the top-level app in worker mode: the real Python worker runs the app (prepared with
``init-worker``), durable_ext's dispatcher runs inside it, and the mock host drives it only through
invocations of the HTTP functions the worker reported (the app's starters, durable_ext's webhooks).

One worker per app and storage, so each test runs all of that app's scenarios: starting the worker
is the slow part.
"""

from __future__ import annotations

import time

import pytest

from tests.worker_mode.harness import WorkerHost

WH = "api/durabletask"


def run(worker: WorkerHost, name: str, body=None, timeout: float = 90) -> dict:
    done = worker.wait(worker.start_orchestration(name, body)["id"], timeout=timeout)
    assert done["runtimeStatus"] == "Completed", done
    return done


def chaining(w: WorkerHost) -> None:
    assert run(w, "hello_orchestrator")["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    ok = run(w, "chaining_with_compensation", {"account": "alice", "amount": 50})["output"]
    assert ok == {"status": "ok", "steps": ["reserved 50 for alice", "debited 50 from alice", "notified alice"]}
    compensated = run(w, "chaining_with_compensation", {"account": "bob", "amount": 150})["output"]
    assert compensated["status"] == "compensated" and "insufficient funds" in compensated["error"]


def fan_out(w: WorkerHost) -> None:
    assert run(w, "fan_out_fan_in")["output"] == 285
    assert run(w, "fan_out_fan_in", 30)["output"] == 8555


def async_http(w: WorkerHost) -> None:
    links = w.start_orchestration("slow_orchestrator", "report")
    first = w.http("GET", links["statusQueryGetUri"])
    assert first.status in (200, 202)
    if first.status == 202:
        assert first.headers["Location"].startswith("https://myapp.example.net/api/durabletask/instances/")
    assert w.wait(links["id"])["output"] == "done: report"
    waited = w.http("POST", "api/orchestrators_wait/slow_orchestrator", '"report"')
    assert waited.status == 200 and waited.body == b"done: report"


def monitor(w: WorkerHost) -> None:
    done = run(w, "monitor", {"job_id": "job-7", "polls": 3, "interval_seconds": 1})
    assert done["output"] == {"job_id": "job-7", "iterations": 3, "status": "done"}
    assert done["customStatus"] == {"iteration": 2}


def human_interaction(w: WorkerHost) -> None:
    links = w.start_orchestration("approval_workflow", {"timeout_seconds": 60})
    w.wait(links["id"], statuses=("Running",))
    url = links["sendEventPostUri"].replace("{eventName}", "Approval")
    assert w.http("POST", url, "true", {"Content-Type": "application/json"}).status == 202
    assert w.wait(links["id"])["output"] == {"approved": True}
    # The app's own function raising the event through the SDK client (rpcBaseUrl on loopback).
    other = w.start_orchestration("approval_workflow", {"timeout_seconds": 60})
    w.wait(other["id"], statuses=("Running",))
    assert w.http("POST", f"api/approve/{other['id']}").status == 202
    # The SDK client sends the event data as the text "true" (as under durable_ext start: tests/e2e).
    assert w.wait(other["id"])["output"] == {"approved": "true"}


def sub_orchestrations(w: WorkerHost) -> None:
    done = run(w, "parent")
    assert done["output"] == ["Hello Seattle!", "Hello London!"]
    child = w.status(f"{done['instanceId']}-child2").json()
    assert child["name"] == "child" and child["output"] == "Hello London!"


def retries(w: WorkerHost) -> None:
    assert run(w, "retry_activity", {"failures": 2})["output"] == "succeeded after 2 failures"
    assert "attempt 3 failed" in run(w, "retry_activity", {"failures": 3})["output"]["error"]


def eternal(w: WorkerHost) -> None:
    assert run(w, "eternal_counter", {"count": 0, "max": 3})["output"] == {"final": 3}


def counter_entity(w: WorkerHost) -> None:
    assert w.http("GET", "api/counters/a").status == 404
    assert w.http("POST", "api/counters/a/add", "3").status == 202
    assert w.http("POST", "api/counters/a/add", "4").status == 202
    _wait_entity(w, "Counter", "a", 7)
    assert w.http("GET", "api/counters/a").json() == 7
    done = run(w, "counter_orchestrator", {"key": "k2"})
    assert done["output"] == {"after_add": 15, "value": 15, "error": "unknown operation 'explode'"}
    # The built-in entity API through durable_ext's webhook function.
    assert w.http("POST", f"{WH}/entities/Counter/w1?op=add", 5).status == 202
    _wait_entity(w, "Counter", "w1", 5)


def top_level(w: WorkerHost) -> None:
    assert run(w, "hello_orchestrator")["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert run(w, "fan_out_fan_in", 5)["output"] == 30
    assert run(w, "slow_orchestrator", "report")["output"] == "done: report"
    links = w.start_orchestration("approval", {"timeout_seconds": 60})
    w.wait(links["id"], statuses=("Running",))
    url = links["sendEventPostUri"].replace("{eventName}", "Approval")
    assert w.http("POST", url, "true", {"Content-Type": "application/json"}).status == 202
    assert w.wait(links["id"])["output"] == {"approved": True}


def _wait_entity(w: WorkerHost, name: str, key: str, expected, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        r = w.http("GET", f"{WH}/entities/{name}/{key}")
        value = r.json() if r.status == 200 else None
        if value == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name}/{key} = {value}, expected {expected}\n{w.log()}")


SAMPLES = {
    "samples/function_chaining": chaining,
    "samples/fan_out_fan_in": fan_out,
    "samples/async_http_api": async_http,
    "samples/monitor": monitor,
    "samples/human_interaction": human_interaction,
    "samples/sub_orchestrations": sub_orchestrations,
    "samples/retries": retries,
    "samples/eternal": eternal,
    "samples/counter_entity": counter_entity,
}


@pytest.mark.parametrize("app", sorted(SAMPLES))
def test_sample_in_worker_mode(worker_factory, storage, app):
    SAMPLES[app](worker_factory(app, storage=storage))


def test_top_level_app_in_worker_mode(worker_factory):
    top_level(worker_factory("."))
