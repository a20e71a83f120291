"""``durable-ext start`` with several host processes (app setting ``FUNCTIONS_WORKER_PROCESS_COUNT``).

The supervisor runs that many host processes on its one listening socket; they share the task hub.
An instance belongs to the process that committed it last (its session lives there), and a process
killed with -9 is replaced while the other keeps serving; the instances the dead one held go on.
"""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest
import requests

from tests.e2e.hostproc import is_running, wait_until

APP = "tests/fixtures/apps/features"


def owners(host) -> dict[str, int]:
    """Instance id → pid of the host process holding its lock or affinity (SQLite ``locks`` rows)."""
    path = host.app_dir / ".durable_ext" / "taskhub.sqlite"
    with sqlite3.connect(path, timeout=30) as conn:
        rows = conn.execute("SELECT instance_id, locked_by FROM locks").fetchall()
    return {instance_id: int(worker.rsplit(":", 2)[1]) for instance_id, worker in rows}


def test_two_host_processes_share_the_port_and_the_hub(host_factory):
    host = host_factory(APP, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"})
    pids = wait_until(lambda: len(host.host_pids()) == 2 and host.host_pids(), what="two host processes")
    wait_until(lambda: "Host process 2 of 2 started." in host.log(), what="the second process's start line")
    log = host.log()  # the banner once, from the first process
    assert log.count("Functions:") == 1 and log.count("Host started.") == 1
    bound = ", each bound to one CPU" if len(os.sched_getaffinity(0)) >= 2 else ""
    assert f"Host processes: 2 on this port{bound} (FUNCTIONS_WORKER_PROCESS_COUNT)." in log
    ids = []
    for _ in range(20):  # a connection each: the two processes take turns accepting them
        r = requests.post(host.url("api/orchestrators/async_activity_orchestrator"), timeout=30)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    for instance_id in ids:
        status = host.wait(instance_id)
        assert (status["runtimeStatus"], status["output"]) == ("Completed", 42)
    assert host.host_pids() == pids


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="binding needs two CPUs to choose from")
def test_each_host_process_is_bound_to_a_cpu_of_its_own_unless_told_not_to(host_factory):
    allowed = os.sched_getaffinity(0)
    host = host_factory(APP, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"})
    pids = wait_until(lambda: len(host.host_pids()) == 2 and host.host_pids(), what="two host processes")
    cpus = [os.sched_getaffinity(pid) for pid in pids]
    assert all(len(c) == 1 and c <= allowed for c in cpus) and cpus[0] != cpus[1], cpus
    assert host.wait(host.start_orchestration("async_activity_orchestrator")["id"])["output"] == 42

    free = host_factory(APP, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2", "DURABLE_EXT_PIN_PROCESSES": "false"})
    pids = wait_until(lambda: len(free.host_pids()) == 2 and free.host_pids(), what="two host processes")
    assert [os.sched_getaffinity(pid) for pid in pids] == [allowed, allowed]
    assert "each bound to one CPU" not in free.log()


def test_a_killed_host_process_is_replaced_and_its_instances_go_on(host_factory):
    host = host_factory(APP, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "2"})
    pids = wait_until(lambda: len(host.host_pids()) == 2 and host.host_pids(), what="two host processes")
    ids = [host.start_orchestration("wait_for_go")["id"] for _ in range(3)]
    for instance_id in ids:
        host.wait(instance_id, statuses=("Running",))
    victim = owners(host)[ids[0]]  # the process that committed it holds its session
    assert victim in pids

    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: not is_running(victim), what="the killed process gone")
    replaced = wait_until(
        lambda: len(now := host.host_pids()) == 2 and victim not in now and now, what="a replacement process"
    )
    assert replaced & pids == pids - {victim}
    for instance_id in ids:
        r = host.session.post(
            host.url(f"runtime/webhooks/durabletask/instances/{instance_id}/raiseEvent/Go"), json="go", timeout=30
        )
        assert r.status_code == 202, r.text
    for instance_id in ids:
        status = host.wait(instance_id)
        assert status["runtimeStatus"] == "Completed", status
