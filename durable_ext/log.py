"""Console output in the style of ``func start``.

``[2024-05-01T10:00:00.123Z] Executing 'Functions.X' (Reason='...', Id=...)`` and
``Executed 'Functions.X' (Succeeded, Id=..., Duration=41ms)`` lines, written through the
``durable_ext`` logger so tests and embedders can capture or silence them.
"""

from __future__ import annotations

import logging
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

logger = logging.getLogger("durable_ext")


class FuncFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        text = f"[{stamp}] {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_console(level: int = logging.INFO) -> None:
    """Send the runtime's log to stdout, one flushed line per record (func start style)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(FuncFormatter())
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
def invocation(function_name: str, reason: str = "(null)") -> Iterator[Invocation]:
    """Log Executing/Executed around a block; the block marks failure with ``inv.succeeded``."""
    inv = Invocation(function_name, reason)
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
