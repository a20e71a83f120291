"""A worker-mode test app shaped unlike the samples: functions registered from a blueprint in another
module, no route prefix, function-level auth on the app's own HTTP functions, an async activity, and the
SDK client used beyond start_new (wait-or-check-status, status, raise event, terminate, purge)."""

import azure.durable_functions as df
import azure.functions as func
from orders import bp

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)


@app.route(route="run/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def run_and_wait(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], client_input=req.get_json())
    timeout = int(req.params.get("timeout_ms", "30000"))
    return await client.wait_for_completion_or_create_check_status_response(req, instance_id, timeout, 100)


@app.route(route="manage/{instance_id}/{action}", methods=["POST", "GET"])
@app.durable_client_input(client_name="client")
async def manage(req: func.HttpRequest, client) -> func.HttpResponse:
    instance_id, action = req.route_params["instance_id"], req.route_params["action"]
    if action == "status":
        status = await client.get_status(instance_id)
        return func.HttpResponse(str(status.runtime_status.value if status.runtime_status else None))
    if action == "approve":
        await client.raise_event(instance_id, "Approval", {"ok": True})
    elif action == "terminate":
        await client.terminate(instance_id, "stopped by test")
    elif action == "purge":
        result = await client.purge_instance_history(instance_id)
        return func.HttpResponse(str(result.instances_deleted))
    return func.HttpResponse(status_code=202)
