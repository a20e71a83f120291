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

import atexit
import json
import logging
import sys
import threading
import time
from contextvars import ContextVar
from typing import Any

from durable_ext.core.clock import new_guid_text

logger = logging.getLogger("durable_ext")

#: ``text`` (func start style, the default) or ``json``.
FORMAT_SETTING = "DURABLE_EXT_LOG_FORMAT"
FORMATS = ("text", "json")
#: The record attributes this module adds (and the JSON keys beyond the basic ones).
FIELDS = ("instance_id", "function_name", "invocation_id")

# The function running in this task/thread: (function name, instance id or None, invocation id).
_running: ContextVar[tuple[str, str | None, str] | None] = ContextVar("durable_ext_invocation", default=None)


_second_text: tuple[int, str] = (-1, "")


def _stamp(created: float) -> str:
    """``2024-05-01T10:00:00.123Z`` for a ``time.time()`` value (the seconds part is cached: a log
    line is written per function execution, and strftime per line was a visible share of the CPU)."""
    global _second_text
    second, micros = divmod(round(created * 1_000_000), 1_000_000)  # rounded as datetime rounds it
    cached = _second_text
    if cached[0] != second:
        cached = _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micros // 1000:03d}Z"


class FuncFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"[{_stamp(record.created)}] {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the structured fields a record has,
    and the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = _stamp(record.created)
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


class StampingFilter(logging.Filter):
    """A filter that only adds attributes to records — except when :meth:`passes_plain_now` says
    otherwise. The console's cheap path for the Executing/Executed lines (which makes no record)
    is taken only when every filter of the handler is one of these and would pass a plain record."""

    def passes_plain_now(self) -> bool:
        return True


class ContextFilter(StampingFilter):
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


class ConsoleHandler(logging.StreamHandler):
    """A stream handler that writes shortly after a burst of records instead of once per record.

    Every function execution logs two lines. Written one by one, each line was a system call
    (stdout is unbuffered under ``PYTHONUNBUFFERED``, line-buffered on a terminal) on the event
    loop's thread, and under load that cost more than formatting the line. Records are formatted at
    once and queued in order; a daemon thread writes the queue ``FLUSH_DELAY`` seconds after the
    first of a burst (at once past ``MAX_QUEUED`` lines, or for a warning or an error), and ``flush()`` (at exit, by
    ``logging.shutdown``) writes what is left. A process killed with SIGKILL may lose the last
    ``FLUSH_DELAY`` of console output, never work.
    """

    FLUSH_DELAY = 0.02
    MAX_QUEUED = 1000

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._queued: list[str] = []
        self._queue_lock = threading.Lock()
        self._dirty = threading.Event()
        self._flusher: threading.Thread | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        # As Handler.handle, without its lock around emit: the queue has a lock of its own.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def write_text_line(self, message: str) -> bool:
        """Queue ``message`` as :class:`FuncFormatter` would write an Information record of it,
        if that is all this handler would do with one; False (nothing written) otherwise."""
        if type(self.formatter) is not FuncFormatter:
            return False
        for f in self.filters:  # (a plain loop: two lines per function execution come here)
            if not (isinstance(f, StampingFilter) and f.passes_plain_now()):
                return False
        self._queue(f"[{_stamp(time.time())}] {message}{self.terminator}", urgent=False)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
            return
        self._queue(text, urgent=record.levelno >= logging.WARNING)

    def _queue(self, text: str, *, urgent: bool) -> None:
        with self._queue_lock:
            self._queued.append(text)
            queued = len(self._queued)
        if queued >= self.MAX_QUEUED or urgent:
            self.flush()  # warnings and errors are out before anything else happens
        elif queued == 1:
            self._dirty.set()
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_soon, name="durable-log-flush", daemon=True)
                self._flusher.start()

    def flush(self) -> None:
        with self._queue_lock:
            text, self._queued = "".join(self._queued), []
        with self.lock:  # type: ignore[union-attr]
            if text:
                self.stream.write(text)
            super().flush()

    def _flush_soon(self) -> None:
        while True:
            self._dirty.wait()
            time.sleep(self.FLUSH_DELAY)
            self._dirty.clear()
            self.flush()


def flush_console() -> None:
    """Write what the runtime's log handlers still hold (before an ``os._exit``, which runs no atexit)."""
    for handler in logger.handlers:
        handler.flush()


def configure_console(level: int = logging.INFO, *, log_format: str = "text") -> None:
    """Send the runtime's log to stdout, one line per record (func start style, or JSON), flushed
    within :attr:`ConsoleHandler.FLUSH_DELAY`."""
    handler = ConsoleHandler(sys.stdout)
    atexit.register(handler.flush)
    handler.setFormatter(JsonFormatter() if log_format == "json" else FuncFormatter())
    handler.addFilter(ContextFilter())
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class Invocation:
    """One function execution: logs the Executing/Executed pair around a ``with`` block, which
    marks a failure with ``succeeded = False`` (see :func:`invocation`)."""

    __slots__ = ("_start", "_token", "function_name", "id", "instance_id", "reason", "succeeded")

    def __init__(self, function_name: str, reason: str, instance_id: str | None = None) -> None:
        self.function_name = function_name
        self.reason = reason
        self.instance_id = instance_id
        # A GUID's shape, as the Functions host logs it; only has to be unique.
        self.id = new_guid_text()
        self.succeeded = True

    def __enter__(self) -> Invocation:
        self._token = _running.set((self.function_name, self.instance_id, self.id))
        info_line("Executing 'Functions.%s' (Reason='%s', Id=%s)", (self.function_name, self.reason, self.id))
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None:
            self.succeeded = False
        ms = round((time.perf_counter() - self._start) * 1000)
        outcome = "Succeeded" if self.succeeded else "Failed"
        info_line("Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)", (self.function_name, outcome, self.id, ms))
        _running.reset(self._token)


def invocation(function_name: str, reason: str = "(null)", *, instance_id: str | None = None) -> Invocation:
    """Log Executing/Executed around a block; the block marks failure with ``inv.succeeded``.

    Records made in the block (in this task, and in threads it hands its context to) carry
    ``function_name``, ``invocation_id`` and ``instance_id`` (see :class:`ContextFilter`).
    """
    return Invocation(function_name, reason, instance_id)


def info_line(msg: str, args: tuple, extra: dict[str, Any] | None = None) -> None:
    """``logger.info(msg, *args, extra=extra)``, cheaper, for lines written for every function
    execution or instance.

    No lookup of the caller's file and line (a walk up the stack per record; they name no source),
    and when the runtime's console is the logger's only destination in the ``func start`` text
    format, no log record at all: nothing could read one but that handler (which shows no ``extra``).
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    handlers = logger.handlers
    if len(handlers) == 1 and not logger.propagate and not logger.filters:
        console = handlers[0]
        if type(console) is ConsoleHandler and console.write_text_line(msg % args):
            return
    logger.handle(logger.makeRecord(logger.name, logging.INFO, "(durable_ext)", 0, msg, args, None, extra=extra))
