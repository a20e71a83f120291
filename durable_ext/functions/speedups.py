"""Make the SDK's replay cheaper without changing what it computes.

The SDK parses every history timestamp with ``dateutil.parser.parse`` (about 65 µs each; 90 % of
a replay, measured with cProfile on SDK 1.7). The timestamps this runtime writes are always
``YYYY-MM-DDTHH:MM:SS.ffffffZ``, which ``datetime.fromisoformat`` reads in well under a
microsecond. :func:`install` swaps in a parser that takes that fast path and returns exactly what
dateutil returns (same value, same tzinfo), and falls back to dateutil for anything else.

``TaskOrchestrationExecutor.__init__`` defines a ``namedtuple`` class on every call (the payload
type of its event table): ``collections.namedtuple`` builds and ``eval``s source each time, about
a fifth of a one-activity orchestration's first episode. The module's ``namedtuple`` becomes one
that returns the class it built before for the same name and fields: the same tuples, compared
and unpacked the same way, from a class built once.
"""

from __future__ import annotations

import collections
import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

_installed = False


def _fast_parser(fallback):
    # Whatever tzinfo dateutil gives a "Z" (tzutc, or tzlocal when the machine runs on UTC).
    zulu = fallback("2000-01-01T00:00:00.000000Z").tzinfo

    def parse(text, *args, **kwargs):
        if not args and not kwargs and isinstance(text, str) and len(text) == 27 and text[-1] == "Z":
            try:
                return datetime.fromisoformat(text[:-1]).replace(tzinfo=zulu)
            except ValueError:
                pass
        return fallback(text, *args, **kwargs)

    return parse


def _remembered(factory: Callable[..., Any]) -> Callable[..., Any]:
    built: dict[tuple, Any] = {}

    def namedtuple(typename: str, field_names, **kwargs):
        fields = field_names if isinstance(field_names, str) else tuple(field_names)
        key = (typename, fields, tuple(sorted(kwargs.items())))
        try:
            return built[key]
        except KeyError:
            cls = built[key] = factory(typename, field_names, **kwargs)
            return cls
        except TypeError:  # an unhashable default: built every time, as before
            return factory(typename, field_names, **kwargs)

    return namedtuple


def install() -> None:
    """Idempotent; affects only this process's SDK module."""
    global _installed
    if _installed:
        return
    history_module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")

    history_module.dt_parse = _fast_parser(history_module.dt_parse)  # type: ignore[attr-defined]
    executor_module = importlib.import_module("azure.durable_functions.models.TaskOrchestrationExecutor")
    if getattr(executor_module, "namedtuple", None) is collections.namedtuple:
        executor_module.namedtuple = _remembered(collections.namedtuple)  # type: ignore[attr-defined]
    _installed = True
