"""Replay-safe logging: what orchestrator code logs while the SDK replays history is not emitted again.

Every episode replays the orchestrator from the start, so a ``logging.info`` in orchestrator code
would print once per episode. The .NET host's replay-safe logger emits such records only when the
code runs for the first time; the Python SDK leaves it to users (``if not context.is_replaying``).
Here, :func:`publish_context` wraps an orchestrator so that the SDK hands its context to a wrapper
that publishes it for the episode's thread (an episode runs on one thread, start to end), and
:class:`ReplaySafeFilter`, on a handler, drops records made on that thread while
``context.is_replaying`` — the SDK's own flag, set before it resumes user code — and stamps every
record made during an episode with ``instance_id`` and ``function_name`` (for structured logs).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import azure.durable_functions as df

from durable_ext.log import StampingFilter

#: Set to ``false`` / ``0`` to emit orchestrator records during replays too.
SETTING = "DURABLE_EXT_REPLAY_SAFE_LOGS"

_current = threading.local()


def publish_context(handle: Callable[[str], str], function_name: str) -> Callable[[str], str]:
    """The SDK orchestrator ``handle`` rebuilt around a wrapper that publishes each episode's context.

    Only SDK handles (``df.Orchestrator.create``) are wrapped; anything else is returned unchanged.
    """
    user_function = getattr(handle, "orchestrator_function", None)
    if user_function is None:
        return handle

    def publishing(context: df.DurableOrchestrationContext) -> Any:
        _current.context = context
        _current.function_name = function_name
        return user_function(context)

    wrapped = df.Orchestrator.create(publishing)
    # What the decorator stashed on its handle (the input type get_input() decodes to) and the name.
    for attribute in ("_df_input_type", "__name__", "__qualname__", "__doc__"):
        if hasattr(handle, attribute):
            setattr(wrapped, attribute, getattr(handle, attribute))
    wrapped.orchestrator_function = user_function
    return wrapped


_published: dict[Callable[[str], str], Callable[[str], str]] = {}


def published(handle: Callable[[str], str], function_name: str) -> Callable[[str], str]:
    """:func:`publish_context` of ``handle``, built once per handle."""
    wrapped = _published.get(handle)
    if wrapped is None:
        wrapped = _published.setdefault(handle, publish_context(handle, function_name))
    return wrapped


def begin_episode(context: df.DurableOrchestrationContext, function_name: str) -> None:
    """Publish ``context`` for this thread's episode (for code that drives the SDK's executor itself)."""
    _current.context = context
    _current.function_name = function_name


def end_episode() -> None:
    """Forget the context published on this thread (the episode is over)."""
    _current.context = None
    _current.function_name = None


def enabled(environ: Any = os.environ) -> bool:
    return str(environ.get(SETTING, "true")).strip().lower() not in ("0", "false", "no", "off")


class ReplaySafeFilter(StampingFilter):
    """Drops records made by replaying orchestrator code (when ``drop_replays``); stamps episode records."""

    def __init__(self, drop_replays: bool = True) -> None:
        super().__init__("durable_ext.replay_safe")
        self.drop_replays = drop_replays

    def passes_plain_now(self) -> bool:
        return getattr(_current, "context", None) is None  # outside an episode it passes all, unchanged

    def filter(self, record: logging.LogRecord) -> bool:
        context = getattr(_current, "context", None)
        if context is None:
            return True
        record.instance_id = context.instance_id
        record.function_name = _current.function_name
        return not (self.drop_replays and context.is_replaying)


def install(handlers: Iterable[logging.Handler] | None = None, *, drop_replays: bool | None = None) -> ReplaySafeFilter:
    """Add one :class:`ReplaySafeFilter` to ``handlers`` (default: the root logger's and the runtime's).

    Handlers added later are not covered; call again for them. Returns the filter (for :func:`uninstall`).
    """
    chosen = drop_replays if drop_replays is not None else enabled()
    replay_filter = ReplaySafeFilter(chosen)
    if handlers is None:
        handlers = [*logging.getLogger().handlers, *logging.getLogger("durable_ext").handlers]
    for handler in handlers:
        handler.addFilter(replay_filter)
    return replay_filter


def uninstall(replay_filter: ReplaySafeFilter, handlers: Iterable[logging.Handler] | None = None) -> None:
    if handlers is None:
        handlers = [*logging.getLogger().handlers, *logging.getLogger("durable_ext").handlers]
    for handler in handlers:
        handler.removeFilter(replay_filter)
