"""A worker-mode test app: counts its own imports, and has every kind of function durable_ext handles.

Every import appends a line to ``imports.log`` beside this file, so a test can tell that the entry
module imported it exactly once. ``waiter`` waits for the event ``Go`` (then returns its data);
``greet`` is an activity; ``Tally`` an entity; ``tick`` a timer function with a durable client.
``flaky`` fails the first time it runs for an instance (its activity ``fails_once`` raises once per
instance, remembered in a file beside this one) and completes after a rewind. ``blocking``'s activity
blocks on its first attempt per instance (until the file ``release`` appears, at most two minutes) and
returns at once on the next, naming the process that ran it.
"""

import os
import time
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

with open(Path(__file__).with_name("imports.log"), "a") as log:
    log.write(f"{os.getpid()}\n")

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def starter(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], client_input=body.decode() if body else None)
    return client.create_check_status_response(req, instance_id)


@app.route(route="plain")
def plain(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("plain ok")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=False)
@app.durable_client_input(client_name="client")
async def tick(timer: func.TimerRequest, client) -> None:
    await client.start_new("greeter", client_input="timer")


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    data = yield context.wait_for_external_event("Go")
    return data


@app.orchestration_trigger(context_name="context")
def greeter(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("greet", context.get_input() or "world"))


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"Hello {name}!"


@app.entity_trigger(context_name="context")
def Tally(context: df.DurableEntityContext):
    if context.operation_name == "delete":  # what DELETE entities/Tally/{key} of the built-in API sends
        context.destruct_on_exit()
        return
    context.set_state((context.get_state(lambda: 0) or 0) + (context.get_input() or 0))


@app.orchestration_trigger(context_name="context")
def flaky(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("fails_once", context.instance_id))


@app.activity_trigger(input_name="tag")
def fails_once(tag: str) -> str:
    marker = Path(__file__).with_name(f"failed-{tag}.marker")
    if not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError(f"first attempt for {tag} fails")
    return f"recovered {tag}"


@app.orchestration_trigger(context_name="context")
def blocking(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("blocks_once", context.instance_id))


@app.activity_trigger(input_name="tag")
def blocks_once(tag: str) -> str:
    here = Path(__file__).parent
    marker = here / f"blocking-{tag}.marker"
    if not marker.exists():
        # Published whole (written aside, then renamed): a test that sees the marker reads the pid, never
        # the empty file a plain write shows between its create and its write.
        pending = here / f"blocking-{tag}.pending"
        pending.write_text(str(os.getpid()))
        os.replace(pending, marker)
        deadline = time.monotonic() + 120
        while not (here / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return f"first attempt in {os.getpid()}"
    return f"second attempt in {os.getpid()}"
