"""Concrete versions of the azure.functions abstract types the worker hands to user code.

azure.functions only ships abstract ``Context`` and ``Out`` classes; the Python worker supplies the
implementations (``azure_functions_worker/bindings/context.py``, ``bindings/out.py``). These follow them,
subclassing the abstract ones so ``isinstance(context, func.Context)`` holds.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

import azure.functions as func
from azure.functions import _abc

T = TypeVar("T")


class TraceContext(_abc.TraceContext):
    """Distributed-tracing context; empty, as no W3C trace parent reaches this runtime."""

    def __init__(self, trace_parent: str = "", trace_state: str = "", attributes: dict[str, str] | None = None):
        self._trace_parent = trace_parent
        self._trace_state = trace_state
        self._attributes = attributes or {}

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes


class RetryContext(_abc.RetryContext):
    """Function-level retry policy state; durable functions have none, so always the first try."""

    def __init__(self, retry_count: int = 0, max_retry_count: int = 0, exception: Any = None):
        self._retry_count = retry_count
        self._max_retry_count = max_retry_count
        self._exception = exception

    @property
    def retry_count(self) -> int:
        return self._retry_count

    @property
    def max_retry_count(self) -> int:
        return self._max_retry_count

    @property
    def exception(self) -> Any:
        return self._exception


class Context(func.Context):
    """What a function's ``context`` parameter receives (the worker's ``bindings.context.Context``)."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()
        self._trace_context = TraceContext()
        self._retry_context = RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        """A ``threading.local``; its ``invocation_id`` is set in the thread running the function."""
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return self._retry_context

    def __repr__(self) -> str:
        return f"<Context {self._function_name} {self._invocation_id}>"


class Out(func.Out, Generic[T]):
    """An output binding parameter: the function ``set()``s a value, the runtime ``get()``s it."""

    def __init__(self) -> None:
        self._value: T | None = None

    def set(self, val: T) -> None:
        self._value = val

    def get(self) -> T | None:
        return self._value
