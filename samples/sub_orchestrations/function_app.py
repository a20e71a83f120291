"""Sub-orchestrations: an orchestrator that calls other orchestrators.

Orchestrators (start with ``POST /api/orchestrators/parent``):

* ``parent`` (no input) calls ``child`` with ``"Seattle"`` (instance id chosen by the runtime), then
  ``child`` with ``"London"`` under the explicit instance id ``<parent instance id>-child2``, and
  returns both results: ``["Hello Seattle!", "Hello London!"]``.
* ``child`` takes a city, calls the ``say_hello`` activity and returns ``"Hello <city>!"``.
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
def parent(context: df.DurableOrchestrationContext):
    first = yield context.call_sub_orchestrator("child", "Seattle")
    second = yield context.call_sub_orchestrator("child", "London", instance_id=f"{context.instance_id}-child2")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    city = context.get_input()
    greeting = yield context.call_activity("say_hello", city)
    return greeting


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"
