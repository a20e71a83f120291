"""The built-in HTTP API in worker mode, reached only through the mock host's invocations of durable_ext's
webhook function (``{routePrefix}/durabletask/{*path}``): the operations ``test_worker`` does not drive —
rewind, start with an instance id, start-and-wait, status with history, list filters, bulk purge, the
entity list and entity delete, and the OpenAPI document.

Together with ``test_worker.test_built_in_api_through_the_webhook_function`` (status, list with paging,
suspend/resume, raise event, terminate, restart, purge, start, entity signal/read) this is the whole API.
"""

from __future__ import annotations

import time

import pytest

from tests.worker_mode.harness import WorkerHost
from tests.worker_mode.test_worker import APP

WH = "api/durabletask"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def counted(worker_factory) -> WorkerHost:
    return worker_factory(APP)


def test_rewind_through_the_webhook_function(counted):
    links = counted.start_orchestration("flaky", route="api/start")
    instance_id = links["id"]
    failed = counted.wait(instance_id)
    assert failed["runtimeStatus"] == "Failed", failed
    assert "first attempt" in str(failed["output"]), failed
    # The SDK's check-status response carries a rewind link on the webhook function's public route.
    rewind_url = links["rewindPostUri"].replace("{text}", "retry%20it")
    assert rewind_url.startswith(f"https://myapp.example.net/{WH}/instances/{instance_id}/rewind?"), rewind_url
    rewound = counted.http("POST", rewind_url)
    assert rewound.status == 202, rewound.body
    done = counted.wait(instance_id, statuses=("Completed",))
    assert done["output"] == f"recovered {instance_id}"
    # The history shows the failed attempt and the one after the rewind.
    history = counted.status(instance_id, "showHistory=true&showHistoryOutput=true").json()["historyEvents"]
    kinds = [event["EventType"] for event in history]
    assert kinds.count("TaskCompleted") == 1, kinds
    # Rewinding what did not fail is refused; an unknown instance is a 404.
    assert counted.http("POST", f"{WH}/instances/{instance_id}/rewind").status == 410
    assert counted.http("POST", f"{WH}/instances/no-such-instance/rewind").status == 404


def test_start_forms_status_history_filters_and_bulk_purge(counted):
    # Start with the caller's instance id, then again with the same id while it runs: refused as the
    # extension refuses it (500 naming OrchestrationAlreadyExistsException).
    started = counted.http("POST", f"{WH}/orchestrators/waiter/mine-1", '{"x": 1}', JSON)
    assert started.status == 202 and started.json()["id"] == "mine-1"
    assert started.headers["Location"].startswith("https://myapp.example.net/api/durabletask/instances/mine-1")
    again = counted.http("POST", f"{WH}/orchestrators/waiter/mine-1")
    assert again.status == 500 and again.json()["ExceptionType"].endswith("OrchestrationAlreadyExistsException")
    # Start and wait: the output itself once it completes within the timeout.
    waited = counted.http("POST", f"{WH}/orchestrators/greeter?timeout=60&pollingInterval=1", '{"w": 1}', JSON)
    assert waited.status == 200 and waited.json() == "Hello {'w': 1}!", waited.body
    # Status while running (202 with a public Location), with history, without input.
    counted.wait("mine-1", statuses=("Running",))
    running = counted.status("mine-1", "showInput=false")
    assert running.status == 202 and running.json()["input"] is None
    assert counted.status("mine-1").json()["input"] == {"x": 1}
    assert running.headers["Location"].startswith("https://myapp.example.net/api/durabletask/instances/mine-1")
    counted.http("POST", f"{WH}/instances/mine-1/raiseEvent/Go", '"go"', JSON)
    done = counted.wait("mine-1")
    assert done["output"] == "go"
    events = counted.status("mine-1", "showHistory=true").json()["historyEvents"]
    kinds = [e["EventType"] for e in events]
    assert kinds[0] == "ExecutionStarted" and "EventRaised" in kinds, kinds
    # List filters: prefix and status.
    by_prefix = counted.http("GET", f"{WH}/instances?instanceIdPrefix=mine-&runtimeStatus=Completed").json()
    assert [item["instanceId"] for item in by_prefix] == ["mine-1"]
    # Bulk purge by creation time and status.
    purged = counted.http("DELETE", f"{WH}/instances?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Completed")
    assert purged.status == 200 and purged.json()["instancesDeleted"] >= 2, purged.body
    assert counted.status("mine-1").status == 404
    assert counted.http("DELETE", f"{WH}/instances?runtimeStatus=Completed").status == 400


def test_entity_list_and_delete_and_openapi(counted):
    for key, amount in (("a", 1), ("b", 2)):
        assert counted.http("POST", f"{WH}/entities/Tally/{key}?op=add", str(amount), JSON).status == 202
    deadline = time.monotonic() + 60
    listing: list = []
    while time.monotonic() < deadline:
        listing = counted.http("GET", f"{WH}/entities/Tally?fetchState=true").json()
        if sorted((e["entityId"]["key"], e.get("state")) for e in listing) == [("a", 1), ("b", 2)]:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"entities not listed: {listing}\n{counted.log()}")
    first = counted.http("GET", f"{WH}/entities?top=1")
    assert first.status == 200 and len(first.json()) == 1 and first.headers.get("x-ms-continuation-token")
    # DELETE sends the operation "delete", which Tally answers by destructing itself.
    assert counted.http("DELETE", f"{WH}/entities/Tally/a").status == 202
    while counted.http("GET", f"{WH}/entities/Tally/a").status != 404:
        assert time.monotonic() < deadline + 60, counted.log()
        time.sleep(0.1)
    document = counted.http("GET", f"{WH}/openapi.json")
    assert document.status == 200 and "/instances/{instanceId}/rewind" in str(document.json()["paths"])
