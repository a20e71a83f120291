"""Fault-suite app: a two-step chain per instance; every activity run is journaled (pid-safe appends)
so a test can count executions and duplicates; a counter entity for signals."""

import os

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
JOURNAL = os.environ.get("FAULTS_JOURNAL", "journal.txt")


def _journal(line: str) -> None:
    # One write of a short line to an O_APPEND file: atomic against other processes and kill -9.
    fd = os.open(JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    i = context.get_input()["i"]
    doubled = yield context.call_activity("double", {"id": context.instance_id, "i": i})
    return (yield context.call_activity("add_one", {"id": context.instance_id, "i": doubled}))


@app.orchestration_trigger(context_name="context")
def waits_for_event(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("go")
    return (yield context.call_activity("add_one", {"id": context.instance_id, "i": value}))


@app.activity_trigger(input_name="payload")
def double(payload: dict) -> int:
    _journal(f"double {payload['id']}")
    return payload["i"] * 2


@app.activity_trigger(input_name="payload")
def add_one(payload: dict) -> int:
    _journal(f"add_one {payload['id']}")
    return payload["i"] + 1


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    context.set_state(value)
    context.set_result(value)
