"""Stand-ins for an app's activities and orchestrators, for tests (``durable_ext.testing``).

A stub is a plain Python function of the input value. It is wrapped into a :class:`FunctionInfo`
that the runtime invokes exactly as it invokes the real function: an activity stub through the
activity trigger's input decoding and output encoding, an orchestrator stub through the SDK's own
orchestrator wrapper (so a sub-orchestration stub's result or exception reaches the parent as a
real sub-orchestration's would). Raising in a stub fails the activity or orchestration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df

from durable_ext.functions.invoke import is_coroutine_function
from durable_ext.functions.registry import FunctionInfo, FunctionKind

_INPUT = "input"


def activity_stub(name: str, stub: Callable[[Any], Any], replaces: FunctionInfo | None = None) -> FunctionInfo:
    """An activity named ``name`` that returns ``stub(input)`` (sync or ``async def``)."""
    if is_coroutine_function(stub):

        async def call_async(**kwargs: Any) -> Any:
            return await stub(kwargs[_INPUT])

        user_function: Callable[..., Any] = call_async
    else:

        def call(**kwargs: Any) -> Any:
            return stub(kwargs[_INPUT])

        user_function = call
    base = replaces or FunctionInfo(
        function_name=name,
        kind=FunctionKind.ACTIVITY,
        durable_name=name,
        user_function=user_function,
        trigger_binding_name=_INPUT,
        trigger_type=FunctionKind.ACTIVITY.value,
    )
    return dataclasses.replace(
        base,
        user_function=user_function,
        trigger_binding_name=_INPUT,
        is_async=is_coroutine_function(stub),
        wants_context=False,
        out_binding_names=(),
        unserved_input_names=(),
    )


def orchestrator_stub(name: str, stub: Callable[[Any], Any], replaces: FunctionInfo | None = None) -> FunctionInfo:
    """An orchestrator named ``name`` that completes at once with ``stub(input)`` (sync only)."""
    if is_coroutine_function(stub):
        raise TypeError(f"the stub for orchestrator {name!r} must be a plain function, not async def")

    def orchestrator(context: df.DurableOrchestrationContext) -> Any:
        return stub(context.get_input())

    handle = df.Orchestrator.create(orchestrator)
    base = replaces or FunctionInfo(
        function_name=name,
        kind=FunctionKind.ORCHESTRATOR,
        durable_name=name,
        user_function=handle,
        trigger_binding_name="context",
        trigger_type=FunctionKind.ORCHESTRATOR.value,
    )
    return dataclasses.replace(base, user_function=handle)


def orchestrator_invoke(orchestrator: Any) -> Callable[[str], str]:
    """The episode entry point (context JSON → state JSON) of an orchestrator given in any user form.

    Accepts what ``@app.orchestration_trigger`` left in the module (a ``FunctionBuilder``), the SDK's
    ``handle`` (``df.Orchestrator.create(fn)``), or the plain orchestrator function (a generator
    function of the context, or a plain function for one that finishes at once).
    """
    function = getattr(orchestrator, "_function", None)
    if function is not None and hasattr(function, "get_user_function"):
        return function.get_user_function()
    if hasattr(orchestrator, "orchestrator_function"):  # already the SDK's handle
        return orchestrator
    if not callable(orchestrator):
        raise TypeError(f"not an orchestrator function: {orchestrator!r}")
    return df.Orchestrator.create(orchestrator)
