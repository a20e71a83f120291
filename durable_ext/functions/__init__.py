"""The user's function app: loading ``function_app.py``, the registry of durable names, invocation.

The only package that imports ``azure.functions`` / ``azure.durable_functions``; everything above it
deals in :class:`FunctionInfo`, JSON strings, and the HTTP helpers re-exported here.
"""

from durable_ext.functions.http import ResponseParts, make_request, response_parts, to_http_response
from durable_ext.functions.invoke import (
    ActivityFailure,
    call_entity,
    call_orchestrator,
    decode_activity_input,
    encode_activity_output,
    is_coroutine_function,
    run_activity,
    run_http,
)
from durable_ext.functions.loader import load_app
from durable_ext.functions.registry import FunctionInfo, FunctionKind, Registry

__all__ = [
    "ActivityFailure",
    "FunctionInfo",
    "FunctionKind",
    "Registry",
    "ResponseParts",
    "call_entity",
    "call_orchestrator",
    "decode_activity_input",
    "encode_activity_output",
    "is_coroutine_function",
    "load_app",
    "make_request",
    "response_parts",
    "run_activity",
    "run_http",
    "to_http_response",
]
