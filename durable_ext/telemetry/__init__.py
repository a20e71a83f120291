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

**Modules.** This package: configuration and :data:`ACTIVE`; ``tracing``: :class:`Tracing`, the span
factory the hooks call; ``episodes``: one traced orchestration episode (stamp, then emit);
``spans``: attribute names, ids, and :func:`~durable_ext.telemetry.spans.broken`.

**Cost when off.** :data:`ACTIVE` is None unless tracing was configured at startup
(:func:`configure_from_env`) or by :func:`enable`; every hook is one ``is None`` test of it, no
tracer provider or exporter is created and no trace context is written to history.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from typing import Any

from durable_ext.errors import ConfigError
from durable_ext.telemetry.spans import (
    ENTITY_ERROR,
    EVENT_TARGET,
    EXECUTION_ID,
    FIRE_AT,
    INSTANCE_ID,
    NAME,
    OPERATION,
    STATUS,
    TASK_HUB,
    TASK_ID,
    TYPE,
    VERSION,
    parse_traceparent,
)
from durable_ext.telemetry.tracing import Tracing

__all__ = [
    "ACTIVE", "ENTITY_ERROR", "EVENT_TARGET", "EXECUTION_ID", "FIRE_AT", "INSTANCE_ID", "NAME", "OPERATION",
    "STATUS", "TASK_HUB", "TASK_ID", "TYPE", "VERSION", "Tracing", "configure_from_env", "disable", "enable",
    "exporter_names", "parse_traceparent",
]  # fmt: skip

#: The installed tracing, or None (the only thing a hook looks at when tracing is off).
ACTIVE: Tracing | None = None

_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_INSTALL_HINT = "install the OpenTelemetry exporters with `pip install durable_ext[otel]`"


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
