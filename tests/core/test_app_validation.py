"""Issue #10 finding 10: apps load as strictly as in the Python worker.

A function whose parameters do not match its bindings used to be served and fail only when called;
the worker refuses it at load (``FunctionLoadError: cannot load the <name> function: …``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from durable_ext.errors import AppLoadError
from durable_ext.functions import load_app
from tests.core.test_functions import write_app

HEADER = """
import azure.functions as func
import azure.durable_functions as df
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
bp = df.Blueprint()
"""


def _load(tmp_path: Path, body: str):
    return load_app(write_app(tmp_path / "app", HEADER + body))


def test_client_binding_attached_to_a_function_without_that_parameter_is_refused(tmp_path: Path) -> None:
    # A blueprint's durable_client_input stacked onto the wrong function: no `client` parameter.
    body = """
@bp.route(route="start")
@bp.durable_client_input(client_name="client")
async def start(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("x")

app.register_functions(bp)
"""
    with pytest.raises(AppLoadError, match=r"cannot load the start function: .*bindings but not in Python: 'client'"):
        _load(tmp_path, body)


def test_a_parameter_no_binding_fills_is_refused(tmp_path: Path) -> None:
    body = """
@app.activity_trigger(input_name="name")
def hello(name: str, greeting: str) -> str:
    return greeting + name
"""
    with pytest.raises(AppLoadError, match=r"cannot load the hello function: .*in Python but not in its bindings: 'greeting'"):
        _load(tmp_path, body)


def test_a_context_parameter_must_be_the_invocation_context(tmp_path: Path) -> None:
    body = """
@app.route(route="r")
def handler(req: func.HttpRequest, context: str) -> func.HttpResponse:
    return func.HttpResponse("x")
"""
    with pytest.raises(AppLoadError, match=r"cannot load the handler function: the \"context\" parameter"):
        _load(tmp_path, body)


def test_an_http_trigger_annotated_with_the_wrong_type_is_refused(tmp_path: Path) -> None:
    body = """
@app.route(route="r")
def handler(req: int) -> func.HttpResponse:
    return func.HttpResponse("x")
"""
    with pytest.raises(AppLoadError, match=r"cannot load the handler function: type of req binding \"httpTrigger\""):
        _load(tmp_path, body)


def test_a_return_annotation_the_http_output_cannot_take_is_refused(tmp_path: Path) -> None:
    body = """
@app.route(route="r")
def handler(req: func.HttpRequest) -> int:
    return 1
"""
    with pytest.raises(AppLoadError, match=r"cannot load the handler function: Python return annotation \"int\""):
        _load(tmp_path, body)


def test_matching_functions_still_load_with_context_and_any_activity_type(tmp_path: Path) -> None:
    body = """
@app.route(route="r")
@app.durable_client_input(client_name="client")
async def handler(req: func.HttpRequest, client, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse("x")

@app.activity_trigger(input_name="payload")
def act(payload: dict) -> list:
    return [payload]

@app.orchestration_trigger(context_name="context")
def orch(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("act", {}))

@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    context.set_result(1)
"""
    registry = _load(tmp_path, body)
    assert sorted(f.function_name for f in registry.functions) == ["act", "counter", "handler", "orch"]
