"""Worker mode on a small app of every function kind: what the worker reports, the one import of the
user's module, timer starters, keys, the built-in API through the webhook function, startup errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from durable_ext.auth.keys import Keys
from durable_ext.functions.reported import DURABLE_BINDING_TYPES, WEBHOOK_FUNCTION_NAME
from durable_ext.worker import WEBHOOK_KEY_SETTING
from durable_ext.worker.init import ENTRY_FILE, ENTRY_SOURCE, init_worker
from tests.e2e.hostproc import ROOT
from tests.worker_mode.harness import WorkerHost

APP = Path(__file__).parent / "apps" / "counted"
WH = "api/durabletask"


def assert_reported_metadata(w: WorkerHost, expected: set[str]) -> None:
    """No durable binding type reaches the host; every function passed the worker's own validation
    (index() loads each one and asserts Success); the webhook function is there."""
    assert w.indexed, w.metadata.result.exception.message
    reported = w.host.functions
    assert set(reported) == expected | {WEBHOOK_FUNCTION_NAME}
    for function in reported.values():
        types = {binding["type"] for binding in function.bindings}
        assert not types & DURABLE_BINDING_TYPES, (function.name, function.bindings)
    webhook = reported[WEBHOOK_FUNCTION_NAME].trigger
    assert webhook["route"] == "durabletask/{*path}"
    assert webhook["authLevel"].lower() == "function"


@pytest.fixture
def counted(worker_factory):
    return worker_factory(APP)


def test_reports_only_what_the_host_can_bind_and_imports_the_app_once(counted):
    assert_reported_metadata(counted, {"starter", "plain", "tick"})
    assert counted.http("GET", "api/plain").body == b"plain ok"
    done = counted.wait(counted.start_orchestration("greeter", route="api/start", body=None)["id"])
    assert done["output"] == "Hello world!"
    imports = (counted.app_dir / "imports.log").read_text().split()
    assert imports == [str(counted.host.proc.pid)]


def test_indexing_at_init_reports_the_same_and_imports_once(worker_factory):
    """PYTHON_ENABLE_INIT_INDEXING=1: the 4.x worker indexes the app during WorkerInitRequest (always so
    on 3.13+) and answers the metadata request from what it indexed then."""
    w = worker_factory(APP, env={"PYTHON_ENABLE_INIT_INDEXING": "1"})
    assert_reported_metadata(w, {"starter", "plain", "tick"})
    assert w.wait(w.start_orchestration("greeter", route="api/start")["id"])["output"] == "Hello world!"
    assert (w.app_dir / "imports.log").read_text().split() == [str(w.host.proc.pid)]


def test_timer_function_gets_a_durable_client(counted, protos):
    timer = json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": False})
    response = counted.host.invoke("tick", [protos.ParameterBinding(name="timer", data=protos.TypedData(json=timer))])
    assert response.result.status == protos.StatusResult.Success, response.result.exception.message
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listing = counted.http("GET", f"{WH}/instances?runtimeStatus=Completed").json()
        if any(item["name"] == "greeter" and item["output"] == "Hello timer!" for item in listing):
            return
        time.sleep(0.1)
    raise AssertionError(f"the timer's orchestration did not complete: {listing}\n{counted.log()}")


def test_built_in_api_through_the_webhook_function(counted):
    ids = [counted.start_orchestration("waiter", route="api/start")["id"] for _ in range(3)]
    for instance_id in ids:
        counted.wait(instance_id, statuses=("Running",))
    # List with paging: the continuation token comes back as a header and is passed back as one.
    first = counted.http("GET", f"{WH}/instances?top=2&runtimeStatus=Running")
    assert first.status == 200 and len(first.json()) == 2
    token = first.headers.get("x-ms-continuation-token")
    assert token
    rest = counted.http("GET", f"{WH}/instances?top=2&runtimeStatus=Running", headers={"x-ms-continuation-token": token})
    assert {i["instanceId"] for i in first.json() + rest.json()} == set(ids)
    a, b, c = ids
    # Suspend, resume, raise event.
    assert counted.http("POST", f"{WH}/instances/{a}/suspend?reason=x").status == 202
    assert counted.wait(a, statuses=("Suspended",))["runtimeStatus"] == "Suspended"
    assert counted.http("POST", f"{WH}/instances/{a}/resume?reason=y").status == 202
    counted.wait(a, statuses=("Running",))
    raised = counted.http("POST", f"{WH}/instances/{a}/raiseEvent/Go", '"went"', {"Content-Type": "application/json"})
    assert raised.status == 202
    assert counted.wait(a)["output"] == "went"
    # Terminate, then restart, then purge.
    assert counted.http("POST", f"{WH}/instances/{b}/terminate?reason=stop").status == 202
    assert counted.wait(b)["runtimeStatus"] == "Terminated"
    restarted = counted.http("POST", f"{WH}/instances/{b}/restart")
    assert restarted.status == 202
    assert restarted.json()["statusQueryGetUri"].startswith("https://myapp.example.net/api/durabletask/instances/")
    assert counted.http("DELETE", f"{WH}/instances/{a}").json() == {"instancesDeleted": 1}
    assert counted.status(a).status == 404
    # Starting through the API itself, and entities.
    started = counted.http("POST", f"{WH}/orchestrators/greeter")
    assert started.status == 202
    assert counted.wait(started.json()["id"])["output"] == "Hello world!"
    assert counted.http("POST", f"{WH}/entities/Tally/t1?op=add", "4", {"Content-Type": "application/json"}).status == 202
    deadline = time.monotonic() + 60
    while counted.http("GET", f"{WH}/entities/Tally/t1").body != b"4":
        assert time.monotonic() < deadline, counted.log()
        time.sleep(0.1)
    # Anything else under the route: the API's own 404.
    assert counted.http("GET", f"{WH}/nothing-here").status == 404
    assert counted.http("POST", f"{WH}/instances/{c}/terminate").status == 202


WEBHOOK_KEY = "webhook-key/0123+456789"
HOST_KEYS = Keys(
    master="master-key-0123456789abcdef",
    host={"default": "host-key-0123456789abcdef"},
    system={"durabletask_extension": "system-key-0123456789abcdef"},
    functions={WEBHOOK_FUNCTION_NAME: {"default": WEBHOOK_KEY}},
)


def test_links_carry_the_key_the_host_checks_for_the_webhook_function(worker_factory):
    """The mock host checks keys as the host does in Azure; the webhook function's key reaches durable_ext
    as the app setting named as the host's key stores name it, and every link handed out carries it."""
    w = worker_factory(APP, env={WEBHOOK_KEY_SETTING: WEBHOOK_KEY}, host_keys=HOST_KEYS)
    assert w.host.functions[WEBHOOK_FUNCTION_NAME].trigger["authLevel"].lower() == "function"
    links = w.start_orchestration("waiter", route="api/start")  # the app's own anonymous starter
    for name in ("statusQueryGetUri", "sendEventPostUri", "terminatePostUri", "purgeHistoryDeleteUri", "rewindPostUri"):
        assert parse_qs(urlsplit(links[name]).query)["code"] == [WEBHOOK_KEY], links[name]
    # The links work through the host's key check as handed out; without the key, or with a key of
    # another level than the function's, the host answers 401 before the worker sees the request.
    status = links["statusQueryGetUri"]
    assert w.http("GET", status).status in (200, 202)
    bare = status.split("?")[0]
    assert w.http("GET", bare).status == 401
    assert w.http("GET", f"{bare}?code=system-key-0123456789abcdef").status == 401
    assert w.http("GET", bare, headers={"x-functions-key": "host-key-0123456789abcdef"}).status in (200, 202)
    assert w.http("GET", f"{bare}?code=master-key-0123456789abcdef").status in (200, 202)
    # The 202 answer's Location keeps the key, so a client polling it stays authorized.
    polled = w.http("GET", status)
    assert polled.status == 202
    assert parse_qs(urlsplit(polled.headers["Location"]).query)["code"] == [WEBHOOK_KEY]
    event = links["sendEventPostUri"].replace("{eventName}", "Go")
    assert w.http("POST", event, '"keyed"', {"Content-Type": "application/json"}).status == 202
    deadline = time.monotonic() + 60
    while (done := w.http("GET", status).json())["runtimeStatus"] != "Completed":
        assert time.monotonic() < deadline, (done, w.log())
        time.sleep(0.1)
    assert done["output"] == "keyed"


