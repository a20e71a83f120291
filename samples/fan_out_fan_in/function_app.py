"""Fan-out/fan-in: run activities in parallel and aggregate their results.

Orchestrator (start with ``POST /api/orchestrators/fan_out_fan_in``):

* ``fan_out_fan_in`` takes an integer N as input (JSON body such as ``5``; no body means 10).
  ``get_work_items`` returns ``list(range(N))``, ``square`` runs once per item in parallel
  (``context.task_all``), and the orchestrator returns the sum of the squares
  (N=10 -> 285, N=5 -> 30, N=0 -> 0).
"""

import json

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


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    count = context.get_input()
    if count is None:
        count = 10

    work_items = yield context.call_activity("get_work_items", count)
    if not work_items:
        return 0

    # Fan out: schedule every activity before yielding, so they all run in parallel.
    tasks = [context.call_activity("square", item) for item in work_items]
    # Fan in: wait for all of them.
    squares = yield context.task_all(tasks)
    return sum(squares)


@app.activity_trigger(input_name="count")
def get_work_items(count: int) -> list:
    return list(range(count))


@app.activity_trigger(input_name="value")
def square(value: int) -> int:
    return value * value
