"""The span factory the runtime's hooks call (:class:`Tracing`); see the package docstring for the shape."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from durable_ext import __version__
from durable_ext.core import events as e
from durable_ext.core.messages import OrchestrationCommit, OrchestrationWorkItem
from durable_ext.core.transitions import EpisodeReport
from durable_ext.core.wire import parse_datetime
from durable_ext.core.wire.entities import is_entity_error_response, parse_recent_requests
from durable_ext.core.wire.history import trace_context_from_dict
from durable_ext.telemetry.episodes import EpisodeTrace, current_start
from durable_ext.telemetry.spans import (
    ENTITY_ERROR,
    EVENT_TARGET,
    INSTANCE_ID,
    NAME,
    OPERATION,
    TASK_HUB,
    TRACER_NAME,
    TYPE,
    PresetSpanIds,
    attrs,
    broken,
    failure_of,
    new_span_id,
    ns,
    parse_traceparent,
    stamp_entity_request,
    traced_request,
    traceparent,
)


class Tracing:
    """Span factory for the runtime's hooks (see the module docstring for the shape)."""

    def __init__(self, provider: Any, *, owned: bool = False) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.owned = owned
        ids = provider.id_generator
        if not isinstance(ids, PresetSpanIds):
            ids = provider.id_generator = PresetSpanIds(ids)
        self.ids: PresetSpanIds = ids
        self.tracer = provider.get_tracer(TRACER_NAME, __version__)
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
                start_time=ns(start) if start is not None else None,
            )  # fmt: skip
        finally:
            self.ids.local.span_id = None

    def _remote(self, context: e.TraceContext | None, trace_parent: str | None = None) -> Any:
        """An OpenTelemetry context whose current span is the remote parent ``trace_parent``."""
        carrier = {"traceparent": trace_parent or (context.trace_parent if context else "")}
        if context is not None and context.trace_state:
            carrier["tracestate"] = context.trace_state
        return self.propagator.extract(carrier)

    def _fail(self, span: Any, message: str, *, error_type: str | None = None, stack: str | None = None) -> None:
        """ERROR status with ``message``; with ``error_type``, also OpenTelemetry's ``exception`` event."""
        span.set_status(self.Status(self.StatusCode.ERROR, message))
        if error_type is not None:
            event = {"exception.type": error_type, "exception.message": message}
            if stack:
                event["exception.stacktrace"] = stack
            span.add_event("exception", event)

    # -- client and HTTP ------------------------------------------------------------------------

    def create_orchestration(
        self, started: e.ExecutionStarted, hub: str, carrier: Mapping[str, str] | None = None
    ) -> e.ExecutionStarted:
        """``started`` with its ParentTraceContext: the ``create_orchestration`` span, a child of the
        W3C context in ``carrier`` (request headers) if it has one, else of the current span."""
        try:
            return self._create_orchestration(started, hub, carrier)
        except Exception:
            broken("create_orchestration")
            return started

    def _create_orchestration(
        self, started: e.ExecutionStarted, hub: str, carrier: Mapping[str, str] | None
    ) -> e.ExecutionStarted:
        parent = self.propagator.extract(carrier) if carrier is not None and "traceparent" in carrier else None
        span = self._start(
            f"create_orchestration:{started.name}", self.Kind.PRODUCER, parent, attributes=attrs(
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
            broken("raise_event")

    @contextlib.contextmanager
    def http_request(self, method: str, route: str, path: str, headers: Mapping[str, str]) -> Iterator[Any]:
        """A SERVER span around an HTTP function, current while it runs (so the SDK client's calls
        carry it as ``traceparent``); the caller sets ``http.response.status_code`` on it."""
        try:
            parent = self.propagator.extract(headers) if "traceparent" in headers else None
            attributes = {"http.request.method": method, "http.route": route, "url.path": path}
            span = self._start(f"{method} {route}", self.Kind.SERVER, parent, attributes=attributes)
        except Exception:
            broken("http_request")
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
            broken("entity_request")
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
            broken("entity_batch")

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
            request = traced_request(message.event)
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
            client.end(end_time=ns(start))
            server = self._start(
                f"entity:{name}:{operation}", self.Kind.CONSUMER if signal else self.Kind.SERVER,
                self.trace.set_span_in_context(client), start=start,
                attributes={TYPE: "entity", OPERATION: kind, INSTANCE_ID: entity, TASK_HUB: hub},
            )  # fmt: skip
            response = responses.get(str(request.get("id")))
            if not signal and is_entity_error_response(response):
                server.set_attribute(ENTITY_ERROR, str(response))
                self._fail(server, f"entity operation '{operation}' failed")
            server.end(end_time=ns(end))

    # -- activity worker --------------------------------------------------------------------------

    @contextlib.contextmanager
    def activity(
        self, scheduled: e.TaskScheduled, instance_id: str, hub: str
    ) -> Iterator[Callable[[e.HistoryEvent], None]]:
        """The activity's SERVER span, current while it runs; call the yielded function with its result."""
        try:
            span = self._start(
                f"activity:{scheduled.name}", self.Kind.SERVER, self._remote(scheduled.parent_trace_context),
                attributes=attrs("activity", scheduled.name, instance_id, hub, task_id=scheduled.event_id,
                                  version=scheduled.version),
            )  # fmt: skip
        except Exception:
            broken("activity")
            yield lambda event: None
            return

        def result(event: e.HistoryEvent) -> None:
            if isinstance(event, e.TaskFailed):
                error_type, stack = failure_of(event.details)
                self._fail(span, event.reason or "activity failed", error_type=error_type, stack=stack)

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
            broken("episode")
            return None

    def _episode(
        self, item: OrchestrationWorkItem, report: EpisodeReport, hub: str, now: datetime
    ) -> EpisodeTrace | None:
        commit = report.commit
        if not commit.new_history and not commit.messages:
            return None
        found = current_start(item, report)
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
