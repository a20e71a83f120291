"""Automatic retries for activities and sub-orchestrations.

The ``flaky`` activity fails its first ``failures`` calls and then succeeds. It counts its calls in a
file under ``<tempdir>/durable_ext_samples/`` keyed by the orchestration instance id, so the count
survives replays and restarts. Both orchestrators retry with
``RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)``.

Orchestrators (start with ``POST /api/orchestrators/<name>``, body ``{"failures": K}``, default 1):

* ``retry_activity`` calls ``flaky`` through ``call_activity_with_retry``.
* ``retry_sub_orchestrator`` calls the ``flaky_child`` orchestrator (which calls ``flaky`` once, without
  retries) through ``call_sub_orchestrator_with_retry``.

With K < 3 both return ``"succeeded after K failures"``; with K >= 3 every attempt fails, the
orchestrator catches the final error and returns ``{"error": "<message containing 'attempt 3 failed'>"}``.
"""

import json
import os
import tempfile

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

RETRY_OPTIONS = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    function_name = req.route_params.get("functionName")
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(function_name, client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def retry_activity(context: df.DurableOrchestrationContext):
    settings = context.get_input() or {}
    work = {"key": context.instance_id, "failures": settings.get("failures", 1)}
    try:
        result = yield context.call_activity_with_retry("flaky", RETRY_OPTIONS, work)
    except Exception as e:
        return {"error": str(e)}
    return result


@app.orchestration_trigger(context_name="context")
def retry_sub_orchestrator(context: df.DurableOrchestrationContext):
    settings = context.get_input() or {}
    work = {"key": f"{context.instance_id}-sub", "failures": settings.get("failures", 1)}
    try:
        result = yield context.call_sub_orchestrator_with_retry("flaky_child", RETRY_OPTIONS, work)
    except Exception as e:
        return {"error": str(e)}
    return result


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    # No try/except: a failed activity fails this child, and the parent retries the whole child.
    result = yield context.call_activity("flaky", context.get_input())
    return result


@app.activity_trigger(input_name="work")
def flaky(work: dict) -> str:
    counter_dir = os.path.join(tempfile.gettempdir(), "durable_ext_samples")
    os.makedirs(counter_dir, exist_ok=True)
    counter_file = os.path.join(counter_dir, f"{work['key']}-flaky")

    attempt = 1
    if os.path.exists(counter_file):
        with open(counter_file) as f:
            attempt = int(f.read()) + 1
    with open(counter_file, "w") as f:
        f.write(str(attempt))

    if attempt <= work["failures"]:
        raise ValueError(f"attempt {attempt} failed")
    return f"succeeded after {work['failures']} failures"
