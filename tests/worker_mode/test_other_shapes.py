"""Worker mode on an app shaped unlike the samples (``apps/blueprinted``): functions from a blueprint in
another module, an empty route prefix, function-level auth on the app's own functions under a host that
checks keys, an async activity, and the SDK client used beyond ``start_new``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from durable_ext.auth.keys import Keys
from durable_ext.functions.reported import WEBHOOK_FUNCTION_NAME
from durable_ext.worker import WEBHOOK_KEY_SETTING
from tests.worker_mode.harness import WorkerHost
from tests.worker_mode.test_worker import assert_reported_metadata

APP = Path(__file__).parent / "apps" / "blueprinted"
WEBHOOK_KEY = "blue-webhook-key-0123456789"
HOST_KEY = "blue-host-key-0123456789ab"
KEYS = Keys(
    master="blue-master-key-0123456789", host={"default": HOST_KEY}, functions={WEBHOOK_FUNCTION_NAME: {"default": WEBHOOK_KEY}}
)
CALLER = {"x-functions-key": HOST_KEY, "Content-Type": "application/json"}


def _wait(w: WorkerHost, status_url: str, wanted: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        r = w.http("GET", status_url)
        assert r.status in (200, 202), (r.status, r.body)
        body = r.json()
        if body["runtimeStatus"] == wanted:
            return body
        time.sleep(0.1)
    raise AssertionError(f"not {wanted}: {body}\n{w.log()}")


def test_blueprint_app_without_route_prefix_behind_keys(worker_factory):
    w = worker_factory(APP, env={WEBHOOK_KEY_SETTING: WEBHOOK_KEY}, host_keys=KEYS)
    assert_reported_metadata(w, {"run_and_wait", "manage"})
    # The app's own function-level functions: the host demands a key of them too.
    assert w.http("POST", "run/quick", "{}", {"Content-Type": "application/json"}).status == 401
    # Completed within the wait: the output itself.
    done = w.http("POST", "run/quick", "{}", CALLER)
    assert done.status == 200 and done.json() == 6, done.body
    # Not completed within the wait: the check-status answer, with links on /durabletask (no prefix) that
    # carry the webhook key and pass the host's check as handed out.
    started = w.http("POST", "run/order?timeout_ms=300", json.dumps({"qty": 3, "unit": 5}), CALLER)
    assert started.status == 202, started.body
    links = started.json()
    instance_id = links["id"]
    assert urlsplit(links["statusQueryGetUri"]).path == f"/durabletask/instances/{instance_id}"
    _wait(w, links["statusQueryGetUri"], "Running")
    assert w.http("GET", f"manage/{instance_id}/status", headers=CALLER).body == b"Running"
    assert w.http("POST", f"manage/{instance_id}/approve", headers=CALLER).status == 202
    done = _wait(w, links["statusQueryGetUri"], "Completed")
    # The SDK client sends event data JSON-encoded once more: the orchestrator gets the text (the same
    # under durable_ext start, see test_samples.human_interaction).
    assert done["output"] == {"total": 15, "approved": '{"ok": true}'}
    assert w.http("POST", f"manage/{instance_id}/purge", headers=CALLER).body == b"1"
    assert w.http("GET", links["statusQueryGetUri"]).status == 404
    # Terminate through the SDK client.
    other = w.http("POST", "run/order?timeout_ms=100", json.dumps({"qty": 1, "unit": 1}), CALLER).json()
    _wait(w, other["statusQueryGetUri"], "Running")
    assert w.http("POST", f"manage/{other['id']}/terminate", headers=CALLER).status == 202
    assert _wait(w, other["statusQueryGetUri"], "Terminated")["output"] == "stopped by test"
