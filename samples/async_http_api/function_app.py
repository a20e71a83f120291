"""Async HTTP API: start a long-running orchestration and poll it, or wait for it synchronously.

Orchestrator:

* ``slow_orchestrator`` takes any JSON input (e.g. ``"report"``), calls the ``slow_work`` activity,
  which sleeps one second and returns ``"done: <input>"``, and returns that string.

Routes:

* ``POST /api/orchestrators/slow_orchestrator`` returns 202 with the management URLs
  (``statusQueryGetUri``, ...); poll ``statusQueryGetUri`` until ``runtimeStatus`` is ``Completed``.
* ``POST /api/orchestrators_wait/slow_orchestrator[?timeout=<ms>]`` waits up to ``timeout``
  milliseconds (default 10000) and returns 200 with the output if the orchestration finished in
  time, otherwise the same 202 response as the plain route.
"""

import json
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    function_name = req.route_params.get("functionName")
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(function_name, client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="orchestrators_wait/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start_and_wait(req: func.HttpRequest, client):
    function_name = req.route_params.get("functionName")
    body = req.get_body()
    payload = json.loads(body) if body else None
    timeout = int(req.params.get("timeout", "10000"))
    instance_id = await client.start_new(function_name, client_input=payload)
    return await client.wait_for_completion_or_create_check_status_response(
        req, instance_id, timeout_in_milliseconds=timeout, retry_interval_in_milliseconds=min(250, timeout)
    )


@app.orchestration_trigger(context_name="context")
def slow_orchestrator(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("slow_work", context.get_input())
    return result


@app.activity_trigger(input_name="job")
def slow_work(job) -> str:
    time.sleep(1)
    return f"done: {job}"
