"""OpenTelemetry traces, following Durable Task's distributed-tracing conventions (v2).

One trace per orchestration, shaped as DurableTask.Core (``Tracing/TraceHelper.cs``) shapes it::

    POST /api/orchestrators/{name}          SERVER    the HTTP function that starts it (web layer)
    └─ create_orchestration:{name}          PRODUCER  the client's start
       └─ orchestration:{name}              SERVER    the whole execution, one span over all its episodes
          ├─ activity:{name}                CLIENT    scheduled → result received (by the orchestration)
          │  └─ activity:{name}             SERVER    the activity's run (by the activity worker)
          ├─ orchestration:{name}:timer     INTERNAL  timer created → fired
          ├─ orchestration:{child}          CLIENT    a sub-orchestration, scheduled → result
          │  └─ orchestration:{child}       SERVER    the child's own span (and so on)
          └─ entity:{name}:{operation}      CLIENT    call_entity (PRODUCER: signal_entity)
             └─ entity:{name}:{operation}   SERVER    the operation's batch (CONSUMER for a signal)

Attributes are DTFx's ``Tracing/Schema.cs`` names (``durabletask.type``, ``durabletask.task.name``,
``durabletask.task.instance_id``, ``durabletask.task.execution_id``, ``durabletask.task.task_id``,
``durabletask.task.status``, ``durabletask.fire_at``) plus ``durabletask.task_hub``; failures set the
span status to ERROR with the reason.

**Context through history.** As DTFx, the W3C context travels in history events, so a trace survives a
restart and crosses workers: ``ExecutionStarted.ParentTraceContext`` holds the parent (TraceParent,
TraceState) and — fixed by the first episode — the orchestration span's own id and start time (Id,
SpanId, ActivityStartTime); ``TaskScheduled.ParentTraceContext`` holds the activity's client span as
the activity worker's parent; ``SubOrchestrationInstanceCreated.ClientSpanId`` the sub-orchestration's
client span; an entity request message carries ``parentTraceContext`` / ``requestTime`` /
``createTrace`` (DTFx ``RequestMessage``), and the entity's worker emits both entity spans. Spans of an orchestration are emitted once, after the episode that ends them committed
(the orchestration span when the execution ends), under the span ids history fixed beforehand: the
tracer provider's id generator is wrapped so a span can be started with a preset id.

**Cost when off.** :data:`ACTIVE` is None unless tracing was configured at startup
(:func:`configure_from_env`) or by :func:`enable`; every hook is one ``is None`` test of it, no
tracer provider or exporter is created and no trace context is written to history.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from durable_ext import __version__
from durable_ext.core import events as e
from durable_ext.core.entities import OPERATION_EVENT
from durable_ext.core.messages import OrchestrationCommit, OrchestrationWorkItem, OutboundMessage, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.transitions import EpisodeReport
from durable_ext.core.wire import parse_datetime
from durable_ext.core.wire.entities import is_entity_error_response, parse_recent_requests
from durable_ext.core.wire.history import trace_context_from_dict, trace_context_to_dict
from durable_ext.errors import ConfigError
from durable_ext.log import logger

#: The installed tracing, or None (the only thing a hook looks at when tracing is off).
ACTIVE: Tracing | None = None

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRACER_NAME = "durable_ext"
_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_INSTALL_HINT = "install the OpenTelemetry exporters with `pip install durable_ext[otel]`"

# DTFx Schema.cs
TYPE = "durabletask.type"
NAME = "durabletask.task.name"
VERSION = "durabletask.task.version"
INSTANCE_ID = "durabletask.task.instance_id"
EXECUTION_ID = "durabletask.task.execution_id"
STATUS = "durabletask.task.status"
TASK_ID = "durabletask.task.task_id"
FIRE_AT = "durabletask.fire_at"
EVENT_TARGET = "durabletask.event.target_instance_id"
OPERATION = "durabletask.task.operation"
ENTITY_ERROR = "durabletask.entity.error_message"
TASK_HUB = "durabletask.task_hub"  # ours: DTFx has no task hub attribute


# -- configuration -----------------------------------------------------------------------------


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """``OTEL_TRACES_EXPORTER`` (comma-separated), default ``otlp`` when an OTLP endpoint is set."""
    raw = environ.get("OTEL_TRACES_EXPORTER")
    if raw is None:
        return ["otlp"] if any(environ.get(name) for name in _OTLP_ENDPOINTS) else []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    return [n for n in names if n != "none"]


def configure_from_env(environ: Mapping[str, str] | None = None, *, service_name: str = "durable_ext") -> bool:
    """Turn tracing on at startup if OpenTelemetry is configured; True if this call installed it.

    Configured means: the app installed an OpenTelemetry SDK tracer provider itself (e.g. in
    ``function_app.py``), or ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``), or an
    OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``).
    ``OTEL_SDK_DISABLED=true`` turns it off. The exporters read the other ``OTEL_*`` variables
    themselves (headers, protocol, timeouts, ``OTEL_BSP_*`` batching, ``OTEL_TRACES_SAMPLER``,
    ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``). Raises ConfigError naming the setting for
    an unknown exporter or one whose package is not installed.
    """
    env = os.environ if environ is None else environ
    if ACTIVE is not None or _flag(env.get("OTEL_SDK_DISABLED")):
        return False
    names = exporter_names(env)
    if not names and "opentelemetry.sdk.trace" not in sys.modules:
        return False  # no exporter asked for, and the app did not load the SDK to set up its own
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError as exc:
        if names:
            raise ConfigError(f"OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT: {_INSTALL_HINT} ({exc})") from exc
        return False
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        enable(current)
        return True
    if not names:
        return False
    provider = _build_provider(names, env, service_name)
    trace.set_tracer_provider(provider)
    enable(provider, owned=True)
    return True


def _build_provider(names: list[str], env: Mapping[str, str], service_name: str) -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    attributes = {}
    if env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = env["OTEL_SERVICE_NAME"]
    elif "service.name=" not in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.name"] = service_name
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in names:
        if name == "console":
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        elif name == "otlp":
            provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(env)))
        else:
            raise ConfigError(
                f"OTEL_TRACES_EXPORTER: unknown exporter '{name}' (durable_ext knows otlp, console, none)"
            )
    return provider


def _otlp_exporter(env: Mapping[str, str]) -> Any:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    )
    try:
        if protocol == "grpc":  # a separate package (opentelemetry-exporter-otlp-proto-grpc), not in [otel]
            grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
            return grpc.OTLPSpanExporter()
        if protocol == "http/protobuf":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter()
    except ImportError as exc:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: {_INSTALL_HINT} ({exc})") from exc
    raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol '{protocol}' (http/protobuf or grpc)")


def enable(tracer_provider: Any, *, owned: bool = False) -> Tracing:
    """Trace through ``tracer_provider`` (an OpenTelemetry SDK ``TracerProvider``) from now on.

    For tests and embedders; hosts call :func:`configure_from_env`. ``owned``: :func:`disable`
    shuts the provider down (flushing its exporters).
    """
    global ACTIVE
    ACTIVE = Tracing(tracer_provider, owned=owned)
    return ACTIVE


def disable() -> None:
    """Stop tracing; flush and shut down the provider if :func:`configure_from_env` created it."""
    global ACTIVE
    tracing, ACTIVE = ACTIVE, None
    if tracing is not None and tracing.owned:
        tracing.provider.shutdown()


# -- ids and contexts --------------------------------------------------------------------------


class _PresetSpanIds:
    """The provider's id generator, except that the next span id of a thread can be preset."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.local = threading.local()

    def generate_span_id(self) -> int:
        preset = getattr(self.local, "span_id", None)
        if preset is not None:
            self.local.span_id = None
            return int(preset)
        return int(self.inner.generate_span_id())

    def generate_trace_id(self) -> int:
        return int(self.inner.generate_trace_id())

    def __getattr__(self, name: str) -> Any:  # is_trace_id_random() and what later SDKs ask
        return getattr(self.inner, name)


