"""Shutdown in worker mode: a worker whose stream to the host ends, or whose interpreter exits, stops its
dispatcher and hands its work back at once; a worker killed with SIGKILL loses nothing either.

Locks are made to last an hour, so an instance that completes in the test was handed back (or taken back
from a dead process), never waited out. The Azure Storage case of a kill — leases and messages taken over
once they expire, by a worker elsewhere — is ``test_scale_out``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time

import pytest

from durable_ext.config import load_config
from tests.e2e.hostproc import ROOT, copy_app
from tests.worker_mode.harness import WorkerHost
from tests.worker_mode.mockhost import worker_env
from tests.worker_mode.test_worker import APP

LONG_LOCKS = {"DURABLE_EXT_ACTIVITY_LOCK_SECONDS": "3600", "DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS": "3600"}


def _start_blocked(worker: WorkerHost) -> str:
    """Start ``blocking`` and wait until its activity's first attempt runs (and blocks) in ``worker``."""
    instance_id = worker.start_orchestration("blocking", route="api/start")["id"]
    marker = worker.app_dir / f"blocking-{instance_id}.marker"
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.05)
    assert marker.read_text() == str(worker.host.proc.pid)
    return instance_id


@pytest.mark.parametrize("how", ["stream closed", "SIGKILL"])
def test_a_stopped_or_killed_worker_loses_nothing(worker_factory, how):
    first = worker_factory(APP, env=LONG_LOCKS)
    instance_id = _start_blocked(first)
    if how == "stream closed":
        first.host.close_stream()
    else:
        first.kill()
    second = worker_factory(env=LONG_LOCKS, app_dir=first.app_dir)
    try:
        done = second.wait(instance_id, timeout=120)
        assert done["runtimeStatus"] == "Completed", done
        assert done["output"] == f"second attempt in {second.host.proc.pid}"
        if how == "stream closed":
            # Still running: the work came back because the stopped engine handed it back, not because
            # the process was gone (that path is the SIGKILL case) or its lock expired.
            assert first.host.proc.poll() is None
    finally:
        (first.app_dir / "release").write_text("")


# A process that attached the app outside any worker (no stream thread: only the exit hook stops it)
# starts ``blocking`` through the loopback API, waits for the activity to run, and exits normally.
_EXITING = """
import json, sys, time, urllib.request
from pathlib import Path
app_dir = Path(sys.argv[1])
sys.path.insert(0, str(app_dir))
import function_app
from durable_ext.worker import attach
runtime = attach(function_app)._durable_ext_runtime
assert runtime._ready.wait(60)
request = urllib.request.Request(runtime.loopback + "/api/durabletask/orchestrators/blocking", method="POST")
instance_id = json.load(urllib.request.urlopen(request, timeout=30))["id"]
print(instance_id, flush=True)
deadline = time.monotonic() + 60
while not (app_dir / f"blocking-{instance_id}.marker").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
sys.exit(0)
"""


def test_interpreter_exit_hands_work_back_before_waiting_for_running_activities(tmp_path):
    app_dir = copy_app(APP, tmp_path / "app")
    env = {**worker_env(app_dir, LONG_LOCKS), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _EXITING, str(app_dir)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        instance_id = proc.stdout.readline().strip()
        assert instance_id, "the process did not start the orchestration"
        database = load_config(app_dir).storage.sqlite_path
        deadline = time.monotonic() + 60
        held = None
        while time.monotonic() < deadline:
            # The marker first: once it exists the activity held its lock, so a count of 0 after it
            # means handed back.
            running = (app_dir / f"blocking-{instance_id}.marker").exists()
            with contextlib.closing(sqlite3.connect(database, timeout=30)) as db:
                held = db.execute(
                    "SELECT (SELECT count(*) FROM locks) + (SELECT count(*) FROM new_tasks WHERE locked_by IS NOT NULL)"
                ).fetchone()[0]
                started = db.execute("SELECT count(*) FROM new_tasks").fetchone()[0]
            if running and held == 0 and started == 1:
                break
            time.sleep(0.1)
        assert held == 0, f"{held} lock(s) still held"
        # Handed back while the process is still alive (exiting, waiting for the blocked activity).
        assert proc.poll() is None
    finally:
        (app_dir / "release").write_text("")
        proc.wait(120)
    assert proc.returncode == 0
