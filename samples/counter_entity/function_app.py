"""Durable entities: a counter with add / reset / get.

* POST /api/counters/{key}/add   body: a number   → signals the entity from an HTTP function
* GET  /api/counters/{key}                        → the entity's state read with the client
* POST /api/orchestrators/counter_orchestrator  body: {"key": "k1"}
      → an orchestrator that signals `add 5`, calls `add 10` and returns `get` (15 on a fresh key)
"""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.entity_trigger(context_name="context")
def Counter(context: df.DurableEntityContext):
    current = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        amount = context.get_input()
        if not isinstance(amount, int):
            raise ValueError(f"add needs a whole number, got {amount!r}")
        current += amount
    elif operation == "reset":
        current = 0
    elif operation == "delete":
        context.destruct_on_exit()
        return
    elif operation != "get":
        raise ValueError(f"unknown operation {operation!r}")
    context.set_state(current)
    context.set_result(current)


@app.orchestration_trigger(context_name="context")
def counter_orchestrator(context: df.DurableOrchestrationContext):
    key = context.get_input()["key"]
    entity = df.EntityId("Counter", key)
    context.signal_entity(entity, "add", 5)
    after_add = yield context.call_entity(entity, "add", 10)
    value = yield context.call_entity(entity, "get")
    try:
        yield context.call_entity(entity, "explode")
        error = None
    except Exception as exc:
        error = str(exc)
    return {"after_add": after_add, "value": value, "error": error}


@app.route(route="counters/{key}/add", methods=["POST"])
@app.durable_client_input(client_name="client")
async def add_to_counter(req: func.HttpRequest, client):
    amount = json.loads(req.get_body() or b"1")
    await client.signal_entity(df.EntityId("Counter", req.route_params["key"]), "add", amount)
    return func.HttpResponse(status_code=202)


@app.route(route="counters/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client):
    state = await client.read_entity_state(df.EntityId("Counter", req.route_params["key"]))
    if not state.entity_exists:
        return func.HttpResponse(status_code=404)
    return func.HttpResponse(json.dumps(state.entity_state), mimetype="application/json")


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["functionName"], client_input=json.loads(body) if body else None
    )
    return client.create_check_status_response(req, instance_id)
