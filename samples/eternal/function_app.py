"""Eternal orchestration: a counter that restarts itself with ``continue_as_new``.

Orchestrator (start with ``POST /api/orchestrators/eternal_counter``):

* ``eternal_counter`` takes ``{"count": 0, "max": 3}`` (the defaults). Each generation publishes
  ``{"count": count}`` as custom status and calls the ``tick`` activity; if ``count`` has reached
  ``max`` it returns ``{"final": count}``, otherwise it sleeps one second on a durable timer and
  calls ``context.continue_as_new({"count": count + 1, "max": max})``, which restarts the same
  instance with a fresh history. ``{"count": 0, "max": 3}`` returns ``{"final": 3}`` after about three
  seconds.
"""

import json
from datetime import timedelta

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
def eternal_counter(context: df.DurableOrchestrationContext):
    state = context.get_input() or {}
    count = state.get("count", 0)
    max_count = state.get("max", 3)

    context.set_custom_status({"count": count})
    yield context.call_activity("tick", count)
    if count >= max_count:
        return {"final": count}

    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=1))
    context.continue_as_new({"count": count + 1, "max": max_count})


@app.activity_trigger(input_name="count")
def tick(count: int) -> str:
    return f"tick {count}"
