"""OTLP/HTTP from the real host to a receiver this test runs on loopback, through a SIGKILL.

The host is configured the standard way (``OTEL_EXPORTER_OTLP_ENDPOINT``). An approval workflow
(samples/human_interaction) is started over HTTP; once its first activity's spans have arrived — it
then waits for the external event — the host is killed with SIGKILL and started again on the same
hub (SQLite, and Azure Storage on Azurite: the context travels in the History table's rows and the
queue messages). The event finishes it, and the spans the second process sends continue the first process's
trace: same trace id, the orchestration span keeps the id history gave it before the kill.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.e2e.hostproc import HostProcess
from tests.e2e.otlp_receiver import CLIENT, PRODUCER, SERVER, Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_the_trace_continues_across_a_sigkill_and_restart(host_factory, receiver, storage):
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_SERVICE_NAME": "approval-e2e",
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # ms: spans leave the first process well before the kill
    }
    host = host_factory("samples/human_interaction", env=env, storage=storage)
    started = host.start_orchestration("approval_workflow", {"timeout_seconds": 3600})
    instance_id = started["id"]

    # The deterministic point: the first activity ran and its result was committed (client span), and
    # the orchestration now waits for the Approval event.
    server_before = receiver.wait_for("activity:request_approval", SERVER, host)
    client_before = receiver.wait_for("activity:request_approval", CLIENT, host)
    assert host.status(instance_id).json()["runtimeStatus"] == "Running"
    assert not receiver.named("orchestration:approval_workflow")  # emitted once, when it ends
    host.kill()

    restarted = HostProcess(host.app_dir, port=host.port, env=host.env).start()
    try:
        event_url = started["sendEventPostUri"].replace("{eventName}", "Approval")
        r = requests.post(event_url, data="true", headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 202, r.text
        result = restarted.wait(instance_id)
        assert result["output"] == {"approved": True}
        orchestration = receiver.wait_for("orchestration:approval_workflow", SERVER, restarted)
    finally:
        restarted.stop()

    http = receiver.named("POST /api/orchestrators/{functionName}", SERVER)[0]
    create = receiver.named("create_orchestration:approval_workflow", PRODUCER)[0]
    trace_id = http.trace_id
    assert {create.trace_id, orchestration.trace_id, client_before.trace_id, server_before.trace_id} == {trace_id}
    assert create.parent_span_id == http.span_id
    assert orchestration.parent_span_id == create.span_id
    # Sent by the killed process, parented to the span the restarted process emitted at the end.
    assert client_before.parent_span_id == orchestration.span_id
    assert server_before.parent_span_id == client_before.span_id
    # The orchestration span covers both processes' episodes.
    assert orchestration.start_time_unix_nano <= client_before.start_time_unix_nano
    assert orchestration.end_time_unix_nano >= client_before.end_time_unix_nano
    attributes = {a.key: a.value.string_value or a.value.int_value for a in orchestration.attributes}
    assert attributes["durabletask.task.instance_id"] == instance_id
    assert attributes["durabletask.task.status"] == "Completed"
    hub = json.loads((host.app_dir / "host.json").read_text())["extensions"]["durableTask"]["hubName"]
    assert attributes["durabletask.task_hub"] == hub
    assert len(receiver.named("orchestration_event:Approval", PRODUCER)) == 1
