"""The installed ``durable-ext`` command's ``func durable`` verbs, run as a user runs them.

Every call is a subprocess of the console script pip installed into the venv, started outside the
repository, on real SQLite files and a real Azurite; "with a host" tests run the real host on the
same hub and check that it acts on what the CLI wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.e2e.hostproc import ROOT, copy_app, use_azure_storage

DURABLE_EXT = Path(sys.executable).with_name("durable-ext")
FEATURES = ROOT / "tests" / "fixtures" / "apps" / "features"
ENTITIES = ROOT / "tests" / "fixtures" / "apps" / "entities_load"


def cli(*args: str, app_dir: Path | None = None, cwd: Path | None = None, env=None, timeout: float = 120):
    command = [str(DURABLE_EXT), *args] + (["--app-dir", str(app_dir)] if app_dir is not None else [])
    environment = {**os.environ, **env} if env else None
    return subprocess.run(
        command, cwd=cwd or Path("/"), capture_output=True, text=True, timeout=timeout, env=environment
    )


def ok(*args: str, app_dir: Path) -> str:
    result = cli(*args, app_dir=app_dir)
    assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
    return result.stdout


def ok_json(*args: str, app_dir: Path):
    return json.loads(ok(*args, "--json", app_dir=app_dir))


def status(app_dir: Path, instance_id: str) -> dict:
    return ok_json("get-runtime-status", "--id", instance_id, app_dir=app_dir)


@pytest.fixture
def app(tmp_path, storage) -> Path:
    app_dir = copy_app(FEATURES, tmp_path / "app")
    if storage:
        use_azure_storage(app_dir, storage)
    return app_dir


def test_the_installed_command_runs_from_any_directory(tmp_path):
    assert DURABLE_EXT.exists(), "pip install . did not install the durable-ext console script"
    version = cli("--version", cwd=tmp_path)
    assert version.returncode == 0 and "durable_ext" in version.stdout
    module = subprocess.run(
        [sys.executable, "-m", "durable_ext", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert module.returncode == 0
    for verb in ("start", "start-new", "get-instances", "purge-history", "delete-task-hub", "signal-entity"):
        assert verb in module.stdout


def test_pip_install_dot_gets_the_command_and_the_monitor_files(tmp_path):
    """What ``pip install .`` installs: the wheel built from a copy of the source tree."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "durable_ext", source / "durable_ext", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("durable_ext-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "durable-ext = durable_ext.cli:main" in entry_points
    for asset in ("index.html", "monitor.js", "monitor.css"):
        assert f"durable_ext/web/monitor/static/{asset}" in names


def test_verbs_on_a_hub_with_no_host_running(app):
    ids = [f"job-{n}" for n in range(5)]
    for n, instance_id in enumerate(ids):
        out = ok(
            "start-new",
            "--function-name",
            "wait_for_go",
            "--id",
            instance_id,
            "--input",
            json.dumps({"n": n}),
            app_dir=app,
        )
        assert instance_id in out
    body = status(app, "job-3")
    assert body["runtimeStatus"] == "Pending" and body["input"] == {"n": 3} and body["name"] == "wait_for_go"

    # Paging: --top 2 and the printed continuation token walk every instance exactly once.
    seen, token = [], None
    for _ in range(10):
        page = ok_json("get-instances", "--top", "2", *(["--continuation-token", token] if token else []), app_dir=app)
        assert len(page["instances"]) <= 2
        seen += [i["instanceId"] for i in page["instances"]]
        token = page["continuationToken"]
        if not token:
            break
    assert sorted(seen) == ids

    table = ok("get-instances", "--top", "2", app_dir=app)
    assert "job-0" in table and "Pending" in table and "--continuation-token" in table
    assert ok_json("get-instances", "--runtime-status", "completed failed", app_dir=app)["instances"] == []
    assert len(ok_json("get-instances", "--runtime-status", "Pending", "--all", app_dir=app)["instances"]) == 5
    prefixed = ok_json("get-instances", "--instance-id-prefix", "job-4", app_dir=app)["instances"]
    assert [i["instanceId"] for i in prefixed] == ["job-4"]
    future = ok_json("get-instances", "--created-after", "2999-01-01T00:00:00Z", app_dir=app)
    assert future["instances"] == []

    # Errors: one line, non-zero.
    missing = cli("terminate", "--id", "nope", app_dir=app)
    assert missing.returncode == 1 and missing.stderr.strip() == "error: No instance with ID 'nope' was found."
    bad = cli("get-instances", "--runtime-status", "sleepy", app_dir=app)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "sleepy" in bad.stderr
    bad_date = cli("get-instances", "--created-after", "yesterday-ish", app_dir=app)
    assert bad_date.returncode == 2 and "yesterday-ish" in bad_date.stderr
    bad_hub = cli("get-instances", "--task-hub-name", "no way", app_dir=app)
    assert bad_hub.returncode == 2 and "--task-hub-name" in bad_hub.stderr

    # A hub named with --task-hub-name is another hub: empty here.
    assert ok_json("get-instances", "--task-hub-name", "OtherHub9", app_dir=app)["instances"] == []

    assert ok_json("purge-history", "--id", "job-0", app_dir=app) == {"instancesDeleted": 1}
    purged = cli("purge-history", "--runtime-status", "pending", app_dir=app)
    assert purged.returncode == 0 and "Purged 4 instances." in purged.stdout
    assert "Purging instances" in purged.stderr  # the progress bar goes to stderr
    assert ok_json("get-instances", app_dir=app)["instances"] == []

    deleted = cli("delete-task-hub", "--yes", app_dir=app)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout


