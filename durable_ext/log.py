"""Console output in the style of ``func start``, or JSON lines.

``[2024-05-01T10:00:00.123Z] Executing 'Functions.X' (Reason='...', Id=...)`` and
``Executed 'Functions.X' (Succeeded, Id=..., Duration=41ms)`` lines, written through the
``durable_ext`` logger so tests and embedders can capture or silence them.

**Structured fields.** A record made while a function runs — the runtime's own lines about it and
whatever is logged in the block of :func:`invocation` — carries ``function_name``,
``invocation_id`` and, for orchestrations, activities and entities, ``instance_id`` as record
attributes (:class:`ContextFilter`, on the console handler); the dispatchers' lines about an
instance outside a run pass them as ``extra``. :class:`JsonFormatter` writes one JSON object per
record with these fields (``DURABLE_EXT_LOG_FORMAT=json`` or ``start --log-format json``).
"""

from __future__ import annotations

import json
import logging
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

logger = logging.getLogger("durable_ext")

#: ``text`` (func start style, the default) or ``json``.
FORMAT_SETTING = "DURABLE_EXT_LOG_FORMAT"
FORMATS = ("text", "json")
#: The record attributes this module adds (and the JSON keys beyond the basic ones).
FIELDS = ("instance_id", "function_name", "invocation_id")

# The function running in this task/thread: (function name, instance id or None, invocation id).
_running: ContextVar[tuple[str, str | None, str] | None] = ContextVar("durable_ext_invocation", default=None)


class FuncFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        text = f"[{stamp}] {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the structured fields a record has,
    and the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        out: dict[str, object] = {
            "timestamp": stamp,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class ContextFilter(logging.Filter):
    """Stamps records with the running function's fields (never overwriting what a record has)."""

    def filter(self, record: logging.LogRecord) -> bool:
        running = _running.get()
        if running is not None:
            if getattr(record, "function_name", None) is None:
                record.function_name = running[0]
            if getattr(record, "instance_id", None) is None and running[1] is not None:
                record.instance_id = running[1]
            if getattr(record, "invocation_id", None) is None:
                record.invocation_id = running[2]
        return True


def parse_format(value: str | None, source: str = FORMAT_SETTING) -> str:
    """``text`` / ``json`` (case-insensitive; empty means text); ValueError naming ``source`` otherwise."""
    chosen = (value or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"{source}: '{value}' is not a log format (text or json)")
    return chosen


def json_console() -> bool:
    """Whether the runtime's console log is JSON (so plain ``print`` output would break its lines)."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers)


def configure_console(level: int = logging.INFO, *, log_format: str = "text") -> None:
    """Send the runtime's log to stdout, one flushed line per record (func start style, or JSON)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if log_format == "json" else FuncFormatter())
    handler.addFilter(ContextFilter())
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class Invocation:
    """One function execution, for the Executing/Executed pair."""

    def __init__(self, function_name: str, reason: str) -> None:
        self.function_name = function_name
        self.reason = reason
        # A GUID's shape, as the Functions host logs it; only has to be unique (see new_token).
        self.id = str(uuid.UUID(int=random.getrandbits(128), version=4))
        self.succeeded = True


@contextmanager
def invocation(function_name: str, reason: str = "(null)", *, instance_id: str | None = None) -> Iterator[Invocation]:
    """Log Executing/Executed around a block; the block marks failure with ``inv.succeeded``.

    Records made in the block (in this task, and in threads it hands its context to) carry
    ``function_name``, ``invocation_id`` and ``instance_id`` (see :class:`ContextFilter`).
    """
    inv = Invocation(function_name, reason)
    token = _running.set((function_name, instance_id, inv.id))
    logger.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function_name, reason, inv.id)
    start = time.perf_counter()
    try:
        yield inv
    except BaseException:
        inv.succeeded = False
        raise
    finally:
        ms = round((time.perf_counter() - start) * 1000)
        outcome = "Succeeded" if inv.succeeded else "Failed"
        logger.info("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", function_name, outcome, inv.id, ms)
        _running.reset(token)
