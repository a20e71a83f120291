"""Function chaining: activities called one after another.

Orchestrators (start with ``POST /api/orchestrators/<name>``):

* ``hello_orchestrator`` (no input) calls ``say_hello`` for Tokyo, Seattle and London in sequence and
  returns ``["Hello Tokyo!", "Hello Seattle!", "Hello London!"]``.
* ``chaining_with_compensation`` (input ``{"account": "alice", "amount": 50}``) runs
  ``reserve`` -> ``debit`` -> ``notify``. ``debit`` raises ``ValueError("insufficient funds")``
  when ``amount > 100``; the orchestrator catches the failure, compensates by calling ``refund``
  and returns ``{"status": "compensated", ...}`` instead of failing.
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
def hello_orchestrator(context: df.DurableOrchestrationContext):
    result1 = yield context.call_activity("say_hello", "Tokyo")
    result2 = yield context.call_activity("say_hello", "Seattle")
    result3 = yield context.call_activity("say_hello", "London")
    return [result1, result2, result3]


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@app.orchestration_trigger(context_name="context")
def chaining_with_compensation(context: df.DurableOrchestrationContext):
    payment = context.get_input() or {}
    account = payment.get("account", "alice")
    amount = payment.get("amount", 50)
    order = {"account": account, "amount": amount}

    reserved = yield context.call_activity("reserve", order)
    try:
        debited = yield context.call_activity("debit", order)
    except Exception as e:
        # Undo step 1 and report what happened instead of failing the orchestration.
        refunded = yield context.call_activity("refund", order)
        return {"status": "compensated", "error": str(e), "steps": [reserved, refunded]}

    notified = yield context.call_activity("notify", order)
    return {"status": "ok", "steps": [reserved, debited, notified]}


@app.activity_trigger(input_name="order")
def reserve(order: dict) -> str:
    return f"reserved {order['amount']} for {order['account']}"


@app.activity_trigger(input_name="order")
def debit(order: dict) -> str:
    if order["amount"] > 100:
        raise ValueError("insufficient funds")
    return f"debited {order['amount']} from {order['account']}"


@app.activity_trigger(input_name="order")
def refund(order: dict) -> str:
    return f"refunded {order['amount']} to {order['account']}"


@app.activity_trigger(input_name="order")
def notify(order: dict) -> str:
    return f"notified {order['account']}"