def _ns(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def new_span_id() -> str:
    return secrets.token_hex(8)


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace id, span id, flags) of a W3C ``traceparent``, or None if it is not one."""
    parts = (value or "").strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2:
        return None
    try:
        if int(parts[1], 16) == 0 or int(parts[2], 16) == 0:
            return None
        int(parts[3], 16)
    except ValueError:
        return None
    return parts[1], parts[2], parts[3]


def traceparent(trace_id: str, span_id: str, flags: str) -> str:
    return f"00-{trace_id}-{span_id}-{flags}"


# -- the tracing -------------------------------------------------------------------------------


class Tracing:
    """Span factory for the runtime's hooks (see the module docstring for the shape)."""

    def __init__(self, provider: Any, *, owned: bool = False) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.owned = owned
        ids = provider.id_generator
        if not isinstance(ids, _PresetSpanIds):
            ids = provider.id_generator = _PresetSpanIds(ids)
        self.ids: _PresetSpanIds = ids
        self.tracer = provider.get_tracer(_TRACER_NAME, __version__)
        self.trace, self.Kind, self.Status, self.StatusCode = trace, SpanKind, Status, StatusCode
        self.propagator = TraceContextTextMapPropagator()

    def flush(self) -> None:
        self.provider.force_flush()

    def _start(self, name: str, kind: Any, parent: Any, *, start: datetime | None = None,
               span_id: str | None = None, attributes: dict[str, Any] | None = None) -> Any:  # fmt: skip
        if span_id is not None:
            self.ids.local.span_id = int(span_id, 16)
        try:
            return self.tracer.start_span(
                name, context=parent, kind=kind, attributes=attributes,
                start_time=_ns(start) if start is not None else None,
            )  # fmt: skip
        finally:
            self.ids.local.span_id = None

    def _remote(self, context: e.TraceContext | None, trace_parent: str | None = None) -> Any:
        """An OpenTelemetry context whose current span is the remote parent ``trace_parent``."""
        carrier = {"traceparent": trace_parent or (context.trace_parent if context else "")}
        if context is not None and context.trace_state:
            carrier["tracestate"] = context.trace_state
        return self.propagator.extract(carrier)

    def _fail(self, span: Any, message: str) -> None:
        span.set_status(self.Status(self.StatusCode.ERROR, message))

    # -- client and HTTP ------------------------------------------------------------------------

    def create_orchestration(
        self, started: e.ExecutionStarted, hub: str, carrier: Mapping[str, str] | None = None
    ) -> e.ExecutionStarted:
        """``started`` with its ParentTraceContext: the ``create_orchestration`` span, a child of the
        W3C context in ``carrier`` (request headers) if it has one, else of the current span."""
        try:
            return self._create_orchestration(started, hub, carrier)
        except Exception:
            _broken("create_orchestration")
            return started

    def _create_orchestration(
        self, started: e.ExecutionStarted, hub: str, carrier: Mapping[str, str] | None
    ) -> e.ExecutionStarted:
        parent = self.propagator.extract(carrier) if carrier is not None and "traceparent" in carrier else None
        span = self._start(
            f"create_orchestration:{started.name}", self.Kind.PRODUCER, parent, attributes=_attrs(
                "orchestration", started.name, started.instance_id, hub,
                execution_id=started.execution_id, version=started.version,
            ),
        )  # fmt: skip
        span.end()
        ctx = span.get_span_context()
        if not ctx.is_valid:
            return started
        header: dict[str, str] = {}
        self.propagator.inject(header, self.trace.set_span_in_context(span))
        context = e.TraceContext(trace_parent=header["traceparent"], trace_state=header.get("tracestate"))
        return replace(started, parent_trace_context=context)

    def raise_event(self, instance_id: str, name: str, hub: str, carrier: Mapping[str, str] | None = None) -> None:
        """``orchestration_event:{name}``: an external event sent by the client (DTFx's client event span),
        a child of the W3C context in ``carrier`` if it has one, else of the current span."""
        try:
            parent = self.propagator.extract(carrier) if carrier is not None and "traceparent" in carrier else None
            attributes = {TYPE: "event", NAME: name, EVENT_TARGET: instance_id, TASK_HUB: hub}
            self._start(f"orchestration_event:{name}", self.Kind.PRODUCER, parent, attributes=attributes).end()
        except Exception:
            _broken("raise_event")

    @contextlib.contextmanager
    def http_request(self, method: str, route: str, path: str, headers: Mapping[str, str]) -> Iterator[Any]:
        """A SERVER span around an HTTP function, current while it runs (so the SDK client's calls
        carry it as ``traceparent``); the caller sets ``http.response.status_code`` on it."""
        try:
            parent = self.propagator.extract(headers) if "traceparent" in headers else None
            attributes = {"http.request.method": method, "http.route": route, "url.path": path}
            span = self._start(f"{method} {route}", self.Kind.SERVER, parent, attributes=attributes)
        except Exception:
            _broken("http_request")
            yield None
            return
        with self.trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
            yield span

    def http_status(self, span: Any, status: int) -> None:
        if span is None:
            return
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._fail(span, f"HTTP {status}")

    # -- entities ---------------------------------------------------------------------------------

    def entity_request(self, text: str, carrier: Mapping[str, str] | None, now: datetime) -> str:
        """A client's signal request ``text`` with the W3C context of ``carrier`` or the current span
        (DTFx ``RequestMessage.parentTraceContext``), so the entity's spans join the caller's trace."""
        try:
            parent = self.propagator.extract(carrier) if carrier is not None and "traceparent" in carrier else None
            header: dict[str, str] = {}
            self.propagator.inject(header, parent)
            if "traceparent" not in header:
                return text
            return stamp_entity_request(text, header["traceparent"], header.get("tracestate"), now) or text
        except Exception:
            _broken("entity_request")
            return text

    def entity_batch(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, hub: str, start: datetime, end: datetime
    ) -> None:
        """After an entity batch committed: for each traced request, DTFx's pair of spans
        ``entity:{name}:{operation}`` — the caller's (CLIENT for a call, PRODUCER for a signal; from the
        request's time) and the entity's (SERVER / CONSUMER, over the batch), a call's failure as ERROR."""
        try:
            self._entity_batch(item, commit, hub, start, end)
        except Exception:
            _broken("entity_batch")

    def _entity_batch(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, hub: str, start: datetime, end: datetime
    ) -> None:
        entity = item.instance_id
        name = entity[1:].split("@", 1)[0]
        applied = set(parse_recent_requests(item.state.custom_status if item.state else None))
        responses = {
            m.message.event.name: m.message.event.input
            for m in commit.messages
            if isinstance(m.message.event, e.EventRaised)
        }
        for _, message in item.messages:
            request = _traced_request(message.event)
            if request is None or str(request.get("id")) in applied:
                continue
            applied.add(str(request.get("id")))
            signal = bool(request.get("signal"))
            operation = str(request.get("op"))
            context = trace_context_from_dict(request["parentTraceContext"])
            requested = request.get("requestTime")
            kind = "signal_entity" if signal else "call_entity"
            client = self._start(
                f"entity:{name}:{operation}", self.Kind.PRODUCER if signal else self.Kind.CLIENT,
                self._remote(context), start=parse_datetime(requested) if isinstance(requested, str) else start,
                attributes={TYPE: "entity", OPERATION: kind, EVENT_TARGET: entity, TASK_HUB: hub},
            )  # fmt: skip
            client.end(end_time=_ns(start))
            server = self._start(
                f"entity:{name}:{operation}", self.Kind.CONSUMER if signal else self.Kind.SERVER,
                self.trace.set_span_in_context(client), start=start,
                attributes={TYPE: "entity", OPERATION: kind, INSTANCE_ID: entity, TASK_HUB: hub},
            )  # fmt: skip
            response = responses.get(str(request.get("id")))
            if not signal and is_entity_error_response(response):
                server.set_attribute(ENTITY_ERROR, str(response))
                self._fail(server, f"entity operation '{operation}' failed")
            server.end(end_time=_ns(end))

    # -- activity worker --------------------------------------------------------------------------

    @contextlib.contextmanager
    def activity(
        self, scheduled: e.TaskScheduled, instance_id: str, hub: str
    ) -> Iterator[Callable[[e.HistoryEvent], None]]:
        """The activity's SERVER span, current while it runs; call the yielded function with its result."""
        try:
            span = self._start(
                f"activity:{scheduled.name}", self.Kind.SERVER, self._remote(scheduled.parent_trace_context),
                attributes=_attrs("activity", scheduled.name, instance_id, hub, task_id=scheduled.event_id,
                                  version=scheduled.version),
            )  # fmt: skip
        except Exception:
            _broken("activity")
            yield lambda event: None
            return

        def result(event: e.HistoryEvent) -> None:
            if isinstance(event, e.TaskFailed):
                self._fail(span, event.reason or "activity failed")

        with self.trace.use_span(span, end_on_exit=True):
            yield result

    # -- orchestration episodes --------------------------------------------------------------------

    def episode(
        self, item: OrchestrationWorkItem, report: EpisodeReport, hub: str, now: datetime
    ) -> EpisodeTrace | None:
        """Stamp trace context on what ``report`` commits (new orchestration span id, activities'
        and sub-orchestrations' client spans, continue-as-new); returns what to emit once it committed,
        or None for an instance that is not traced (started while tracing was off).

        Never raises: a failure here is logged and the episode commits untraced."""
        try:
            return self._episode(item, report, hub, now)
        except Exception:
            _broken("episode")
            return None

    def _episode(
        self, item: OrchestrationWorkItem, report: EpisodeReport, hub: str, now: datetime
    ) -> EpisodeTrace | None:
        commit = report.commit
        if not commit.new_history and not commit.messages:
            return None
        found = _current_start(item, report)
        if found is None:
            return None
        started, fresh = found
        context = started.parent_trace_context
        if context is None and fresh:
            # Started without a trace (CLI, another tool): DTFx opens the create span at first run too.
            context = self.create_orchestration(started, hub).parent_trace_context
        parsed = parse_traceparent(context.trace_parent) if context is not None else None
        if context is None or parsed is None:
            return None
        trace_id, _, flags = parsed
        if context.span_id is None:
            if not fresh:
                return None  # its span id cannot be recorded any more
            span_id = new_span_id()
            context = replace(
                context, id=traceparent(trace_id, span_id, flags), span_id=span_id, activity_start_time=now
            )
        if context is not started.parent_trace_context:
            stamped = replace(started, parent_trace_context=context)
            commit.new_history = [stamped if ev is started else ev for ev in commit.new_history]
            started = stamped
        traced = EpisodeTrace(self, item, report, started, context, trace_id, flags, hub)
        traced.stamp()
        return traced


