"""Workloads for bench/bench.py: the shapes peers publish figures for."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["functionName"], client_input=json.loads(body) if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def hello_sequence5(context: df.DurableOrchestrationContext):
    results = []
    for city in ("Tokyo", "Seattle", "London", "Cairo", "Lima"):
        results.append((yield context.call_activity("hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def hello_once(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("hello", "once"))


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("square", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def sequential(context: df.DurableOrchestrationContext):
    n = context.get_input()
    total = 0
    for i in range(n):
        total += yield context.call_activity("square", i)
    return total


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="i")
def square(i: int) -> int:
    return i * i
