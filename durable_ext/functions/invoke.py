"""Call user functions the way the Python worker does (``azure_functions_worker/dispatcher.py``).

Arguments go by keyword, keyed by binding name; a ``context`` parameter that no binding fills gets a
``func.Context``. Sync functions run in the given thread pool, ``async def`` ones on the running loop:
the durable client keeps a module-global aiohttp session, so client functions must all share one loop.

Orchestrator and entity wrappers are sync and take the whole JSON payload: :func:`call_orchestrator` and
:func:`call_entity` are plain functions for the caller to run in a thread.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

import azure.functions as func
from azure.functions._durable_functions import df_dumps, df_loads

from durable_ext.errors import DurableExtError
from durable_ext.functions import replay_safe
from durable_ext.functions.context import Context, Out
from durable_ext.functions.http import to_http_response
from durable_ext.functions.registry import FunctionInfo
from durable_ext.functions.threads import run_in


class ActivityFailure(DurableExtError):
    """An activity invocation failed: the user function raised, or its input or output did not convert.

    ``message`` is the worker's ``f"{type(exc).__name__}: {exc}"``; ``details`` is the traceback.
    """

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def call_orchestrator(info: FunctionInfo, context_json: str) -> str:
    """Run one orchestration episode through the SDK wrapper; returns the OrchestratorState JSON.

    Blocking; call it from a worker thread. The episode's context is published for replay-safe logging
    (see :mod:`durable_ext.functions.replay_safe`). A user-code failure propagates as the SDK raised it, its
    message ending in ``"\\n\\n$OutOfProcData$:" + state JSON``.
    """
    handle = replay_safe.published(info.user_function, info.durable_name)
    try:
        return handle(context_json)
    finally:
        replay_safe.end_episode()


def call_entity(info: FunctionInfo, batch_json: str) -> str:
    """Run one entity batch through the SDK wrapper; returns the EntityState JSON. Blocking."""
    return info.user_function(batch_json)


def decode_activity_input(input_text: str | None) -> Any:
    """``ActivityTriggerConverter.decode``: df_loads, the raw text if it is not JSON, None for no input."""
    text = "null" if input_text is None else input_text
    try:
        return df_loads(text)
    except json.JSONDecodeError:
        return text
    except Exception as exc:
        raise ValueError(f"activity trigger input must be a string or a valid json serializable ({text})") from exc


def encode_activity_output(value: Any) -> str:
    """``ActivityTriggerConverter.encode``: df_dumps, ValueError if the value cannot be serialized."""
    try:
        return df_dumps(value)
    except TypeError as exc:
        raise ValueError(f"activity trigger output must be json serializable ({value})") from exc


#: How the call of a plain ``def`` function is run: ``call`` given the blocking call, an awaitable
#: of its outcome (by default ``run_in(executor, blocking)``: on a user thread).
SyncCall = Callable[[Callable[[], Any]], Awaitable[Any]]


async def run_activity(
    info: FunctionInfo,
    input_text: str | None,
    *,
    invocation_id: str,
    executor: Executor | None = None,
    call: SyncCall | None = None,
) -> str:
    """Run an activity on its action ``input`` text; returns the ``df_dumps`` text of its result.

    A plain ``def`` runs through ``call`` (default: on ``executor``). Raises ActivityFailure for
    every failure of the invocation (decode, user code, encode).
    """
    try:
        kwargs = {info.trigger_binding_name: decode_activity_input(input_text)}
        result = await _invoke(
            info, kwargs, invocation_id=invocation_id, call=call or functools.partial(run_in, executor)
        )
        return encode_activity_output(result)
    except Exception as exc:
        raise ActivityFailure(f"{type(exc).__name__}: {exc}", _traceback_text(exc)) from exc


async def run_http(
    info: FunctionInfo,
    request: func.HttpRequest,
    *,
    client_binding_json: str | None,
    executor: Executor | None,
    invocation_id: str,
) -> func.HttpResponse:
    """Run an HTTP-triggered function; returns its response. User exceptions propagate unchanged.

    ``client_binding_json`` is the durable client binding string (required when the function has a
    ``durableClient`` binding). Output bindings get ``func.Out`` objects; only an ``http`` output named
    other than ``$return`` is read back, as the response. A return value that is not a response raises
    TypeError (see :func:`to_http_response`).
    """
    kwargs: dict[str, Any] = {info.trigger_binding_name: request}
    if info.client_binding_name is not None:
        if client_binding_json is None:
            raise ValueError(f"Function {info.function_name!r} needs its durable client binding JSON")
        kwargs[info.client_binding_name] = client_binding_json
    outs: dict[str, Out[Any]] = {name: Out() for name in info.out_binding_names}
    kwargs.update(outs)
    # Bindings this runtime cannot serve (blob input, …) still need their parameter filled.
    kwargs.update(dict.fromkeys(info.unserved_input_names))
    result = await _invoke(info, kwargs, invocation_id=invocation_id, call=functools.partial(run_in, executor))
    if info.http_output_name not in (None, "$return"):
        result = outs[info.http_output_name].get()
    return to_http_response(result, info.function_name)


def is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """True for ``async def`` functions, also behind ``functools.wraps`` / partial / async ``__call__``."""
    seen: set[int] = set()
    current: Any = fn
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if inspect.iscoroutinefunction(current):
            return True
        if callable(current) and not inspect.isroutine(current) and inspect.iscoroutinefunction(type(current).__call__):
            return True
        current = current.func if isinstance(current, functools.partial) else getattr(current, "__wrapped__", None)
    return False


async def _invoke(info: FunctionInfo, kwargs: dict[str, Any], *, invocation_id: str, call: SyncCall) -> Any:
    context: Context | None = None
    if info.wants_context:
        context = Context(invocation_id, info.function_name, info.function_directory)
        kwargs["context"] = context
    fn = info.user_function
    if info.is_async:
        result = fn(**kwargs)
    else:
        # Copy contextvars into the call as asyncio.to_thread does (log correlation, etc.).
        result = await call(functools.partial(contextvars.copy_context().run, _run_sync, fn, kwargs, context))
    # Covers async functions and sync wrappers that hand back a coroutine (finished on the loop).
    if inspect.isawaitable(result):
        result = await result
    return result


def _traceback_text(exc: BaseException) -> str:
    """The traceback of a failed call from the user function's frame on.

    The frames above it only say how the call was run, and they differ between a user thread and
    the loop's thread (``dispatcher.inline``): the same failure must write the same history wherever
    it ran. An error of the runtime's own (input or output conversion) keeps them all.
    """
    start = exc.__traceback__
    tb = start
    while tb is not None:
        if tb.tb_frame.f_code in _CALLS_USER_CODE and tb.tb_next is not None:
            start = tb.tb_next
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, start))


def _run_sync(fn: Callable[..., Any], kwargs: dict[str, Any], context: Context | None) -> Any:
    if context is not None:
        # The worker sets this in the executing thread so logging from user threads can correlate.
        context.thread_local_storage.invocation_id = context.invocation_id
    return fn(**kwargs)


#: The frames that call the user function (the last one in a traceback is where user code starts).
_CALLS_USER_CODE = frozenset({_invoke.__code__, _run_sync.__code__})


async def close_client_session() -> None:
    """Close the SDK client's module-global aiohttp session (it caches one per process)."""
    from azure.durable_functions.models.utils import http_utils

    session = getattr(http_utils, "_client_session", None)
    http_utils._client_session = None
    if session is not None and not session.closed:
        await session.close()


def use_client_session(session: Any) -> None:
    """Send the SDK client's HTTP calls through ``session`` (an ``aiohttp.ClientSession``) from now on.

    The test kit uses it to route the client binding's RPC calls to an in-process server; the session
    is closed by :func:`close_client_session`.
    """
    from azure.durable_functions.models.utils import http_utils

    http_utils._client_session = session