def test_anonymous_webhook_setting(worker_factory):
    w = worker_factory(
        APP, env={"DURABLE_EXT_WEBHOOK_AUTH_LEVEL": "anonymous", WEBHOOK_KEY_SETTING: WEBHOOK_KEY}, host_keys=HOST_KEYS
    )
    assert w.host.functions[WEBHOOK_FUNCTION_NAME].trigger["authLevel"].lower() == "anonymous"
    links = w.start_orchestration("greeter", route="api/start")
    assert "code=" not in links["statusQueryGetUri"]
    assert w.wait(links["id"])["output"] == "Hello world!"


def test_sqlite_hub_in_azure_fails_indexing_with_one_line_naming_the_setting(worker_factory):
    w = worker_factory(APP, env={"WEBSITE_INSTANCE_ID": "abc123", WEBHOOK_KEY_SETTING: WEBHOOK_KEY})
    assert not w.indexed
    message = w.metadata.result.exception.message
    assert "WEBSITE_INSTANCE_ID" in message and "storageProvider.type" in message and "AzureStorage" in message


def test_init_worker_is_idempotent_and_leaves_function_app_alone(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text("# user code\n")
    (app / "requirements.txt").write_text("azure-functions\nazure-functions-durable")
    (app / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": {"X": "1"}}))
    first = init_worker(app)
    assert first.app_setting == f"PYTHON_SCRIPT_FILE_NAME={ENTRY_FILE}" and len(first.changed) == 4
    snapshot = {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()}
    assert init_worker(app).changed == ()
    assert {p.name: p.read_bytes() for p in app.iterdir() if p.is_file()} == snapshot
    assert snapshot["function_app.py"] == b"# user code\n"
    assert snapshot[ENTRY_FILE].decode() == ENTRY_SOURCE
    assert snapshot["requirements.txt"].decode() == "azure-functions\nazure-functions-durable\ndurable_ext\n"
    values = json.loads(snapshot["local.settings.json"])["Values"]
    assert values == {"X": "1", "PYTHON_SCRIPT_FILE_NAME": ENTRY_FILE, "FUNCTIONS_WORKER_RUNTIME": "python"}


def test_init_worker_refuses_a_foreign_entry_file(tmp_path):
    from durable_ext.errors import ConfigError

    (tmp_path / "function_app.py").write_text("")
    (tmp_path / ENTRY_FILE).write_text("# mine\n")
    with pytest.raises(ConfigError, match="not written by init-worker"):
        init_worker(tmp_path)


def test_init_worker_command_prints_the_app_setting_and_is_idempotent(tmp_path):
    (tmp_path / "function_app.py").write_text("# user code\n")
    command = [sys.executable, "-m", "durable_ext", "init-worker", "--app-dir", str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"wrote {ENTRY_FILE}" in first.stdout
    assert first.stdout.rstrip().endswith(f"PYTHON_SCRIPT_FILE_NAME={ENTRY_FILE}")
    second = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert second.returncode == 0 and "nothing to change" in second.stdout
    missing = subprocess.run([*command[:-1], str(tmp_path / "nowhere")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert missing.returncode != 0 and "No function_app.py" in missing.stderr