class EpisodeTrace:
    """One traced episode: stamps its commit, then emits the spans it ended (:meth:`emit`)."""

    def __init__(self, tracing: Tracing, item: OrchestrationWorkItem, report: EpisodeReport,
                 started: e.ExecutionStarted, context: e.TraceContext, trace_id: str, flags: str, hub: str) -> None:  # fmt: skip
        self.t, self.item, self.report, self.started = tracing, item, report, started
        self.context, self.trace_id, self.flags, self.hub = context, trace_id, flags, hub
        self.own = traceparent(trace_id, context.span_id or "", flags)

    def _child(self, span_id: str) -> e.TraceContext:
        return e.TraceContext(
            trace_parent=traceparent(self.trace_id, span_id, self.flags), trace_state=self.context.trace_state
        )

    def stamp(self) -> None:
        commit = self.report.commit
        swaps: dict[int, e.HistoryEvent] = {}
        activities = []
        for message in commit.activities:
            ev = message.event
            if isinstance(ev, e.TaskScheduled) and ev.parent_trace_context is None:
                ev = swaps[id(message.event)] = replace(ev, parent_trace_context=self._child(new_span_id()))
                message = TaskMessage(message.instance_id, ev, message.execution_id)
            activities.append(message)
        commit.activities = activities
        children: dict[tuple[str, int], str] = {}
        for ev in commit.new_history:
            if isinstance(ev, e.SubOrchestrationInstanceCreated) and ev.client_span_id is None:
                span_id = new_span_id()
                swaps[id(ev)] = replace(ev, client_span_id=span_id)
                children[(ev.instance_id, ev.event_id)] = span_id
        requests: dict[tuple[str, str], str] = {}  # (entity id, request text) -> stamped text
        for ev in commit.new_history:
            if isinstance(ev, e.EventSent) and ev.input and ev.instance_id.startswith("@"):
                stamped_text = stamp_entity_request(ev.input, self.own, self.context.trace_state, ev.timestamp)
                if stamped_text is not None:
                    swaps[id(ev)] = replace(ev, input=stamped_text)
                    requests[(ev.instance_id, ev.input)] = stamped_text
        if swaps:
            commit.new_history = [swaps.get(id(ev), ev) for ev in commit.new_history]
        commit.messages = [self._stamp_message(out, children, requests) for out in commit.messages]

    def _stamp_message(
        self, out: OutboundMessage, children: dict[tuple[str, int], str], requests: dict[tuple[str, str], str]
    ) -> OutboundMessage:
        ev = out.message.event
        if requests and isinstance(ev, e.EventRaised) and ev.input is not None:
            stamped_text = requests.get((out.message.instance_id, ev.input))
            if stamped_text is not None:
                message = TaskMessage(
                    out.message.instance_id, replace(ev, input=stamped_text), out.message.execution_id
                )
                return OutboundMessage(message, out.visible_at)
        return self._stamp_start(out, children)

    def _stamp_start(self, out: OutboundMessage, children: dict[tuple[str, int], str]) -> OutboundMessage:
        ev = out.message.event
        if not isinstance(ev, e.ExecutionStarted) or ev.parent_trace_context is not None:
            return out
        if ev.parent is not None and ev.parent.instance_id == self.item.instance_id:
            span_id = children.get((ev.instance_id, ev.parent.task_scheduled_id))
            if span_id is None:
                return out
            context = self._child(span_id)
        elif ev.instance_id == self.item.instance_id:  # continue-as-new: the next execution, same parent
            context = e.TraceContext(trace_parent=self.context.trace_parent, trace_state=self.context.trace_state)
        else:
            return out
        message = TaskMessage(
            out.message.instance_id, replace(ev, parent_trace_context=context), out.message.execution_id
        )
        return OutboundMessage(message, out.visible_at)

    def emit(self, now: datetime) -> None:
        """Emit the spans this (committed) episode ended. Never raises (a failure is logged)."""
        try:
            self._emit(now)
        except Exception:
            _broken("emit")

    def _emit(self, now: datetime) -> None:
        t, commit = self.t, self.report.commit
        own = t._remote(None, self.own)
        name, instance_id = self.started.name, self.item.instance_id
        results = self._results()
        if results:
            wanted = {_result_of(ev) for ev in results}
            scheduled = _scheduling_events(wanted, self.item.history, commit.new_history)
            for ev in results:
                self._emit_result(ev, scheduled, own, now)
        status = self.report.status
        ended = status is RuntimeStatus.ContinuedAsNew or (
            status is not None and status.is_terminal and bool(commit.new_history)
        )
        if not ended:
            return
        assert status is not None
        span = t._start(
            f"orchestration:{name}", t.Kind.SERVER, t._remote(self.context), start=self.context.activity_start_time,
            span_id=self.context.span_id, attributes=_attrs(
                "orchestration", name, instance_id, self.hub, execution_id=self.started.execution_id,
                version=self.started.version, status=status.value,
            ),
        )  # fmt: skip
        if status is RuntimeStatus.Failed:
            state = commit.state
            t._fail(span, (state.output if state else None) or "orchestration failed")
        span.end(end_time=_ns(now))

    def _results(self) -> list[e.HistoryEvent]:
        kinds = (e.TaskCompleted, e.TaskFailed, e.TimerFired, e.SubOrchestrationInstanceCompleted,
                 e.SubOrchestrationInstanceFailed)  # fmt: skip
        inbox = [m.event for _, m in self.item.messages if isinstance(m.event, kinds)]
        if not inbox:
            return []
        committed = {id(ev) for ev in self.report.commit.new_history}
        return [ev for ev in inbox if id(ev) in committed]

    def _emit_result(self, ev: e.HistoryEvent, scheduled: dict[int, e.HistoryEvent], own: Any, now: datetime) -> None:
        t = self.t
        origin = scheduled.get(_result_of(ev))
        instance_id = self.item.instance_id
        if isinstance(origin, e.TaskScheduled) and origin.parent_trace_context is not None:
            parsed = parse_traceparent(origin.parent_trace_context.trace_parent)
            span = t._start(
                f"activity:{origin.name}", t.Kind.CLIENT, own, start=origin.timestamp,
                span_id=parsed[1] if parsed else None,
                attributes=_attrs("activity", origin.name, instance_id, self.hub, task_id=origin.event_id,
                                  version=origin.version),
            )  # fmt: skip
            if isinstance(ev, e.TaskFailed):
                t._fail(span, ev.reason or "activity failed")
        elif isinstance(origin, e.TimerCreated) and isinstance(ev, e.TimerFired):
            span = t._start(
                f"orchestration:{self.started.name}:timer", t.Kind.INTERNAL, own, start=origin.timestamp,
                attributes={**_attrs("timer", self.started.name, instance_id, self.hub, task_id=ev.timer_id),
                            FIRE_AT: ev.fire_at.isoformat()},
            )  # fmt: skip
        elif isinstance(origin, e.SubOrchestrationInstanceCreated) and origin.client_span_id is not None:
            span = t._start(
                f"orchestration:{origin.name}", t.Kind.CLIENT, own, start=origin.timestamp,
                span_id=origin.client_span_id,
                attributes=_attrs("orchestration", origin.name, origin.instance_id, self.hub, version=origin.version),
            )  # fmt: skip
            if isinstance(ev, e.SubOrchestrationInstanceFailed):
                t._fail(span, ev.reason or "sub-orchestration failed")
        else:
            return
        span.end(end_time=_ns(now))


