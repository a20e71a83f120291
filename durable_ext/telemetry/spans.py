"""What every span of the runtime shares: DTFx's attribute names, W3C ids, preset span ids, times,
and the rule that tracing never stops the work it describes (:func:`broken`)."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from durable_ext.core import events as e
from durable_ext.core.entities import OPERATION_EVENT
from durable_ext.core.wire.history import trace_context_from_dict, trace_context_to_dict
from durable_ext.log import logger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TRACER_NAME = "durable_ext"

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


# -- ids and contexts --------------------------------------------------------------------------


class PresetSpanIds:
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


def ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


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


def traced_request(event: e.HistoryEvent) -> dict[str, Any] | None:
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


def failure_of(details: str | None) -> tuple[str, str | None]:
    """(error type, stack trace) of a ``TaskFailed.Details`` (the host's serialised RpcException, whose
    ``Message`` starts with the Python exception's type name), as far as it tells them."""
    try:
        data = json.loads(details or "")
    except ValueError:
        return "ActivityFailure", details or None
    if not isinstance(data, dict):
        return "ActivityFailure", None
    message = str(data.get("Message") or "").strip()
    head = message.split(":", 1)[0] if ":" in message else ""
    return (head if head.isidentifier() else "ActivityFailure"), data.get("StackTraceString") or None


_reported: set[str] = set()


def broken(hook: str) -> None:
    """Tracing must never stop the work it describes: log a hook's failure (once per hook) and go on."""
    if hook not in _reported:
        _reported.add(hook)
        logger.warning("Tracing failed in %s; the work goes on without these spans", hook, exc_info=True)


def attrs(kind: str, name: str, instance_id: str, hub: str, *, execution_id: str | None = None,
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
