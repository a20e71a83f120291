"""The five application patterns of the Durable Functions overview, in one app (task hub ``DurableExtHub``).

Start any orchestrator with ``POST /api/orchestrators/<name>`` (optional JSON body = orchestrator input);
the response is 202 with the management URLs (``statusQueryGetUri``, ``sendEventPostUri``, ...).

1. Function chaining - ``hello_orchestrator`` (no input): calls ``say_hello`` for Tokyo, Seattle and
   London in sequence and returns ``["Hello Tokyo!", "Hello Seattle!", "Hello London!"]``.
2. Fan-out/fan-in - ``fan_out_fan_in`` (input N, e.g. ``5``; default 10): squares ``0..N-1`` in
   parallel and returns the sum of the squares (N=10 -> 285, N=5 -> 30).
3. Async HTTP API - the starter above is the pattern: it answers at once with the status URLs to poll.
   ``POST /api/orchestrators_wait/<name>[?timeout=<ms>]`` instead waits up to ``timeout`` milliseconds
   (default 10000) and returns 200 with the output when the orchestration finishes in time.
   ``slow_orchestrator`` (input e.g. ``"report"``) takes about a second and returns ``"done: report"``.
4. Monitor - ``monitor_orchestrator`` (input ``{"job_id": "job-1", "polls": 3, "interval_seconds": 1,
   "expiry_seconds": 60}``, all optional): checks the job, sleeping on a durable timer between checks,
   with custom status ``{"iteration": i}``; returns ``{"job_id": "job-1", "iterations": 3, "status": "done"}``
   (``"status": "expired"`` if ``expiry_seconds`` runs out first).
5. Human interaction - ``approval`` (input ``{"timeout_seconds": 30}``, optional): calls
   ``request_approval`` and waits for the external event ``Approval`` raced against a timer.
   Raise it with ``POST`` to ``sendEventPostUri`` (``{eventName}`` -> ``Approval``), body ``true``,
   ``Content-Type: application/json``: the output is ``{"approved": true}``. If no event arrives before
   the timeout the output is ``"timed out"``.
"""

import json
import time
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


# --- HTTP starters (the async HTTP API pattern) ---------------------------------------------------


async def _start(req: func.HttpRequest, client) -> tuple[str | None, func.HttpResponse | None]:
    """Start the orchestrator named in the route with the JSON body (if any) as its input.

    Returns the instance id, or a 400 response for the caller's mistakes: a body that is not JSON,
    an orchestrator name the app does not have.
    """
    body = req.get_body()
    try:
        payload = json.loads(body) if body else None
    except (ValueError, RecursionError) as exc:
        return None, func.HttpResponse(f"The request body is not valid JSON: {exc}", status_code=400)
    try:
        return await client.start_new(req.route_params.get("functionName"), client_input=payload), None
    except Exception as exc:
        # The SDK raises the host's 400 (no such orchestrator) as Exception(<its message>); other
        # failures carry the host's response body (a dict) and are not the caller's fault.
        if exc.args and isinstance(exc.args[0], str):
            return None, func.HttpResponse(exc.args[0], status_code=400)
        raise


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client):
    instance_id, refused = await _start(req, client)
    if refused is not None:
        return refused
    return client.create_check_status_response(req, instance_id)


@app.route(route="orchestrators_wait/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start_and_wait(req: func.HttpRequest, client):
    try:
        timeout = int(req.params.get("timeout", "10000"))
    except ValueError:
        return func.HttpResponse("The 'timeout' parameter must be a whole number of milliseconds.", status_code=400)
    if timeout <= 0:
        return func.HttpResponse("The 'timeout' parameter must be a positive number of milliseconds.", status_code=400)
    instance_id, refused = await _start(req, client)
    if refused is not None:
        return refused
    return await client.wait_for_completion_or_create_check_status_response(
        req, instance_id, timeout_in_milliseconds=timeout, retry_interval_in_milliseconds=min(250, timeout)
    )


# --- 1. Function chaining -------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def hello_orchestrator(context: df.DurableOrchestrationContext):
    result1 = yield context.call_activity("say_hello", "Tokyo")
    result2 = yield context.call_activity("say_hello", "Seattle")
    result3 = yield context.call_activity("say_hello", "London")
    return [result1, result2, result3]


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


# --- 2. Fan-out/fan-in ----------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    count = context.get_input()
    if count is None:
        count = 10

    work_items = yield context.call_activity("get_work_items", count)
    if not work_items:
        return 0
    tasks = [context.call_activity("square", item) for item in work_items]
    squares = yield context.task_all(tasks)
    return sum(squares)


@app.activity_trigger(input_name="count")
def get_work_items(count: int) -> list:
    return list(range(count))


@app.activity_trigger(input_name="value")
def square(value: int) -> int:
    return value * value


# --- 3. Async HTTP API: a long-running orchestration ----------------------------------------------


@app.orchestration_trigger(context_name="context")
def slow_orchestrator(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("slow_work", context.get_input())
    return result


@app.activity_trigger(input_name="job")
def slow_work(job) -> str:
    time.sleep(1)
    return f"done: {job}"


# --- 4. Monitor -----------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def monitor_orchestrator(context: df.DurableOrchestrationContext):
    job = context.get_input() or {}
    job_id = job.get("job_id", "job-1")
    polls = job.get("polls", 3)
    interval = job.get("interval_seconds", 1)
    expiry_time = context.current_utc_datetime + timedelta(seconds=job.get("expiry_seconds", 60))

    iteration = 0
    while context.current_utc_datetime < expiry_time:
        context.set_custom_status({"iteration": iteration})
        status = yield context.call_activity("check_status", {"job_id": job_id, "iteration": iteration, "polls": polls})
        iteration += 1
        if status == "done":
            return {"job_id": job_id, "iterations": iteration, "status": "done"}
        yield context.create_timer(context.current_utc_datetime + timedelta(seconds=interval))

    return {"job_id": job_id, "iterations": iteration, "status": "expired"}


@app.activity_trigger(input_name="check")
def check_status(check: dict) -> str:
    return "done" if check["iteration"] + 1 >= check["polls"] else "running"


# --- 5. Human interaction -------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    settings = context.get_input() or {}
    timeout_seconds = settings.get("timeout_seconds", 30)

    yield context.call_activity("request_approval", context.instance_id)

    timeout_task = context.create_timer(context.current_utc_datetime + timedelta(seconds=timeout_seconds))
    approval_task = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approval_task, timeout_task])
    if winner == approval_task:
        if not timeout_task.is_completed:
            timeout_task.cancel()
        return {"approved": approval_task.result}
    return "timed out"


@app.activity_trigger(input_name="instance_id")
def request_approval(instance_id: str) -> str:
    return f"approval requested for {instance_id}"
