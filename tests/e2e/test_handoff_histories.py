"""Work handed over in-process writes the same histories as work that goes through the queue.

``durable_ext start`` on SQLite hands follow-up work over inside the commit that creates it
(README: *Work handed over, not queued*): activities leased by the episode that schedules them,
a result committed together with the episode it wakes, an instance created with its first
episode. The test kit's driver never does (it fetches every work item itself). The same sample
orchestrations, started with the same ids and inputs, must end with the same histories both
ways, event for event, once times and random ids are dropped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from durable_ext.testing.env import AsyncTestEnv
from durable_ext.web.status_payload import history_events
from tests.e2e.hostproc import ROOT, HostProcess, copy_app
from tests.worker_mode.test_same_as_start import _normalize

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}
RUNS: dict[str, list[tuple[str, Any]]] = {
    "samples/function_chaining": [
        ("hello_orchestrator", None),
        ("chaining_with_compensation", {"account": "bob", "amount": 150}),
    ],
    "samples/fan_out_fan_in": [("fan_out_fan_in", 12)],
    "samples/sub_orchestrations": [("parent", None)],
    "samples/retries": [("retry_activity", {"failures": 2})],
    "samples/eternal": [("eternal_counter", {"count": 0, "max": 3})],
}


def _under_start(app: Path, runs: list[tuple[str, Any]]) -> list[list[dict]]:
    host = HostProcess(app).start()
    try:
        for n, (name, body) in enumerate(runs):
            data = None if body is None else json.dumps(body)
            url = host.url(f"runtime/webhooks/durabletask/orchestrators/{name}/same-{n}")
            assert host.session.post(url, data=data, headers=JSON, timeout=30).status_code == 202
        histories = []
        for n in range(len(runs)):
            assert host.wait(f"same-{n}", timeout=90)["runtimeStatus"] == "Completed"
            r = host.status(f"same-{n}", showHistory="true", showHistoryOutput="true")
            histories.append(_normalize(r.json()["historyEvents"], app))
        return histories
    finally:
        host.stop()


async def _through_the_queue(app: Path, runs: list[tuple[str, Any]]) -> list[list[dict]]:
    async with AsyncTestEnv.start(app) as env:
        for n, (name, body) in enumerate(runs):  # stored as the webhook stores a body: as is
            await env.client.start_new(name, f"same-{n}", None if body is None else json.dumps(body))
        histories = []
        for n in range(len(runs)):
            await env.wait_for_completion(f"same-{n}")
            events = history_events(await env.get_history(f"same-{n}"), show_input=True, show_output=True)
            histories.append(_normalize(events, app))
        return histories


@pytest.mark.parametrize("sample", sorted(RUNS))
def test_handed_over_work_writes_the_histories_queued_work_writes(tmp_path, sample):
    runs = RUNS[sample]
    handed_over = _under_start(copy_app(ROOT / sample, tmp_path / "start"), runs)
    queued = asyncio.run(_through_the_queue(copy_app(ROOT / sample, tmp_path / "kit"), runs))
    for n, (got, want) in enumerate(zip(handed_over, queued, strict=True)):
        assert len(want) >= 3 and want[0]["EventType"] == "ExecutionStarted", want
        if sample == "samples/fan_out_fan_in":  # parallel results arrive in whatever order they finish
            got, want = _unordered(got), _unordered(want)
        assert got == want, (runs[n], json.dumps(got, indent=1), json.dumps(want, indent=1))


def _unordered(history: list[dict]) -> list[str]:
    return sorted(json.dumps(event, sort_keys=True) for event in history)
