"""One app, two ways to run it: the same orchestrations, started with the same instance ids, write the
same histories and end with the same statuses and outputs under ``durable_ext start`` and in worker mode.

Each sample runs under both, on its own SQLite hub. Histories are compared event by event after dropping
what differs between any two runs (times, random ids) and where the app and durable_ext were imported from
(stack traces).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.hostproc import ROOT, HostProcess, copy_app
from tests.worker_mode.harness import WorkerHost

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}
#: sample → (orchestrator, input) started under both, with the same instance ids
RUNS: dict[str, list[tuple[str, Any]]] = {
    "samples/function_chaining": [
        ("hello_orchestrator", None),
        ("chaining_with_compensation", {"account": "alice", "amount": 50}),
        ("chaining_with_compensation", {"account": "bob", "amount": 150}),
    ],
    "samples/fan_out_fan_in": [("fan_out_fan_in", 12)],
    "samples/sub_orchestrations": [("parent", None)],
    "samples/retries": [("retry_activity", {"failures": 2}), ("retry_activity", {"failures": 3})],
    "samples/eternal": [("eternal_counter", {"count": 0, "max": 3})],
    "samples/monitor": [("monitor", {"job_id": "job-7", "polls": 2, "interval_seconds": 1})],
    "samples/counter_entity": [("counter_orchestrator", {"key": "k2"})],
}
_TIMES = re.compile(r"(time|timestamp|fireat)$", re.IGNORECASE)
#: Ids made at random in every run (execution ids, entity request ids).
_RANDOM_IDS = re.compile(r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def _normalize(value: Any, app_dir: Path) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v, app_dir) for k, v in value.items() if not _TIMES.search(k)}
    if isinstance(value, list):
        return [_normalize(v, app_dir) for v in value]
    if isinstance(value, str):
        # durable_ext's own frames: imported from the repo, or in worker mode through the app's link to it
        for package in (app_dir / "durable_ext", ROOT / "durable_ext"):
            value = value.replace(str(package), "<durable_ext>")
        return _RANDOM_IDS.sub("<id>", value.replace(str(app_dir), "<app>"))
    return value


def _under_start(app: Path, runs: list[tuple[str, Any]]) -> list[dict]:
    host = HostProcess(app).start()
    try:
        results = []
        for n, (name, body) in enumerate(runs):
            data = None if body is None else json.dumps(body)
            url = host.url(f"runtime/webhooks/durabletask/orchestrators/{name}/same-{n}")
            r = host.session.post(url, data=data, headers=JSON, timeout=30)
            assert r.status_code == 202, r.text
        for n in range(len(runs)):
            host.wait(f"same-{n}", timeout=90)
            r = host.status(f"same-{n}", showHistory="true", showHistoryOutput="true")
            results.append(_normalize(r.json(), app))
        return results
    finally:
        host.stop()


def _in_worker(worker: WorkerHost, runs: list[tuple[str, Any]]) -> list[dict]:
    results = []
    for n, (name, body) in enumerate(runs):
        data = None if body is None else json.dumps(body)
        r = worker.http("POST", f"api/durabletask/orchestrators/{name}/same-{n}", data, JSON)
        assert r.status == 202, r.body
    for n in range(len(runs)):
        worker.wait(f"same-{n}", timeout=90)
        r = worker.status(f"same-{n}", "showHistory=true&showHistoryOutput=true")
        results.append(_normalize(r.json(), worker.app_dir))
    return results


@pytest.mark.parametrize("sample", sorted(RUNS))
def test_same_histories_statuses_and_outputs_as_under_start(worker_factory, tmp_path, sample):
    runs = RUNS[sample]
    expected = _under_start(copy_app(ROOT / sample, tmp_path / "start"), runs)
    actual = _in_worker(worker_factory(sample), runs)
    for n, (want, got) in enumerate(zip(expected, actual, strict=True)):
        history_want, history_got = want.pop("historyEvents"), got.pop("historyEvents")
        assert got == want, (runs[n], got, want)
        assert len(history_want) >= 3 and history_want[0]["EventType"] == "ExecutionStarted", history_want
        assert history_got == history_want, (runs[n], json.dumps(history_got, indent=1))
    assert {r["runtimeStatus"] for r in actual} <= {"Completed"}, actual