@pytest.mark.azurite
def test_connection_string_setting_and_task_hub_name_pick_an_azure_storage_hub(tmp_path, azurite):
    """func durable's way to name a hub: a SQLite app's CLI reaches an Azure Storage hub by flags."""
    app = copy_app(FEATURES, tmp_path / "app")  # host.json: SQLite
    flags = ("--connection-string-setting", "CLI_STORAGE", "--task-hub-name", "CliFlagsHub1")
    env = {"CLI_STORAGE": azurite.connection_string}
    started = cli("start-new", "--function-name", "wait_for_go", "--id", "azure-1", *flags, app_dir=app, env=env)
    assert started.returncode == 0, started.stderr
    listed = cli("get-instances", "--json", *flags, app_dir=app, env=env)
    assert [i["instanceId"] for i in json.loads(listed.stdout)["instances"]] == ["azure-1"]
    assert not (app / ".durable_ext").exists()  # nothing went to the app's SQLite hub
    other = cli("get-instances", "--json", *flags[:2], "--task-hub-name", "CliFlagsHub2", app_dir=app, env=env)
    assert other.returncode == 0 and json.loads(other.stdout)["instances"] == []  # another hub: empty
    unset = cli("get-instances", "--connection-string-setting", "NO_SUCH_SETTING", app_dir=app)
    assert unset.returncode == 2 and "NO_SUCH_SETTING" in unset.stderr
    assert cli("delete-task-hub", "--yes", *flags, app_dir=app, env=env).returncode == 0


