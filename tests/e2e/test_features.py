"""The SDK's orchestration and client features against the real host process.

One host serves the whole module (tests/fixtures/apps/features); each test uses its own
instances. Plain HTTP goes through ``requests``; the official SDK client through
``DurableOrchestrationClient`` with the binding JSON a function would receive.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest

from tests.e2e.hostproc import ROOT, HostProcess, copy_app, run_async

HUB = "FeaturesHub"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    base = tmp_path_factory.mktemp("features")
    app = copy_app(ROOT / "tests/fixtures/apps/features", base / "app")
    proc = HostProcess(app, env={"FEATURES_FLAG_DIR": str(base)}).start()
    proc.flag_dir = base
    yield proc
    proc.stop()


def sdk(host: HostProcess) -> df.DurableOrchestrationClient:
    return df.DurableOrchestrationClient(host.client_binding(HUB))


def test_custom_class_input_activity_result_and_wait_for_completion(host):
    r = host.session.post(host.url("api/point"), timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"x": 3, "y": 4, "type": "Point"}


def test_call_http_is_made_by_the_runtime(host):
    started = host.start_orchestration("http_caller", host.url("api/hello?name=durable"))
    done = host.wait(started["id"])
    assert done["runtimeStatus"] == "Completed", done
    assert done["output"] == {"status": 200, "content": {"hello": "durable"}}


def test_async_activity(host):
    done = host.wait(host.start_orchestration("async_activity_orchestrator")["id"])
    assert done["output"] == 42


def test_a_start_answers_while_a_slow_first_episode_still_runs(host):
    """The host decides a new instance's first episode before writing the instance, to write both at
    once — but a start request does not wait for user code that takes its time: the instance is
    created (Pending) and the episode commits when it ends."""
    started = host.start_orchestration("gated_start", "one")  # answered while the episode waits
    status = host.status(started["id"])
    assert status.status_code == 202 and status.json()["runtimeStatus"] in ("Pending", "Running")
    (host.flag_dir / "gate-one").touch()
    done = host.wait(started["id"])
    assert done["runtimeStatus"] == "Completed" and done["output"] == 42, done
    history = host.status(started["id"], showHistory="true").json()["historyEvents"]
    assert [ev["EventType"] for ev in history] == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]


def test_new_uuid_version_and_instance_id(host):
    instance_id = host.start_orchestration("deterministic_bits")["id"]
    out = host.wait(instance_id)["output"]
    assert len(set(out["uuids"])) == 2
    assert out["version"] == "1.0"
    assert out["instance"] == instance_id
    assert out["replaying_at_end"] is False


def test_raise_event_with_sdk_client_arrives_as_json_text_and_custom_status_updates(host):
    instance_id = host.start_orchestration("wait_for_go")["id"]

    async def go():
        client = sdk(host)
        for _ in range(100):
            status = await client.get_status(instance_id)
            if status.custom_status == "waiting":
                break
        assert status.runtime_status == df.OrchestrationRuntimeStatus.Running
        await client.raise_event(instance_id, "Go", {"a": 1})

    run_async(go())
    done = host.wait(instance_id)
    assert done["output"] == '{"a": 1}'
    assert done["customStatus"] == "done"


def test_raise_event_with_plain_http_json_body(host):
    links = host.start_orchestration("wait_for_go")
    url = links["sendEventPostUri"].replace("{eventName}", "Go")
    r = host.session.post(url, data='{"a": 1}', headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 202
    assert host.wait(links["id"])["output"] == {"a": 1}


def test_raise_event_to_unknown_and_finished_instances(host):
    base = host.url("runtime/webhooks/durabletask/instances")
    r = host.session.post(f"{base}/nope/raiseEvent/Go", json=1, timeout=30)
    assert r.status_code == 404
    done_id = host.start_orchestration("async_activity_orchestrator")["id"]
    host.wait(done_id)
    r = host.session.post(f"{base}/{done_id}/raiseEvent/Go", json=1, timeout=30)
    assert r.status_code == 410


def test_terminate_with_sdk_client(host):
    instance_id = host.start_orchestration("wait_for_go")["id"]
    run_async(sdk(host).terminate(instance_id, "enough"))
    done = host.wait(instance_id)
    assert done["runtimeStatus"] == "Terminated"
    assert done["output"] == "enough"


def test_suspend_holds_events_until_resume(host):
    links = host.start_orchestration("wait_for_go")
    instance_id = links["id"]
    host.wait(instance_id, statuses=("Running",))
    assert host.session.post(links["suspendPostUri"].replace("{text}", "pause"), timeout=30).status_code == 202
    host.wait(instance_id, statuses=("Suspended",))
    url = links["sendEventPostUri"].replace("{eventName}", "Go")
    assert host.session.post(url, json="later", timeout=30).status_code == 202
    assert host.status(instance_id).json()["runtimeStatus"] == "Suspended"
    assert host.session.post(links["resumePostUri"].replace("{text}", "go"), timeout=30).status_code == 202
    assert host.wait(instance_id)["output"] == "later"


def test_rewind_reruns_a_failed_instance_from_its_failure(host):
    instance_id = host.start_orchestration("fails_until_flag")["id"]
    failed = host.wait(instance_id)
    assert failed["runtimeStatus"] == "Failed"
    assert "flag missing for a" in failed["output"]
    (host.flag_dir / "flag").write_text("x")
    try:
        run_async(sdk(host).rewind(instance_id, "fixed"))
        done = host.wait(instance_id, statuses=("Completed",))
    finally:
        (host.flag_dir / "flag").unlink()
    assert done["output"] == "ok a"


def test_continue_as_new(host):
    done = host.wait(host.start_orchestration("counter_loop", 0)["id"])
    assert done["runtimeStatus"] == "Completed"
    assert done["output"] == 3


def test_failing_sub_orchestration_is_catchable(host):
    done = host.wait(host.start_orchestration("parent_of_failing_child")["id"])
    assert done["output"].startswith("caught: Orchestrator function 'always_fails' failed: child broke")


def test_activity_error_shape_users_parse(host):
    done = host.wait(host.start_orchestration("catches_activity_error")["id"])
    assert done["output"] == {
        "message": "Activity function 'raises_value_error' failed:  ValueError: boom ",
        "detail": " ValueError: boom",
    }


def test_missing_activity_fails_with_a_clear_reason(host):
    done = host.wait(host.start_orchestration("calls_missing_activity")["id"])
    assert done["runtimeStatus"] == "Failed"
    assert "The function 'does_not_exist' doesn't exist" in done["output"]


def test_history_shows_what_ran(host):
    instance_id = host.start_orchestration("async_activity_orchestrator")["id"]
    host.wait(instance_id)
    body = host.status(instance_id, showHistory="true", showHistoryOutput="true").json()
    kinds = [ev["EventType"] for ev in body["historyEvents"]]
    assert kinds == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    assert body["historyEvents"][1]["FunctionName"] == "async_double"
    assert body["historyEvents"][1]["Result"] == 42


def test_sdk_client_management_calls(host):
    async def go():
        client = sdk(host)
        first = await client.start_new("counter_loop", client_input=2)
        second = await client.start_new("async_activity_orchestrator", instance_id="fixed-id-1")
        assert second == "fixed-id-1"
        for _ in range(200):
            a, b = await client.get_status(first), await client.get_status(second)
            if a.runtime_status.name == b.runtime_status.name == "Completed":
                break
        assert a.output == 3 and b.output == 42
        everything = await client.get_status_all()
        assert {first, second} <= {s.instance_id for s in everything}
        since = datetime.now(UTC) - timedelta(minutes=5)
        by = await client.get_status_by(
            created_time_from=since, runtime_status=[df.OrchestrationRuntimeStatus.Completed]
        )
        assert first in {s.instance_id for s in by}
        restarted = await client.restart(second, restart_with_new_instance_id=False)
        assert restarted
        for _ in range(200):
            again = await client.get_status(second)
            if again.runtime_status.name == "Completed":
                break
        purged = await client.purge_instance_history(first)
        assert purged.instances_deleted == 1
        gone = await client.get_status(first)
        assert not gone

    run_async(go())


def test_bad_requests_get_clear_4xx(host):
    base = host.url("runtime/webhooks/durabletask")
    r = host.session.post(f"{base}/orchestrators/no_such_orchestrator", timeout=30)
    assert r.status_code == 400 and "doesn't exist" in r.json()["ExceptionMessage"]
    r = host.session.post(
        f"{base}/orchestrators/counter_loop", data="{not json", headers={"Content-Type": "application/json"}, timeout=30
    )
    assert r.status_code == 400
    r = host.session.post(f"{base}/orchestrators/counter_loop/bad%23id", timeout=30)
    assert r.status_code in (400, 404)
    assert host.status("does-not-exist").status_code == 404
    r = host.session.delete(f"{base}/instances/", timeout=30)
    assert r.status_code == 400
    json.loads(r.text)