def stamp_entity_request(text: str, trace_parent: str, trace_state: str | None, now: datetime) -> str | None:
    """An entity request message (JSON) with DTFx's ``parentTraceContext``, ``requestTime`` and
    ``createTrace``; None if ``text`` is not a request or already carries a context."""
    try:
        request = json.loads(text)
    except ValueError:
        return None
    if not isinstance(request, dict) or "op" not in request or "parentTraceContext" in request:
        return None
    context = e.TraceContext(trace_parent=trace_parent, trace_state=trace_state)
    request["parentTraceContext"] = trace_context_to_dict(context)
    request["requestTime"] = now.isoformat()
    request["createTrace"] = True
    return json.dumps(request)


def _traced_request(event: e.HistoryEvent) -> dict[str, Any] | None:
    if not isinstance(event, e.EventRaised) or event.name != OPERATION_EVENT or not event.input:
        return None
    if "parentTraceContext" not in event.input:
        return None  # the common case, decided without parsing
    try:
        request = json.loads(event.input)
    except ValueError:
        return None
    if not isinstance(request, dict) or not request.get("createTrace") or "op" not in request:
        return None
    return request if trace_context_from_dict(request.get("parentTraceContext")) is not None else None


_reported: set[str] = set()


def _broken(hook: str) -> None:
    """Tracing must never stop the work it describes: log a hook's failure (once per hook) and go on."""
    if hook not in _reported:
        _reported.add(hook)
        logger.warning("Tracing failed in %s; the work goes on without these spans", hook, exc_info=True)


