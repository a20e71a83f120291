"""Human interaction: wait for an external "Approval" event, with a durable-timer timeout.

Orchestrator (start with ``POST /api/orchestrators/approval_workflow``):

* ``approval_workflow`` takes ``{"timeout_seconds": 30}`` (optional, default 30). It calls
  ``request_approval``, then races ``wait_for_external_event("Approval")`` against a timer with
  ``context.task_any``. If the event wins, the timer is cancelled and the orchestrator returns
  ``{"approved": <event data>}``; if the timer wins it returns ``"timed out"``.

Raise the event either through the Durable Functions HTTP API (``sendEventPostUri`` with
``{eventName}`` replaced by ``Approval``, body ``true``, ``Content-Type: application/json``:
the orchestrator sees ``True``) or through ``POST /api/approve/<instance_id>``, which uses the
SDK client's ``raise_event(..., True)``. The SDK client JSON-encodes event data a second time,
so that route delivers the *string* ``"true"``.
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


@app.route(route="approve/{instanceId}")
@app.durable_client_input(client_name="client")
async def approve(req: func.HttpRequest, client):
    instance_id = req.route_params.get("instanceId")
    await client.raise_event(instance_id, "Approval", True)
    return func.HttpResponse(f"Approval sent to {instance_id}", status_code=202)


@app.orchestration_trigger(context_name="context")
def approval_workflow(context: df.DurableOrchestrationContext):
    settings = context.get_input() or {}
    timeout_seconds = settings.get("timeout_seconds", 30)

    yield context.call_activity("request_approval", context.instance_id)

    deadline = context.current_utc_datetime + timedelta(seconds=timeout_seconds)
    timeout_task = context.create_timer(deadline)
    approval_task = context.wait_for_external_event("Approval")

    winner = yield context.task_any([approval_task, timeout_task])
    if winner == approval_task:
        if not timeout_task.is_completed:
            timeout_task.cancel()
        return {"approved": approval_task.result}
    return "timed out"


@app.activity_trigger(input_name="instance_id")
def request_approval(instance_id: str) -> str:
    # A real app would send an e-mail or a chat message with a link here.
    return f"approval requested for {instance_id}"
