"""A stand-in for the Azure Functions host's side of ``FunctionRpc.EventStream``, owned by this project.

The real host (``GrpcWorkerChannel``) starts the language worker as a process pointed at its gRPC
server, waits for ``StartStream``, sends ``WorkerInitRequest``, ``FunctionsMetadataRequest``, one
``FunctionLoadRequest`` per reported function, then an ``InvocationRequest`` per trigger firing. This
class does the same with one worker process, and routes HTTP requests to the reported HTTP functions
the way the host does (``/<routePrefix>/<route>`` templates, methods), so tests drive an app only
through invocations of what the worker reported. The messages follow the host's source
(Azure/azure-functions-host 89dc438, 4.1037.0):

* ``WorkerInitRequest`` as ``GrpcWorkerChannel.SendWorkerInitRequest`` builds it: host version, worker
  directory, app directory, and the host's one capability ``MultiStream``;
* each ``FunctionLoadRequest`` as ``GetFunctionLoadRequest`` builds it from the host's own metadata (name,
  directory, entry point, script file, properties, and ``bindings`` from the raw bindings), not the worker's
  metadata echoed back; each ``InvocationRequest`` with a W3C ``trace_context``;
* each HTTP ``InvocationRequest``'s ``RpcHttp`` as ``GrpcMessageConversionExtensions.ToRpcHttp`` builds it
  for a worker without the HTTP proxy capability: full URL with the query, method, lower-cased headers,
  non-empty query values, route values as ``params``, the caller's identities, and the body as bytes when
  the worker declared ``RawHttpBodyBytes`` (both Python workers do), else as a string;
* keys, when the host is given ``keys`` (as in Azure, where secrets are enabled; ``func start`` checks
  none): a function of auth level ``function`` or ``admin`` is invoked only for a key from the
  ``x-functions-key`` header or the ``code`` query that grants exactly that level or Admin — a system key
  opens no function — else the answer is 401 (``AuthenticationLevelHandler``, ``AuthUtility``,
  ``FunctionInvocationMiddleware``); a matched key becomes a ``WebJobsAuthLevel`` claims identity.

Not modelled: scaling, the HTTP proxy of the streaming extensions, retries and timeouts of invocations,
and anything the host does outside the stream. The worker never exits on its own (the host kills it), so
``close()`` and ``kill()`` send SIGKILL.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import grpc

from durable_ext.auth.keys import AuthLevel, Keys
from durable_ext.web.routes import compile_route, sort_by_precedence
from durable_ext.worker import AZURE_MARKERS

HOST_VERSION = "4.1037.0"
ROOT = Path(__file__).resolve().parents[2]
_END = object()
#: Claim types of a key-authenticated request (``SecurityConstants``).
AUTH_LEVEL_CLAIM = "http://schemas.microsoft.com/2017/07/functions/claims/authlevel"
INVOKE_CLAIM = "http://schemas.microsoft.com/2017/07/functions/claims/invoke"


@dataclass
class Reported:
    """One function as the worker reported it, with the host's view of its bindings."""

    name: str
    function_id: str
    bindings: list[dict]
    metadata: Any

    @property
    def trigger(self) -> dict:
        return next(b for b in self.bindings if b["type"].endswith("Trigger"))


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes
    logs: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