def _attrs(kind: str, name: str, instance_id: str, hub: str, *, execution_id: str | None = None,
           version: str | None = None, task_id: int | None = None, status: str | None = None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {TYPE: kind, NAME: name, INSTANCE_ID: instance_id, TASK_HUB: hub}
    if execution_id:
        out[EXECUTION_ID] = execution_id
    if version:
        out[VERSION] = version
    if task_id is not None:
        out[TASK_ID] = task_id
    if status:
        out[STATUS] = status
    return out


def _result_of(ev: e.HistoryEvent) -> int:
    """The sequence id of the scheduling event a result answers."""
    return ev.timer_id if isinstance(ev, e.TimerFired) else int(getattr(ev, "task_scheduled_id", -1))


def _current_start(item: OrchestrationWorkItem, report: EpisodeReport) -> tuple[e.ExecutionStarted, bool] | None:
    """The ExecutionStarted of the execution this episode ran, and whether this episode started it."""
    commit = report.commit
    inbox = [m.event for _, m in item.messages if isinstance(m.event, e.ExecutionStarted)]
    if inbox:
        for ev in commit.new_history:
            if isinstance(ev, e.ExecutionStarted) and any(ev is start for start in inbox):
                return ev, True
        if report.status is RuntimeStatus.ContinuedAsNew and not commit.new_history:
            # Started and continued as new in one episode: its history is not kept, its span ends now.
            return inbox[0], True
    started = _execution_started(commit.new_history) or _execution_started(item.history)
    if started is None:
        return None
    return started, any(ev is started for ev in commit.new_history)


def _execution_started(history: list[e.HistoryEvent]) -> e.ExecutionStarted | None:
    for ev in history:
        if isinstance(ev, e.ExecutionStarted):
            return ev
    return None


_SCHEDULING = (e.TaskScheduled, e.TimerCreated, e.SubOrchestrationInstanceCreated)


def _scheduling_events(wanted: set[int], *histories: list[e.HistoryEvent]) -> dict[int, e.HistoryEvent]:
    """The activities, timers and sub-orchestrations with sequence ids in ``wanted``, searched from the
    newest event back (results mostly answer recent work, so a long history is rarely walked)."""
    found: dict[int, e.HistoryEvent] = {}
    for history in reversed(histories):
        for ev in reversed(history):
            if isinstance(ev, _SCHEDULING) and ev.event_id in wanted and ev.event_id not in found:
                found[ev.event_id] = ev
                if len(found) == len(wanted):
                    return found
    return found
