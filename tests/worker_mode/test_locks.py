"""Worker mode renews locks too (#10 finding 1): an episode and an activity that each run three times
longer than their lock still commit once. The dispatchers come from the shared Engine, as under
``durable_ext start``; only functionTimeout is not ours there (the Functions host owns the process)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

APP = '''
import os
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def starter(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"])
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def slow(context):
    if not context.is_replaying:
        time.sleep(3)  # the episode outlives its 1 s lock
    return (yield context.call_activity("slow_activity", None))


@app.activity_trigger(input_name="x")
def slow_activity(x):
    with open(os.environ["RUNS_FILE"], "a") as runs:
        runs.write("run\\n")
    time.sleep(3)  # outlives its 1 s lock
    return "done"
'''


def test_episodes_and_activities_longer_than_their_lock_commit_once(worker_factory, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "function_app.py").write_text(textwrap.dedent(APP))
    (source / "host.json").write_text(json.dumps({"version": "2.0"}))
    (source / "local.settings.json").write_text(json.dumps({"Values": {"FUNCTIONS_WORKER_RUNTIME": "python"}}))
    runs = tmp_path / "runs.txt"
    worker = worker_factory(
        source,
        env={
            "DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS": "1",
            "DURABLE_EXT_ACTIVITY_LOCK_SECONDS": "1",
            "RUNS_FILE": str(runs),
        },
    )
    instance = worker.start_orchestration("slow", route="api/start")["id"]
    status = worker.wait(instance, timeout=120)
    assert status["runtimeStatus"] == "Completed" and status["output"] == "done", status
    # Without renewal the lock expires mid-run: the activity runs again and the episode never commits.
    assert Path(runs).read_text().splitlines() == ["run"]
    assert "lock lost" not in worker.log()
