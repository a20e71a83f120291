"""Fixture app for the web tests: plain HTTP functions, route templates and a durable starter."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _json(value, status_code=200, headers=None):
    return func.HttpResponse(json.dumps(value), status_code=status_code, mimetype="application/json", headers=headers)


@app.route(route="hello", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return _json(
        {
            "name": req.params.get("name"),
            "url": req.url,
            "method": req.method,
            "header": req.headers.get("x-test"),
            "route_params": dict(req.route_params),
        },
        headers={"X-Custom": "yes"},
    )


@app.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.get_body(), status_code=201, mimetype="application/octet-stream")


@app.route(route="text")
def text(req: func.HttpRequest) -> str:
    return "plain text"


@app.route(route="items/{id:int}/{x?}")
def items(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "items", "route_params": dict(req.route_params)})


@app.route(route="items/latest")
def latest_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "latest_item", "route_params": dict(req.route_params)})


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route_params": dict(req.route_params)})


@app.route(route="fail")
def fail(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("kaboom")


@app.route(route="redirect")
async def redirect(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=302, headers={"Location": "/api/hello"})


# With routePrefix "" this shadows a built-in path; built-ins must win.
@app.route(route="runtime/webhooks/durabletask/instances")
def shadow(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"function": "shadow"})


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["functionName"], client_input=json.loads(body) if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="binding")
@app.durable_client_input(client_name="client", task_hub="OtherHub", connection_name="MyStorage")
async def binding(
    req: func.HttpRequest, client: df.DurableOrchestrationClient, context: func.Context
) -> func.HttpResponse:
    bindings = client._orchestration_bindings
    return _json(
        {
            "task_hub": bindings.task_hub_name,
            "rpc_base_url": bindings.rpc_base_url,
            "management_urls": bindings.management_urls,
            "creation_urls": bindings.creation_urls,
            "client_invocation_id": client._function_invocation_id,
            "invocation_id": context.invocation_id,
        }
    )


@app.orchestration_trigger(context_name="context")
def hello_orchestrator(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("say_hello", context.get_input())
    return result


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"