class MockHost:
    """One gRPC server and one worker process; see the module docstring."""

    def __init__(self, protos: Any, keys: Keys | None = None) -> None:
        self.p = protos
        self.keys = keys
        self.worker_capabilities: dict[str, str] = {}
        self.worker_directory = ""
        self.worker_id = str(uuid.uuid4())
        self.request_id = str(uuid.uuid4())
        self.logs: list[Any] = []
        self.functions: dict[str, Reported] = {}
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._outbox: queue.Queue = queue.Queue()
        self._replies: queue.Queue = queue.Queue()
        self._pending: dict[str, futures.Future] = {}
        self._lock = threading.Lock()
        self._routes: list[tuple[Any, Reported]] = []
        self._route_prefix = "api"
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
        )
        protos.add_FunctionRpcServicer_to_server(_Servicer(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    # -- the worker process ------------------------------------------------------------------------

    def start_worker(self, app_dir: Path, argv: list[str], env: dict[str, str], timeout: float = 60) -> None:
        """Start ``argv`` (the worker's launcher) as the host does, wait for StartStream, then init."""
        args = [
            *argv,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--workerId", self.worker_id,
            "--requestId", self.request_id,
            "--grpcMaxMessageLength", "2147483647",
            "--functions-uri", f"http://127.0.0.1:{self.port}/",
            "--functions-worker-id", self.worker_id,
            "--functions-request-id", self.request_id,
            "--functions-grpc-max-message-length", "2147483647",
        ]  # fmt: skip
        # The host's workerDirectory: where the worker's launcher script lives.
        self.worker_directory = str(Path(next((a for a in argv if a.endswith(".py")), argv[-1])).parent)
        self.log_path = app_dir / f"worker-{self.worker_id[:8]}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(args, cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
        start = self._expect("start_stream", timeout)
        assert start.worker_id == self.worker_id, start

    def init(self, app_dir: Path, timeout: float = 60) -> Any:
        self._send(
            worker_init_request=self.p.WorkerInitRequest(
                host_version=HOST_VERSION,
                worker_directory=self.worker_directory,
                function_app_directory=str(app_dir),
                capabilities={"MultiStream": "10"},
            )
        )
        response = self._expect("worker_init_response", timeout)
        self.worker_capabilities = dict(response.capabilities)
        return response

    def index(self, app_dir: Path, route_prefix: str = "api", timeout: float = 120) -> Any:
        """FunctionsMetadataRequest, then a FunctionLoadRequest per reported function."""
        self._route_prefix = route_prefix
        self._send(functions_metadata_request=self.p.FunctionsMetadataRequest(function_app_directory=str(app_dir)))
        response = self._expect("function_metadata_response", timeout)
        if response.result.status != self.p.StatusResult.Success:
            return response
        for md in response.function_metadata_results:
            bindings = [json.loads(raw) for raw in md.raw_bindings]
            self.functions[md.name] = Reported(md.name, md.function_id, bindings, md)
        for reported in self.functions.values():
            self._send(function_load_request=self._load_request(reported, app_dir))
            loaded = self._expect("function_load_response", timeout)
            assert loaded.result.status == self.p.StatusResult.Success, (reported.name, loaded.result.exception.message)
        self._build_routes()
        return response

    def _load_request(self, reported: Reported, app_dir: Path) -> Any:
        """``FunctionLoadRequest`` as ``GrpcWorkerChannel.GetFunctionLoadRequest`` builds it: the host's own
        metadata (built from the raw bindings only), not the worker's message echoed back."""
        md = reported.metadata
        metadata = self.p.RpcFunctionMetadata(
            name=md.name,
            directory=md.directory or str(app_dir),
            entry_point=md.entry_point,
            script_file=md.script_file,
            is_proxy=False,
            properties=dict(md.properties),
        )
        for binding in reported.bindings:
            direction = {"in": 0, "out": 1, "inout": 2}[str(binding.get("direction", "in")).lower()]
            data_type = {"string": 1, "binary": 2, "stream": 3}.get(str(binding.get("dataType", "")).lower(), 0)
            info = metadata.bindings[binding["name"]]
            info.type, info.direction, info.data_type = binding["type"], direction, data_type
        return self.p.FunctionLoadRequest(function_id=reported.function_id, metadata=metadata)

    def kill(self) -> None:
        """SIGKILL, as the host does when it recycles or stops a worker."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def close_stream(self) -> None:
        """End the worker's stream (the RPC completes), leaving the process running: what the worker
        sees when its host goes away (the real host closes it only by exiting; it stops workers by killing
        them, after a ``WorkerTerminate`` only to workers declaring ``HandlesWorkerTerminateMessage``)."""
        self._outbox.put(_END)

    def close(self) -> None:
        self.kill()
        self._outbox.put(_END)
        self._server.stop(1)

    def worker_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def rpc_log_text(self) -> str:
        return "\n".join(f"[{log.level}] {log.message}" for log in list(self.logs))

    # -- invocations ---------------------------------------------------------------------------------

    def invoke(self, name: str, input_data: list[Any], timeout: float = 120) -> Any:
        invocation_id = str(uuid.uuid4())
        future: futures.Future = futures.Future()
        with self._lock:
            self._pending[invocation_id] = future
        request = self.p.InvocationRequest(
            invocation_id=invocation_id, function_id=self.functions[name].function_id, input_data=input_data
        )
        # The host's Activity for the invocation (W3C traceparent), as ToRpcInvocationRequest sends it.
        request.trace_context.trace_parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        self._send(invocation_request=request)
        return future.result(timeout)

    def http(
        self, method: str, url: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> HttpResult:
        """Route ``url`` (absolute, as a client would call the app) to a reported HTTP function and invoke it.

        404 when no reported function serves it, as the host answers.
        """
        parts = urlsplit(url)
        found = self._match(method, parts.path)
        if found is None:
            return HttpResult(404, {}, b"")
        reported, route_values = found
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        identity = None
        if self.keys is not None:
            allowed, identity = self._authorize(reported, lowered.get("x-functions-key") or query.get("code"))
            if not allowed:
                return HttpResult(401, {}, b"")
        data = body.encode() if isinstance(body, str) else body
        http = self.p.RpcHttp(
            method=method.upper(), url=url, headers=lowered,
            query={k: v for k, v in query.items() if v}, params=route_values,
        )  # fmt: skip
        if identity is not None:  # the message classes are not exported by the protos package: add in place
            added = http.identities.add()
            added.authentication_type.value = "WebJobsAuthLevel"
            for claim_type, value in identity:
                claim = added.claims.add()
                claim.type, claim.value = claim_type, value
        if data:
            raw = "RawHttpBodyBytes" in self.worker_capabilities
            http.body.CopyFrom(self.p.TypedData(bytes=data) if raw else self.p.TypedData(string=data.decode()))
        trigger = reported.trigger["name"]
        response = self.invoke(reported.name, [self.p.ParameterBinding(name=trigger, data=self.p.TypedData(http=http))])
        if response.result.status != self.p.StatusResult.Success:
            # The host answers 500 when the function fails.
            return HttpResult(500, {}, response.result.exception.message.encode())
        return _http_result(self._http_output(reported, response))

    def _authorize(self, reported: Reported, presented: str | None) -> tuple[bool, list[tuple[str, str]] | None]:
        """The host's key check for one function: (allowed, the claims of the key's identity or None)."""
        assert self.keys is not None
        required = AuthLevel.of_function(reported.trigger.get("authLevel"))
        granted = self.keys.level_of(presented, reported.name)
        identity = None
        if granted is not AuthLevel.ANONYMOUS:
            level = {AuthLevel.FUNCTION: "Function", AuthLevel.SYSTEM: "System", AuthLevel.ADMIN: "Admin"}[granted]
            identity = [(AUTH_LEVEL_CLAIM, level), (INVOKE_CLAIM, "true")]
        allowed = required is AuthLevel.ANONYMOUS or granted is AuthLevel.ADMIN or granted is required
        return allowed, identity

    def _http_output(self, reported: Reported, response: Any) -> Any:
        output = next(b for b in reported.bindings if b["type"] == "http" and b["direction"].lower() == "out")
        if output["name"] == "$return":
            return response.return_value
        return next(b.data for b in response.output_data if b.name == output["name"])

    def _build_routes(self) -> None:
        http = [r for r in self.functions.values() if r.trigger["type"] == "httpTrigger"]
        compiled = [(compile_route(r.trigger.get("route") or r.name, self._route_prefix), r) for r in http]
        order = sort_by_precedence([template for template, _ in compiled])
        self._routes = [compiled[i] for i in order]

    def _match(self, method: str, path: str) -> tuple[Reported, dict[str, str]] | None:
        for template, reported in self._routes:
            methods = [m.upper() for m in reported.trigger.get("methods") or []]
            if methods and method.upper() not in methods:
                continue
            values = template.match(path)
            if values is not None:
                return reported, values
        return None

    # -- the stream ------------------------------------------------------------------------------------

    def _send(self, **content: Any) -> None:
        self._outbox.put(self.p.StreamingMessage(request_id=self.request_id, **content))

    def _expect(self, kind: str, timeout: float) -> Any:
        try:
            message = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind} from the worker in {timeout:g} s:\n{self.worker_log()[-4000:]}") from None
        if isinstance(message, BaseException):
            raise AssertionError(f"worker stream ended: {message!r}\n{self.worker_log()[-4000:]}")
        content = message.WhichOneof("content")
        assert content == kind, f"expected {kind}, got {content}: {getattr(message, content)}"
        return getattr(message, content)

    def _received(self, message: Any) -> None:
        content = message.WhichOneof("content")
        if content == "rpc_log":
            self.logs.append(message.rpc_log)
        elif content == "invocation_response":
            with self._lock:
                future = self._pending.pop(message.invocation_response.invocation_id, None)
            if future is not None:
                future.set_result(message.invocation_response)
        else:
            self._replies.put(message)


class _Servicer:
    """``FunctionRpcServicer.EventStream``: one stream per worker process."""

    def __init__(self, host: MockHost) -> None:
        self.host = host

    def EventStream(self, request_iterator: Any, context: Any) -> Any:
        def read() -> None:
            try:
                for message in request_iterator:
                    self.host._received(message)
            except Exception as exc:  # the worker went away
                self.host._replies.put(exc)

        threading.Thread(target=read, name="mockhost-read", daemon=True).start()
        while (message := self.host._outbox.get()) is not _END:
            yield message

    # The generated servicer base class is not needed: grpc only looks the method up by name.


def _http_result(data: Any) -> HttpResult:
    http = data.http
    body = http.body
    kind = body.WhichOneof("data")
    raw = b"" if kind is None else getattr(body, kind)
    raw = raw.encode() if isinstance(raw, str) else raw
    return HttpResult(int(http.status_code or "200"), dict(http.headers), raw)


def worker_env(app_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the host gives the worker: app settings plus what it sets itself.

    The platform's markers (``CONTAINER_NAME`` is also set by some container runtimes, this CI's
    included) are left out unless ``extra`` sets them: tests choose whether the worker is "in Azure".
    """
    env = {k: v for k, v in os.environ.items() if k not in AZURE_MARKERS and not k.startswith("PYTEST")}
    settings_path = app_dir / "local.settings.json"
    if settings_path.exists():
        env.update(json.loads(settings_path.read_text()).get("Values", {}))
    env.update(
        {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "AzureWebJobsScriptRoot": str(app_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def default_python() -> str:
    return sys.executable
