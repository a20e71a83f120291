"""Monitor: poll an external job on a durable timer until it is done or the monitor expires.

Orchestrator (start with ``POST /api/orchestrators/monitor``):

* ``monitor`` takes ``{"job_id": "job-1", "polls": 3, "interval_seconds": 1, "expiry_seconds": 60}``
  (all optional; those are the defaults). Each iteration publishes ``{"iteration": i}`` as custom
  status and calls ``check_status``, which reports ``"done"`` on the ``polls``-th check. While the job
  is not done the orchestrator sleeps ``interval_seconds`` on a durable timer. It returns
  ``{"job_id": <job_id>, "iterations": <polls>, "status": "done"}``, or
  ``{"job_id": <job_id>, "iterations": <checks made>, "status": "expired"}`` when
  ``expiry_seconds`` (measured with ``context.current_utc_datetime``) runs out first.
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
def monitor(context: df.DurableOrchestrationContext):
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

        next_check = context.current_utc_datetime + timedelta(seconds=interval)
        yield context.create_timer(next_check)

    return {"job_id": job_id, "iterations": iteration, "status": "expired"}


@app.activity_trigger(input_name="check")
def check_status(check: dict) -> str:
    # A real monitor would query some external system here; this one is "done" on the polls-th check.
    return "done" if check["iteration"] + 1 >= check["polls"] else "running"
