"""durable_ext.functions against real function apps written with the installed SDK."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from durable_ext.errors import AppLoadError
from durable_ext.functions import (
    ActivityFailure,
    FunctionKind,
    Registry,
    call_entity,
    call_orchestrator,
    is_coroutine_function,
    load_app,
    make_request,
    response_parts,
    run_activity,
    run_http,
)

BASIC_APP = Path(__file__).parent.parent / "fixtures" / "apps" / "durable_basic"

CLIENT_BINDING = {
    "taskHubName": "OtherHub",
    "connectionName": "MyStorage",
    "creationUrls": {"createNewInstancePostUri": "http://x/orchestrators/{functionName}[/{instanceId}]"},
    "managementUrls": {"id": "INSTANCEID", "statusQueryGetUri": "http://x/instances/INSTANCEID"},
    "baseUrl": "http://x",
    "requiredQueryStringParameters": "",
    "rpcBaseUrl": "http://127.0.0.1:17071/durabletask/",
    "httpBaseUrl": None,
}


def write_app(directory: Path, source: str, **modules: str) -> Path:
    """function_app.py plus extra modules (``name`` → ``name.py``, dots for packages) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "function_app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    for name, text in modules.items():
        *packages, leaf = name.split(".")
        target = directory
        for package in packages:
            target = target / package
            target.mkdir(exist_ok=True)
            (target / "__init__.py").touch()
        (target / f"{leaf}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def basic() -> Registry:
    return load_app(BASIC_APP)


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def activity(registry: Registry, name: str, input_text: str | None, executor: ThreadPoolExecutor) -> str:
    info = registry.activity(name)
    assert info is not None
    return asyncio.run(run_activity(info, input_text, executor=executor, invocation_id="inv-1"))


# --- loading and registration ---------------------------------------------------------------------


def test_basic_app_kinds_and_durable_names(basic: Registry) -> None:
    kinds = {f.function_name: f.kind for f in basic.functions}
    assert kinds == {
        "http_start": FunctionKind.HTTP,
        "HttpHello": FunctionKind.HTTP,
        "text": FunctionKind.HTTP,
        "hello_orchestrator": FunctionKind.ORCHESTRATOR,
        "say_hello": FunctionKind.ACTIVITY,
        "say_hello_async": FunctionKind.ACTIVITY,
        "echo_with_context": FunctionKind.ACTIVITY,
        "increment": FunctionKind.ACTIVITY,
        "boom": FunctionKind.ACTIVITY,
        "unserializable": FunctionKind.ACTIVITY,
        "counter_entity": FunctionKind.ENTITY,
        "tick": FunctionKind.OTHER,
    }
    assert list(kinds) == [f.function_name for f in basic.functions]  # registration order
    assert basic.orchestrator_names() == ["hello_orchestrator"]
    assert "renamedActivity" in basic.activity_names()
    assert "echo_with_context" not in basic.activity_names()
    assert basic.entity_names() == ["Counter"]
    assert basic.function("tick").trigger_type == "timerTrigger"  # type: ignore[union-attr]
    assert basic.app_dir == BASIC_APP.resolve()


def test_lookups_ignore_case(basic: Registry) -> None:
    assert basic.orchestrator("HELLO_Orchestrator") is basic.orchestrator("hello_orchestrator")
    assert basic.activity("RENAMEDACTIVITY").function_name == "echo_with_context"  # type: ignore[union-attr]
    assert basic.entity("counter").function_name == "counter_entity"  # type: ignore[union-attr]
    assert basic.activity("hello_orchestrator") is None
    assert basic.orchestrator("missing") is None


def test_http_function_details(basic: Registry) -> None:
    by_name = {f.function_name: f for f in basic.http_functions()}
    start = by_name["http_start"]
    assert start.route == "orchestrators/{functionName}"
    assert start.methods == ("POST",)
    assert start.auth_level == "ANONYMOUS"  # the app's default
    assert (start.client_binding_name, start.client_task_hub, start.client_connection_name) == (
        "client",
        "OtherHub",
        "MyStorage",
    )
    assert start.is_async and start.wants_context
    assert start.http_output_name == "$return" and start.out_binding_names == ()

    hello = by_name["HttpHello"]
    assert (hello.route, hello.methods, hello.auth_level) == ("hello", ("GET", "PUT"), "FUNCTION")
    assert hello.client_binding_name is None and not hello.is_async and not hello.wants_context

    text = by_name["text"]
    assert text.route == "text" and text.methods is None  # defaults: function name, every method
    assert json.loads(text.raw_bindings[0])["type"] == "httpTrigger"


def test_durable_wrappers_are_sync_and_take_context_positionally(basic: Registry) -> None:
    orchestrator = basic.orchestrator("hello_orchestrator")
    assert orchestrator is not None and not orchestrator.is_async and not orchestrator.wants_context
    assert orchestrator.trigger_binding_name == "context"
    assert basic.activity("say_hello_async").is_async  # type: ignore[union-attr]
    assert basic.activity("renamedActivity").wants_context  # type: ignore[union-attr]


def test_function_app_with_blueprints_and_function_name(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "bp_app",
        """
        import azure.functions as func
        from blueprints.durable import bp as durable_bp
        from plain_bp import bp as plain_bp

        app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
        app.register_functions(durable_bp)
        app.register_blueprint(plain_bp)

        @app.function_name("Renamed")
        @app.activity_trigger(input_name="x")
        def original_def_name(x):
            return x
        """,
        **{
            "blueprints.durable": """
                import azure.durable_functions as df
                bp = df.Blueprint()

                @bp.orchestration_trigger(context_name="context", orchestration="ChainOrchestrator")
                def chain(context):
                    return "done"

                @bp.entity_trigger(context_name="context")
                def Account(context):
                    pass
            """,
            "plain_bp": """
                import azure.functions as func
                bp = func.Blueprint()

                @bp.route(route="ping")
                def ping(req):
                    return "pong"

                @bp.activity_trigger(input_name="x")
                def from_func_blueprint(x):
                    return x
            """,
        },
    )
    registry = load_app(app_dir)
    assert registry.orchestrator("chainorchestrator").function_name == "chain"  # type: ignore[union-attr]
    assert registry.entity("ACCOUNT") is not None
    assert registry.activity("Renamed").function_name == "Renamed"  # type: ignore[union-attr]
    assert registry.activity("original_def_name") is None
    assert registry.activity("from_func_blueprint") is not None
    (ping,) = registry.http_functions()
    assert (ping.route, ping.auth_level) == ("ping", "FUNCTION")


def test_other_bindings_are_noted(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "bindings_app",
        """
        import azure.functions as func
        app = func.FunctionApp()

        @app.route(route="r", binding_arg_name="res")
        @app.queue_output(arg_name="msg", queue_name="q", connection="C")
        @app.blob_input(arg_name="blob", path="c/b", connection="C")
        def handler(req, res, msg, blob):
            msg.set("queued")
            res.set(func.HttpResponse(f"blob={blob}", status_code=202))
        """,
    )
    (info,) = load_app(app_dir).functions
    assert info.http_output_name == "res"
    assert set(info.out_binding_names) == {"res", "msg"}
    assert info.unserved_input_names == ("blob",)
    response = asyncio.run(
        run_http(
            info, make_request("GET", "http://h/api/r"), client_binding_json=None, executor=None, invocation_id="i"
        )
    )
    assert (response.status_code, response.get_body()) == (202, b"blob=None")


def test_module_is_kept_for_custom_classes(basic: Registry) -> None:
    import sys

    assert "shared_code.MyClasses" in sys.modules
    app_module = basic.orchestrator("hello_orchestrator").user_function.orchestrator_function.__module__  # type: ignore[union-attr]
    assert sys.modules[app_module].__file__ == str(BASIC_APP.resolve() / "function_app.py")


def test_two_apps_in_one_process_keep_their_own_modules(tmp_path: Path) -> None:
    source = """
        import azure.durable_functions as df
        from shared_code.names import NAME

        app = df.DFApp()

        @app.activity_trigger(input_name="x", activity=NAME)
        def act(x):
            return NAME
    """
    first = load_app(write_app(tmp_path / "one", source, **{"shared_code.names": "NAME = 'one'"}))
    second = load_app(write_app(tmp_path / "two", source, **{"shared_code.names": "NAME = 'two'"}))
    assert first.activity_names() == ["one"]
    assert second.activity_names() == ["two"]
    one = first.activity("one").user_function  # type: ignore[union-attr]
    two = second.activity("two").user_function  # type: ignore[union-attr]
    assert one.__module__ != two.__module__
    # Loading the same directory again gives a fresh app object (get_functions is once per app).
    assert load_app(tmp_path / "one").activity_names() == ["one"]


def test_duplicate_function_names_fail(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "dup",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.activity_trigger(input_name="x")
        def same(x):
            return x

        @app.function_name("same")
        @app.activity_trigger(input_name="x")
        def other(x):
            return x
        """,
    )
    with pytest.raises(AppLoadError, match="Function same does not have a unique function name"):
        load_app(app_dir)


def test_durable_name_collision_ignores_case(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "collide",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.activity_trigger(input_name="x")
        def Hello(x):
            return x

        @app.activity_trigger(input_name="x", activity="hello")
        def other(x):
            return x
        """,
    )
    with pytest.raises(AppLoadError, match="'Hello' and 'other' both register the activity name 'hello'"):
        load_app(app_dir)


def test_same_durable_name_in_different_kinds_is_fine(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "kinds",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.orchestration_trigger(context_name="context", orchestration="Work")
        def orch(context):
            return 1

        @app.activity_trigger(input_name="x", activity="work")
        def act(x):
            return x
        """,
    )
    registry = load_app(app_dir)
    assert registry.orchestrator("work").function_name == "orch"  # type: ignore[union-attr]
    assert registry.activity("WORK").function_name == "act"  # type: ignore[union-attr]


def test_no_app_fails(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "none", "import azure.functions as func\n")
    with pytest.raises(AppLoadError, match=r"No function app found in .*function_app.py: define app = df.DFApp\(\)"):
        load_app(app_dir)


def test_two_apps_fail_naming_both(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "two_apps",
        """
        import azure.durable_functions as df
        import azure.functions as func
        app = df.DFApp()
        other_app = func.FunctionApp()
        """,
    )
    with pytest.raises(AppLoadError, match="app, other_app"):
        load_app(app_dir)


def test_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match=r"No function_app\.py"):
        load_app(tmp_path)


def test_import_error_names_original_error_and_location(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "broken", "import os\nimport no_such_module_xyz\n")
    with pytest.raises(AppLoadError) as caught:
        load_app(app_dir)
    message = str(caught.value)
    assert "ModuleNotFoundError: No module named 'no_such_module_xyz'" in message
    assert "function_app.py:2" in message
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_error_raised_in_app_helper_points_at_helper(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "helper", "import helper\n", helper="x = 1\nraise RuntimeError('bad config')\n")
    with pytest.raises(AppLoadError, match=r"RuntimeError: bad config \(at .*helper.py:2\)"):
        load_app(app_dir)


def test_syntax_error_names_line(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "syntax", "x = 1\ndef broken(:\n")
    with pytest.raises(AppLoadError, match=r"SyntaxError: .*function_app.py:2"):
        load_app(app_dir)


# --- activities -------------------------------------------------------------------------------------


def test_sync_activity_json_input(basic: Registry, executor: ThreadPoolExecutor) -> None:
    assert activity(basic, "say_hello", '"Tokyo"', executor) == '"Hello Tokyo!"'


def test_async_activity(basic: Registry, executor: ThreadPoolExecutor) -> None:
    assert activity(basic, "SAY_HELLO_ASYNC", '"Ann"', executor) == '"Hi Ann!"'


def test_raw_string_input_when_not_json(basic: Registry, executor: ThreadPoolExecutor) -> None:
    assert activity(basic, "say_hello", "Tokyo", executor) == '"Hello Tokyo!"'


def test_none_input_and_context(basic: Registry, executor: ThreadPoolExecutor) -> None:
    result = json.loads(activity(basic, "renamedActivity", None, executor))
    assert result == {"value": None, "invocation_id": "inv-1", "function": "echo_with_context"}
    assert json.loads(activity(basic, "renamedActivity", '{"a": [1, 2]}', executor))["value"] == {"a": [1, 2]}


def test_custom_class_round_trip(executor: ThreadPoolExecutor) -> None:
    # Fresh load: another test's app with its own shared_code package may have displaced this one's.
    basic = load_app(BASIC_APP)
    payload = json.dumps(
        {"__class__": "SerializableClass", "__module__": "shared_code.MyClasses", "__data__": {"number": 5}}
    )
    assert json.loads(activity(basic, "increment", payload, executor)) == {
        "__class__": "SerializableClass",
        "__module__": "shared_code.MyClasses",
        "__data__": {"number": 6},
    }


def test_raising_activity(basic: Registry, executor: ThreadPoolExecutor) -> None:
    with pytest.raises(ActivityFailure) as caught:
        activity(basic, "boom", "null", executor)
    assert caught.value.message == "ValueError: boom"
    assert "Traceback" in caught.value.details and 'raise ValueError("boom")' in caught.value.details


def test_a_failure_traceback_starts_at_user_code_wherever_the_call_ran(
    basic: Registry, executor: ThreadPoolExecutor
) -> None:
    # The runtime's frames above the user's differ between a user thread and the loop's thread
    # (dispatcher.inline): left in, the same failure wrote different TaskFailed details.
    info = basic.activity("boom")
    assert info is not None

    async def on_loop(call):
        return call()

    details = []
    for call in (None, on_loop):
        with pytest.raises(ActivityFailure) as caught:
            asyncio.run(run_activity(info, "null", executor=executor, invocation_id="inv-1", call=call))
        details.append(caught.value.details)
    assert details[0] == details[1]
    first_frame = details[0].splitlines()[1]
    assert first_frame.strip().startswith('File "') and "durable_ext" not in first_frame, details[0]
    assert 'raise ValueError("boom")' in details[0]


def test_a_failure_of_the_runtimes_own_conversion_keeps_its_frames(
    basic: Registry, executor: ThreadPoolExecutor
) -> None:
    with pytest.raises(ActivityFailure) as caught:
        activity(basic, "unserializable", "null", executor)
    assert "invoke.py" in caught.value.details and "encode_activity_output" in caught.value.details


def test_unserializable_result(basic: Registry, executor: ThreadPoolExecutor) -> None:
    with pytest.raises(ActivityFailure, match="ValueError: activity trigger output must be json serializable"):
        activity(basic, "unserializable", "null", executor)


def test_undecodable_custom_class_input(basic: Registry, executor: ThreadPoolExecutor) -> None:
    payload = json.dumps({"__class__": "Nope", "__module__": "not_loaded_module_xyz", "__data__": {}})
    with pytest.raises(ActivityFailure, match="ValueError: activity trigger input must be a string or a valid json"):
        activity(basic, "say_hello", payload, executor)


# --- orchestrators and entities ---------------------------------------------------------------------


def orchestration_context(input_value: Any) -> str:
    stamp = "2024-05-01T10:00:00.123456Z"
    return json.dumps(
        {
            "history": [
                {"EventType": 12, "EventId": -1, "IsPlayed": False, "Timestamp": stamp},
                {
                    "EventType": 0,
                    "EventId": -1,
                    "IsPlayed": False,
                    "Timestamp": stamp,
                    "OrchestrationInstance": {"InstanceId": "inst1", "ExecutionId": "exec1"},
                    "ParentInstance": None,
                    "Name": "hello_orchestrator",
                    "Version": "",
                    "Input": json.dumps(input_value),
                    "Tags": None,
                },
            ],
            "input": input_value,
            "instanceId": "inst1",
            "isReplaying": False,
            "parentInstanceId": None,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": None,
            "maximumShortTimerDuration": None,
        }
    )


def test_orchestrator_round_trip(basic: Registry) -> None:
    info = basic.orchestrator("hello_orchestrator")
    assert info is not None
    state = json.loads(call_orchestrator(info, orchestration_context('"Tokyo"')))
    assert state["isDone"] is False
    assert state["schemaVersion"] == 2
    assert state["actions"] == [[{"actionType": 0, "functionName": "say_hello", "input": '"Tokyo"'}]]


def test_orchestrator_failure_propagates_with_state(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "failing_orch",
        """
        import azure.durable_functions as df
        app = df.DFApp()

        @app.orchestration_trigger(context_name="context")
        def hello_orchestrator(context):
            raise RuntimeError("orchestrator broke")
            yield
        """,
    )
    info = load_app(app_dir).orchestrator("hello_orchestrator")
    assert info is not None
    with pytest.raises(Exception, match="orchestrator broke") as caught:
        call_orchestrator(info, orchestration_context(None))
    state = json.loads(str(caught.value).rsplit("\n\n$OutOfProcData$:", 1)[1])
    assert state["error"] == "orchestrator broke"


def test_entity_batch(basic: Registry) -> None:
    info = basic.entity("counter")
    assert info is not None
    batch = {
        "self": {"name": "counter", "key": "k1"},
        "exists": True,
        "state": "5",
        "batch": [{"name": "add", "input": json.dumps("3"), "isSignal": False}],
    }
    result = json.loads(call_entity(info, json.dumps(batch)))
    assert result["entityExists"] is True
    assert result["entityState"] == "8"
    assert [(r["isError"], r["result"]) for r in result["results"]] == [(False, "8")]


# --- HTTP -------------------------------------------------------------------------------------------


def test_sync_plain_http(basic: Registry, executor: ThreadPoolExecutor) -> None:
    info = basic.function("HttpHello")
    assert info is not None
    request = make_request("GET", "http://localhost:7071/api/hello?name=Ann", params={"name": "Ann"})
    response = asyncio.run(run_http(info, request, client_binding_json=None, executor=executor, invocation_id="i"))
    parts = response_parts(response)
    assert parts.status == 201
    assert parts.body == b"Hello Ann"
    assert ("Content-Type", "text/plain; charset=utf-8") in parts.headers


def test_str_return_becomes_text_response(basic: Registry, executor: ThreadPoolExecutor) -> None:
    info = basic.function("text")
    assert info is not None
    response = asyncio.run(
        run_http(
            info,
            make_request("GET", "http://h/api/text"),
            client_binding_json=None,
            executor=executor,
            invocation_id="i",
        )
    )
    assert (response.status_code, response.get_body(), response.mimetype) == (200, b"plain", "text/plain")


def test_async_durable_client_http(basic: Registry, executor: ThreadPoolExecutor) -> None:
    info = basic.function("http_start")
    assert info is not None
    request = make_request(
        "post",
        "http://localhost:7071/api/orchestrators/hello_orchestrator",
        route_params={"functionName": "hello_orchestrator"},
        body=b'{"a": 1}',
    )
    response = asyncio.run(
        run_http(
            info, request, client_binding_json=json.dumps(CLIENT_BINDING), executor=executor, invocation_id="inv-42"
        )
    )
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {
        "task_hub": "OtherHub",
        "rpc_base_url": "http://127.0.0.1:17071/durabletask/",
        "client_invocation_id": "inv-42",
        "function_name": "http_start",
        "route_function": "hello_orchestrator",
    }


def test_client_binding_required(basic: Registry) -> None:
    info = basic.function("http_start")
    assert info is not None
    with pytest.raises(ValueError, match="durable client binding"):
        asyncio.run(
            run_http(info, make_request("POST", "http://h"), client_binding_json=None, executor=None, invocation_id="i")
        )


def test_http_return_values(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "returns",
        """
        import azure.functions as func
        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="dict")
        async def as_dict(req):
            return {"ok": True}

        @app.route(route="none")
        def as_none(req):
            return None

        @app.route(route="fail")
        async def fail(req):
            raise KeyError("nope")
        """,
    )
    registry = load_app(app_dir)

    def call(name: str) -> Any:
        info = registry.function(name)
        assert info is not None
        return asyncio.run(
            run_http(info, make_request("GET", "http://h"), client_binding_json=None, executor=None, invocation_id="i")
        )

    response = call("as_dict")
    assert (response.status_code, json.loads(response.get_body()), response.mimetype) == (
        200,
        {"ok": True},
        "application/json",
    )
    with pytest.raises(TypeError, match="returned NoneType"):
        call("as_none")
    with pytest.raises(KeyError):
        call("fail")


def test_is_coroutine_function_sees_through_wrappers() -> None:
    import functools

    async def target(x: int) -> int:
        return x

    def sync(x: int) -> int:
        return x

    @functools.wraps(target)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return target(*args, **kwargs)

    class AsyncCallable:
        async def __call__(self) -> None:
            return None

    assert is_coroutine_function(target)
    assert is_coroutine_function(wrapper)
    assert is_coroutine_function(functools.partial(target, 1))
    assert is_coroutine_function(AsyncCallable())
    assert not is_coroutine_function(sync)
    assert not is_coroutine_function(functools.wraps(sync)(lambda: None))