@pytest.mark.timeout(900)
def test_verbs_act_on_a_hub_a_host_is_running(app, tmp_path, host_factory, storage):
    flags = tmp_path / "flags"
    flags.mkdir()
    host = host_factory(app, storage=storage, copy=False, env={"FEATURES_FLAG_DIR": str(flags)})

    def wait(instance_id: str, wanted: str) -> dict:
        # Statuses are read over HTTP while waiting (a CLI call costs a process start each time).
        return host.wait(instance_id, timeout=120, statuses=(wanted,))

    ok("start-new", "--function-name", "wait_for_go", "--id", "w1", app_dir=app)
    assert wait("w1", "Running")["customStatus"] == "waiting"
    assert status(app, "w1")["customStatus"] == "waiting"  # the CLI reads what the host wrote
    ok("raise-event", "--id", "w1", "--event-name", "Go", "--event-data", '{"x": 1}', app_dir=app)
    done = wait("w1", "Completed")
    assert done["output"] == {"x": 1} and done["customStatus"] == "done"
    history = ok_json("get-history", "--id", "w1", app_dir=app)
    kinds = [row["EventType"] for row in history]
    assert kinds[0] == "ExecutionStarted" and "EventRaised" in kinds and kinds[-1] == "ExecutionCompleted"
    assert "EventRaised" in ok("get-history", "--id", "w1", app_dir=app)

    ok("start-new", "--function-name", "wait_for_go", "--id", "w2", app_dir=app)
    wait("w2", "Running")
    ok("suspend", "--id", "w2", "--reason", "maintenance", app_dir=app)
    wait("w2", "Suspended")
    ok("resume", "--id", "w2", app_dir=app)
    wait("w2", "Running")
    ok("terminate", "--id", "w2", "--reason", "no longer needed", app_dir=app)
    assert wait("w2", "Terminated")["output"] == "no longer needed"
    gone = cli("terminate", "--id", "w2", app_dir=app)
    assert gone.returncode == 1 and "already Terminated" in gone.stderr

    ok("start-new", "--function-name", "fails_until_flag", "--id", "f1", app_dir=app)
    wait("f1", "Failed")
    (flags / "flag").write_text("1")
    ok("rewind", "--id", "f1", "--reason", "flag set", app_dir=app)
    assert wait("f1", "Completed")["output"] == "ok a"

    restarted = ok_json("restart", "--id", "w1", app_dir=app)["id"]
    assert restarted != "w1"
    wait(restarted, "Running")

    assert ok_json("purge-history", "--runtime-status", "completed", app_dir=app) == {"instancesDeleted": 2}
    left = {i["instanceId"] for i in ok_json("get-instances", "--all", app_dir=app)["instances"]}
    assert left == {"w2", restarted}


@pytest.mark.timeout(600)
def test_entity_verbs_with_a_host_running(tmp_path, host_factory, storage):
    app = copy_app(ENTITIES, tmp_path / "entities")
    if storage:
        use_azure_storage(app, storage)
    host_factory(app, storage=storage, copy=False)
    for amount in (5, 7):
        ok(
            "signal-entity",
            "--entity-name",
            "Tally",
            "--entity-key",
            "one",
            "--operation",
            "add",
            "--input",
            str(amount),
            app_dir=app,
        )
    deadline = time.monotonic() + 90
    state = None
    while time.monotonic() < deadline:
        result = cli("get-entity", "--id", "@tally@one", "--json", app_dir=app)
        if result.returncode == 0:
            state = json.loads(result.stdout)["state"]
            if state == 12:
                break
        time.sleep(0.2)
    assert state == 12
    assert ok("get-entity", "--entity-name", "Tally", "--entity-key", "one", app_dir=app).strip() == "12"
    listed = ok_json("list-entities", app_dir=app)["entities"]
    assert [(e["entityId"], e["state"]) for e in listed] == [({"name": "tally", "key": "one"}, 12)]
    assert "tally" in ok("list-entities", app_dir=app)
    missing = cli("get-entity", "--entity-name", "Tally", "--entity-key", "zero", app_dir=app)
    assert missing.returncode == 1 and missing.stderr.startswith("error: No entity")


def test_a_host_keeps_its_wal_when_other_processes_open_and_close_the_hub(tmp_path, host_factory):
    # The hub file's POSIX locks belong to the host process: opening and closing the file by hand
    # (as the permission fix-up for a new connection did) dropped them all, so the next CLI command
    # to close its connection took the database as unused, checkpointed it and deleted the -wal and
    # -shm files the host still wrote into. Every later acknowledged change was invisible to other
    # processes and gone at the next restart.
    app_dir = copy_app(ROOT, tmp_path / "app")
    host = host_factory(app_dir, copy=False)
    first = host.start_orchestration("hello_orchestrator")
    host.wait(first["id"])
    # showHistory reads through the host's second connection, opened on first use.
    assert host.status(first["id"], showHistory="true").status_code == 200
    assert status(app_dir, first["id"])["runtimeStatus"] == "Completed"
    hub_dir = app_dir / ".durable_ext"
    assert (hub_dir / "taskhub.sqlite-wal").exists()
    second = host.start_orchestration("hello_orchestrator")
    assert host.wait(second["id"])["runtimeStatus"] == "Completed"
    assert status(app_dir, second["id"])["runtimeStatus"] == "Completed"
