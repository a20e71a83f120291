"""Orchestrations the test kit's own tests need beyond the samples: long back-offs, clocks, waits."""

import logging
from datetime import timedelta

import azure.durable_functions as df

app = df.DFApp()

HOURLY = df.RetryOptions(first_retry_interval_in_milliseconds=3_600_000, max_number_of_attempts=4)


@app.orchestration_trigger(context_name="context")
def hourly_retry(context: df.DurableOrchestrationContext):
    """Retries ``unreliable`` every hour, four attempts in all; returns its result or the last error."""
    try:
        return (yield context.call_activity_with_retry("unreliable", HOURLY, context.get_input()))
    except Exception as exc:
        return {"gave_up": str(exc)}


@app.activity_trigger(input_name="payload")
def unreliable(payload):
    raise RuntimeError("the real service is not reachable from tests; stub this activity")


@app.orchestration_trigger(context_name="context")
def clock_reader(context: df.DurableOrchestrationContext):
    """current_utc_datetime at the start, after a 1-hour timer and after a further 30-day timer."""
    seen = [context.current_utc_datetime.isoformat()]
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    seen.append(context.current_utc_datetime.isoformat())
    yield context.create_timer(context.current_utc_datetime + timedelta(days=30))
    seen.append(context.current_utc_datetime.isoformat())
    return seen


@app.orchestration_trigger(context_name="context")
def wait_for_go(context: df.DurableOrchestrationContext):
    """Waits for the "go" event, with no timeout."""
    data = yield context.wait_for_external_event("go")
    return {"got": data}


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    """Two activities in a row; the replayer tests check changed versions of it against its history."""
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("hello", "Seattle")
    return [first, second]


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}!"


@app.orchestration_trigger(context_name="context")
def chatty(context: df.DurableOrchestrationContext):
    """Logs at every step; replay-safe logging shows each line once although every episode replays."""
    logging.getLogger("harness_app").warning("chatty: starting")
    first = yield context.call_activity("hello", "Tokyo")
    logging.getLogger("harness_app").warning("chatty: got %s", first)
    second = yield context.call_activity("hello", "Seattle")
    logging.getLogger("harness_app").warning("chatty: done with %s", second)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def countdown(context: df.DurableOrchestrationContext):
    """Continues as new with n - 1 until n is 0 (one execution per step); returns "done"."""
    n = context.get_input() or 0
    if n <= 0:
        return "done"
    yield context.call_activity("hello", str(n))
    context.continue_as_new(n - 1)


@app.orchestration_trigger(context_name="context")
def skip_ahead(context: df.DurableOrchestrationContext):
    """Continues as new with n - 1 at once (no work in between) until n is 0; returns "done"."""
    n = context.get_input() or 0
    if n <= 0:
        return "done"
    context.continue_as_new(n - 1)
    return None
    yield  # a generator, as orchestrators are
