"""OpenTelemetry traces of the runtime, in-process (the test kit), through the SDK's in-memory exporter.

The shape under test is Durable Task's distributed tracing (v2): HTTP request → create_orchestration →
orchestration → activity (client span in the orchestration, server span in the worker) / timers /
sub-orchestrations, one trace, parents as DTFx sets them, W3C context stored in history.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from durable_ext import telemetry
from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
APP = Path(__file__).parent / "apps" / "harness_app"


@pytest.fixture
def spans():
    """Tracing on for one test, into an in-memory exporter; off again afterwards."""
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.enable(provider)
    try:
        yield exporter
    finally:
        telemetry.disable()
        provider.shutdown()


def by_name(exporter, name):
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    return found


def one(exporter, name, kind=None):
    found = [s for s in by_name(exporter, name) if kind is None or s.kind is kind]
    assert len(found) == 1, f"{name}: {[(s.name, s.kind) for s in exporter.get_finished_spans()]}"
    return found[0]


def parent_of(span):
    return span.parent.span_id if span.parent is not None else None


def test_http_start_to_activities_is_one_trace_with_dtfx_parents(durable_env, spans):
    env = durable_env(SAMPLES / "function_chaining")
    reply = env.http("POST", "/api/orchestrators/hello_orchestrator")
    assert reply.status == 202
    instance_id = reply.json()["id"]
    assert env.wait_for_completion(instance_id).runtime_status is RuntimeStatus.Completed

    http = one(spans, "POST /api/orchestrators/{functionName}", SpanKind.SERVER)
    create = one(spans, "create_orchestration:hello_orchestrator", SpanKind.PRODUCER)
    orchestration = one(spans, "orchestration:hello_orchestrator", SpanKind.SERVER)
    clients = [s for s in by_name(spans, "activity:say_hello") if s.kind is SpanKind.CLIENT]
    servers = [s for s in by_name(spans, "activity:say_hello") if s.kind is SpanKind.SERVER]
    assert len(clients) == len(servers) == 3

    trace_ids = {s.context.trace_id for s in spans.get_finished_spans()}
    assert trace_ids == {http.context.trace_id}
    assert parent_of(create) == http.context.span_id  # the SDK client's start carried traceparent
    assert parent_of(orchestration) == create.context.span_id
    assert {parent_of(s) for s in clients} == {orchestration.context.span_id}
    # Each worker-side run is the child of its own client span (the id TaskScheduled carried).
    assert sorted(parent_of(s) for s in servers) == sorted(s.context.span_id for s in clients)
    assert sorted(s.attributes[telemetry.TASK_ID] for s in clients) == [0, 1, 2]

    attributes = orchestration.attributes
    assert attributes[telemetry.TYPE] == "orchestration"
    assert attributes[telemetry.NAME] == "hello_orchestrator"
    assert attributes[telemetry.INSTANCE_ID] == instance_id
    assert attributes[telemetry.STATUS] == "Completed"
    assert attributes[telemetry.TASK_HUB] == env.env.config.hub_name
    assert orchestration.status.status_code is StatusCode.UNSET
    assert servers[0].attributes[telemetry.TYPE] == "activity"
    assert servers[0].attributes[telemetry.INSTANCE_ID] == instance_id
    assert http.attributes["http.response.status_code"] == 202
    # The orchestration span covers its whole life, not one episode.
    assert orchestration.start_time <= min(s.start_time for s in clients)
    assert orchestration.end_time >= max(s.end_time for s in clients)


def test_context_is_stored_in_history_as_dtfx_stores_it(durable_env, spans):
    env = durable_env(APP)
    instance_id = env.start_new("greet")
    env.wait_for_completion(instance_id)
    history = env.get_history(instance_id)
    started = next(ev for ev in history if isinstance(ev, e.ExecutionStarted))
    context = started.parent_trace_context
    assert context is not None and context.span_id is not None and context.activity_start_time is not None
    orchestration = one(spans, "orchestration:greet", SpanKind.SERVER)
    assert context.span_id == f"{orchestration.context.span_id:016x}"
    flags = context.trace_parent.split("-")[3]
    assert context.id == f"00-{orchestration.context.trace_id:032x}-{context.span_id}-{flags}"
    create = one(spans, "create_orchestration:greet")
    assert context.trace_parent == f"00-{create.context.trace_id:032x}-{create.context.span_id:016x}-{flags}"
    scheduled = [ev for ev in history if isinstance(ev, e.TaskScheduled)]
    clients = {f"{s.context.span_id:016x}" for s in by_name(spans, "activity:hello") if s.kind is SpanKind.CLIENT}
    assert {ev.parent_trace_context.trace_parent.split("-")[2] for ev in scheduled} == clients
    # The status API's history shows it under DTFx's names.
    rows = env.get_history_json(instance_id)
    assert any("ParentTraceContext" in row for row in rows if row["EventType"] == "ExecutionStarted")


def test_timers_and_failures(durable_env, spans):
    env = durable_env(APP)
    instance_id = env.start_new("hourly_retry", "x")
    status = env.wait_for_completion(instance_id)
    assert "gave_up" in status.output
    failed = [s for s in by_name(spans, "activity:unreliable")]
    servers = [s for s in failed if s.kind is SpanKind.SERVER]
    clients = [s for s in failed if s.kind is SpanKind.CLIENT]
    assert len(servers) == len(clients) == 4  # four attempts
    assert all(s.status.status_code is StatusCode.ERROR for s in servers + clients)
    assert "the real service is not reachable" in servers[0].status.description
    exception = next(ev for ev in servers[0].events if ev.name == "exception")
    assert exception.attributes["exception.type"] == "RuntimeError"
    assert "raise RuntimeError" in exception.attributes["exception.stacktrace"]
    timers = by_name(spans, "orchestration:hourly_retry:timer")
    fired = [ev for ev in env.get_history(instance_id) if isinstance(ev, e.TimerFired)]
    assert len(timers) == len(fired) >= 3  # the back-offs between attempts
    orchestration = one(spans, "orchestration:hourly_retry")
    assert {parent_of(t) for t in timers} == {orchestration.context.span_id}
    assert timers[0].attributes[telemetry.TYPE] == "timer"
    assert telemetry.FIRE_AT in timers[0].attributes


def test_failed_orchestration_is_an_error_span(durable_env, spans):
    env = durable_env(SAMPLES / "function_chaining")

    def broken(order):
        raise ValueError("no route to bank")

    env.mock_activity("reserve", broken)
    instance_id = env.start_new("chaining_with_compensation", {"amount": 5})
    assert env.wait_for_completion(instance_id).runtime_status is RuntimeStatus.Failed
    orchestration = one(spans, "orchestration:chaining_with_compensation")
    assert orchestration.status.status_code is StatusCode.ERROR
    assert "no route to bank" in orchestration.status.description
    assert orchestration.attributes[telemetry.STATUS] == "Failed"
    assert any(ev.name == "exception" for ev in orchestration.events)


def test_sub_orchestrations_nest_under_their_client_spans(durable_env, spans):
    env = durable_env(SAMPLES / "sub_orchestrations")
    instance_id = env.start_new("parent")
    assert env.wait_for_completion(instance_id).runtime_status is RuntimeStatus.Completed
    parent = one(spans, "orchestration:parent", SpanKind.SERVER)
    children = by_name(spans, "orchestration:child")
    clients = [s for s in children if s.kind is SpanKind.CLIENT]
    servers = [s for s in children if s.kind is SpanKind.SERVER]
    assert len(clients) == len(servers) == 2
    assert {parent_of(s) for s in clients} == {parent.context.span_id}
    assert sorted(parent_of(s) for s in servers) == sorted(s.context.span_id for s in clients)
    activities = [s for s in by_name(spans, "activity:say_hello") if s.kind is SpanKind.CLIENT]
    assert {parent_of(s) for s in activities} == {s.context.span_id for s in servers}
    assert len({s.context.trace_id for s in spans.get_finished_spans()}) == 1


def test_external_events_and_user_spans_in_activities(durable_env, spans):
    env = durable_env(APP)
    instance_id = env.start_new("wait_for_go")
    env.wait_for_idle()
    env.raise_event(instance_id, "go", 1)
    env.wait_for_completion(instance_id)
    event = one(spans, "orchestration_event:go", SpanKind.PRODUCER)
    assert event.attributes[telemetry.EVENT_TARGET] == instance_id


def test_an_activity_span_is_current_while_user_code_runs(durable_env, spans):
    from opentelemetry import trace

    seen = []

    def traced(city):
        seen.append(trace.get_current_span().get_span_context().span_id)
        return city

    env = durable_env(APP, activities={"hello": traced})
    env.wait_for_completion(env.start_new("greet"))
    servers = [s.context.span_id for s in by_name(spans, "activity:hello") if s.kind is SpanKind.SERVER]
    assert sorted(seen) == sorted(servers)


def test_off_means_no_spans_and_no_trace_context_in_history(durable_env):
    assert telemetry.ACTIVE is None
    env = durable_env(APP)
    instance_id = env.start_new("greet")
    env.wait_for_completion(instance_id)
    history = env.get_history(instance_id)
    assert all(getattr(ev, "parent_trace_context", None) is None for ev in history)
    assert not any("ParentTraceContext" in row for row in env.get_history_json(instance_id))


def test_configuration_from_the_standard_variables():
    assert telemetry.exporter_names({}) == []
    assert telemetry.exporter_names({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == ["otlp"]
    assert telemetry.exporter_names({"OTEL_TRACES_EXPORTER": "console, otlp"}) == ["console", "otlp"]
    assert telemetry.exporter_names({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"}) == []
    assert telemetry.configure_from_env({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}) is False
    assert telemetry.configure_from_env({}) is False  # nothing configured: stays off
    assert telemetry.ACTIVE is None
    provider = telemetry._build_provider(["otlp", "console"], {}, "my-app")
    assert provider.resource.attributes["service.name"] == "my-app"
    provider.shutdown()
    provider = telemetry._build_provider([], {"OTEL_SERVICE_NAME": "theirs"}, "my-app")
    assert provider.resource.attributes["service.name"] == "theirs"
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER: unknown exporter 'jaeger'"):
        telemetry._build_provider(["jaeger"], {}, "my-app")
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        telemetry._build_provider(["otlp"], {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "my-app")


@pytest.mark.parametrize("name", ["countdown", "skip_ahead"])  # skip_ahead: no episode between continuations
def test_each_execution_of_continue_as_new_is_its_own_span_in_the_same_trace(durable_env, spans, name):
    env = durable_env(APP)
    instance_id = env.start_new(name, 2)
    assert env.wait_for_completion(instance_id).output == "done"
    create = one(spans, f"create_orchestration:{name}")
    executions = by_name(spans, f"orchestration:{name}")
    assert [s.attributes[telemetry.STATUS] for s in executions] == ["ContinuedAsNew", "ContinuedAsNew", "Completed"]
    assert len({s.context.span_id for s in executions}) == 3
    assert {parent_of(s) for s in executions} == {create.context.span_id}
    assert len({s.attributes[telemetry.EXECUTION_ID] for s in executions}) == 3
    assert len({s.context.trace_id for s in spans.get_finished_spans()}) == 1


def test_a_failing_tracer_never_stops_the_work(durable_env, spans, caplog, monkeypatch):
    tracing = telemetry.ACTIVE
    start_span = tracing.tracer.start_span

    def broken(name, *args, **kwargs):
        if name.startswith(("activity:", "orchestration:")):
            raise RuntimeError("exporter on fire")
        return start_span(name, *args, **kwargs)

    monkeypatch.setattr(tracing.tracer, "start_span", broken)
    monkeypatch.setattr(telemetry.spans, "_reported", set())
    env = durable_env(SAMPLES / "function_chaining")
    reply = env.http("POST", "/api/orchestrators/hello_orchestrator")
    assert reply.status == 202
    assert env.wait_for_completion(reply.json()["id"]).output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert {s.name for s in spans.get_finished_spans()} == {
        "POST /api/orchestrators/{functionName}",
        "create_orchestration:hello_orchestrator",
    }
    warned = [r.getMessage() for r in caplog.records if r.name == "durable_ext" and "Tracing failed" in r.getMessage()]
    assert sorted(m.split()[3] for m in warned) == ["activity;", "emit;"]  # once each, not per call


def test_entity_operations_join_the_callers_trace(durable_env, spans):
    env = durable_env(SAMPLES / "counter_entity")
    instance_id = env.start_new("counter_orchestrator", {"key": "k2"})
    status = env.wait_for_completion(instance_id)
    assert status.output["value"] == 15
    orchestration = one(spans, "orchestration:counter_orchestrator", SpanKind.SERVER)
    add = by_name(spans, "entity:counter:add")
    callers = [s for s in add if s.kind in (SpanKind.CLIENT, SpanKind.PRODUCER)]
    runs = [s for s in add if s.kind in (SpanKind.SERVER, SpanKind.CONSUMER)]
    assert sorted(s.kind.name for s in callers) == ["CLIENT", "PRODUCER"]  # call_entity and signal_entity
    assert {parent_of(s) for s in callers} == {orchestration.context.span_id}
    assert sorted(parent_of(s) for s in runs) == sorted(s.context.span_id for s in callers)
    assert {s.attributes[telemetry.OPERATION] for s in callers} == {"call_entity", "signal_entity"}
    assert runs[0].attributes[telemetry.INSTANCE_ID] == "@counter@k2"
    explode = [s for s in by_name(spans, "entity:counter:explode") if s.kind is SpanKind.SERVER]
    assert len(explode) == 1 and explode[0].status.status_code is StatusCode.ERROR
    assert len({s.context.trace_id for s in spans.get_finished_spans()}) == 1
    # The history keeps the request as sent, context included (DTFx RequestMessage.parentTraceContext).
    sent = [ev for ev in env.get_history(instance_id) if isinstance(ev, e.EventSent)]
    assert all('"parentTraceContext"' in ev.input for ev in sent)


def test_a_client_signal_carries_the_callers_context(durable_env, spans):
    env = durable_env(SAMPLES / "counter_entity")
    reply = env.http("POST", "/api/counters/k1/add", json=5)
    assert reply.status == 202
    assert env.read_entity("Counter", "k1") == 5
    http = one(spans, "POST /api/counters/{key}/add", SpanKind.SERVER)
    producer = one(spans, "entity:counter:add", SpanKind.PRODUCER)
    consumer = one(spans, "entity:counter:add", SpanKind.CONSUMER)
    assert parent_of(producer) == http.context.span_id  # the SDK client's signal carried traceparent
    assert parent_of(consumer) == producer.context.span_id
