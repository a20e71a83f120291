"""SIGKILL the host in the middle of a fan-out; a restart on the same app directory finishes it."""

from __future__ import annotations

import time

from tests.e2e.hostproc import HostProcess

COUNT = 40


def _journal(path) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith("start ")]


def _completed_ids(host: HostProcess, instance_id: str) -> set[int]:
    """Task ids whose completion the orchestration has committed (from its history)."""
    r = host.status(instance_id, showHistory="true", showHistoryOutput="true", showInput="true")
    events = r.json().get("historyEvents") or []
    return {int(ev["Input"]) for ev in events if ev["EventType"] == "TaskCompleted"}


def test_sigkill_mid_fan_out_then_restart_completes_without_rerunning_finished_work(host_factory, tmp_path):
    journal = tmp_path / "journal.txt"
    env = {"CRASHY_JOURNAL": str(journal), "CRASHY_SLEEP": "0.25"}
    host = host_factory("tests/fixtures/apps/crashy", env=env)
    instance_id = host.start_orchestration("fan_out", {"count": COUNT})["id"]

    deadline = time.monotonic() + 30
    done_before: set[int] = set()
    while time.monotonic() < deadline and len(done_before) < 8:
        time.sleep(0.1)
        done_before = _completed_ids(host, instance_id)
    assert 8 <= len(done_before) < COUNT, "the kill must land mid-run"
    host.kill()
    ran_before = _journal(journal)

    restarted = HostProcess(host.app_dir, port=host.port, env=env).start()
    try:
        result = restarted.wait(instance_id, timeout=120)
    finally:
        restarted.stop()
    assert result["runtimeStatus"] == "Completed", result
    assert result["output"] == sum(i * i for i in range(COUNT))

    runs = _journal(journal)
    assert set(runs) == set(range(COUNT))
    for i in done_before:
        assert runs.count(i) == 1, f"activity {i} completed before the kill but ran again"
    assert len(ran_before) < len(runs)
