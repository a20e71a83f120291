"""durable_ext's engine inside the Python worker process: its own thread, its own event loop.

The worker's event loop belongs to the worker (its gRPC stream, the app's async functions); the engine
gets a daemon thread with a loop of its own, so neither can starve the other's scheduling decisions and
the engine never depends on the worker's task factory. On that loop run the dispatcher loops (the same
:class:`~durable_ext.engine.Engine` as ``durable_ext start``) and a loopback aiohttp site serving only
the built-in HTTP API, at the public path the Functions host routes to the webhook function. The SDK
client's own calls (``rpcBaseUrl``) go straight to that site and never leave the process's machine.

Requests the host routes to the webhook function are forwarded to the loopback site with the public
scheme and host, which the site trusts only from a request carrying this process's random token, so
the links it answers with (``statusQueryGetUri``, ``Location``) are the public ones.

Stopping. The host sends no shutdown signal these workers act on: it sends ``WorkerTerminate`` only to a
worker that declares the ``HandlesWorkerTerminateMessage`` capability (``GrpcWorkerChannel.StopWorkerProcess``),
which neither the 4.x worker nor ``azure-functions-runtime`` does, and then kills the process (SIGKILL).
Nothing acknowledged is lost then; unfinished work is retried once its locks expire, or at once by a
worker on the same machine that sees the killed process gone (see README "Deploy as a function app").
What the engine does notice, it answers with :meth:`WorkerRuntime.stop` — stop taking work, let running
work finish for ``shutdown_grace`` seconds, hand every lock and lease back, close the hub, end the thread,
all within ``STOP_TIMEOUT``:

* the end of the worker's stream to the host (the worker's gRPC thread ends: the host closed the stream
  or went away). A worker without a host would otherwise go on running orchestrations nobody can see;
* interpreter exit (before the user-code threads are joined: a running activity does not hold it up).
"""

from __future__ import annotations

import asyncio
import atexit
import hmac
import os
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from yarl import URL

from durable_ext.config import HostConfig
from durable_ext.engine import Engine
from durable_ext.functions.http import ResponseParts
from durable_ext.functions.registry import Registry
from durable_ext.functions.reported import IncomingRequest
from durable_ext.log import logger
from durable_ext.web.links import LinkSettings, client_binding_json

FORWARD_TOKEN_HEADER = "x-durable-ext-forward"
_FORWARDED_PROTO = "x-forwarded-proto"
_FORWARDED_HOST = "x-forwarded-host"
#: How long a function call waits for the engine to come up before failing.
READY_TIMEOUT = 60.0
#: The most :meth:`WorkerRuntime.stop` waits for the engine thread (grace for running work, handing
#: locks and leases back, closing the hub).
STOP_TIMEOUT = 30.0
#: The thread that reads the worker's stream from the host: ``grpc-thread`` in the 4.x worker
#: (``azure_functions_worker/dispatcher.py``), ``grpc_local-thread`` in the 3.13+ ``proxy_worker``.
STREAM_THREAD_NAMES = ("grpc-thread", "grpc_local-thread")
# Request headers the API's handlers read; the rest (auth, cookies, …) stay behind.
_FORWARDED_REQUEST_HEADERS = frozenset({"content-type", "accept", "x-ms-continuation-token"})
_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "server"})


class WorkerRuntime:
    """Starts the engine thread; answers the webhook function and supplies client bindings."""

    def __init__(self, config: HostConfig, registry: Registry, links: LinkSettings) -> None:
        self.config = config
        self.registry = registry
        self.links = links
        self.engine = Engine(config, registry, owns_client_session=False)
        self._token = secrets.token_urlsafe(32)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._stop_lock = threading.Lock()
        self._stopping = False
        self.stopped = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, *, watch_stream: bool = True) -> None:
        """Start the engine thread; stop it at interpreter exit and (``watch_stream``) when the worker's
        stream to the host ends."""
        self._thread = threading.Thread(target=self._run, name="durable-ext-engine", daemon=True)
        self._thread.start()
        _at_exit(self.stop)
        if watch_stream:
            self._watch_stream()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the engine and wait for its thread; any thread, any number of times.

        Returns True when the thread has ended within ``timeout`` (work that outlives the grace period
        is not lost: its locks are handed back, or expire).
        """
        with self._stop_lock:
            if not self._stopping:
                self._stopping = True
                if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
                    self._loop.call_soon_threadsafe(self._stop_event.set)
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _watch_stream(self) -> None:
        stream = next((t for t in threading.enumerate() if t.name in STREAM_THREAD_NAMES and t.is_alive()), None)
        if stream is None:
            logger.debug("No worker stream thread found; durable_ext stops at interpreter exit only.")
            return

        def watch() -> None:
            stream.join()
            logger.info("The worker's stream to the Functions host ended: stopping durable_ext.")
            self.stop()

        threading.Thread(target=watch, name="durable-ext-stream-watch", daemon=True).start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with self._stop_lock:
            self._loop = loop
            self._stop_event = asyncio.Event()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            logger.exception("durable_ext could not start in the worker")
        finally:
            self._ready.set()
            self.stopped.set()
            loop.close()

    async def _serve(self) -> None:
        assert self._stop_event is not None
        await self.engine.open()
        app = self.engine.web_app(serve_functions=False, links=self.links, middlewares=[self._trust_forwarded])
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self.engine.start_dispatchers()
        logger.info(
            "durable_ext is running in worker process %d: task hub '%s', built-in API at %s",
            os.getpid(),
            self.config.hub_name,
            self.links.webhook_path,
        )
        self._ready.set()
        with self._stop_lock:
            if self._stopping:
                self._stop_event.set()
        await self._stop_event.wait()
        try:
            await self.engine.close()  # grace for running work, locks and leases handed back, hub closed
        finally:
            await runner.cleanup()
        logger.info("durable_ext stopped in worker process %d; its work is handed back to the hub.", os.getpid())

    async def wait_ready(self) -> None:
        """Return once the engine serves; raise RuntimeError if it failed to start, takes too long or
        has stopped (the worker is going away: the host fails the invocation, the caller retries)."""
        if not self._ready.is_set():
            ready = await asyncio.to_thread(self._ready.wait, READY_TIMEOUT)
            if not ready:
                raise RuntimeError(f"durable_ext did not start within {READY_TIMEOUT:g} s")
        if self._error is not None:
            raise RuntimeError(f"durable_ext failed to start: {self._error}") from self._error
        if self._stopping or self.stopped.is_set():
            raise RuntimeError("durable_ext has stopped in this worker process (the worker is shutting down)")

    @property
    def loopback(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    # -- what the reported functions call ----------------------------------------------------------

    async def client_binding(self, function_name: str, origin: str | None) -> str:
        """The durableClient JSON for ``function_name``: public links, loopback ``rpcBaseUrl``."""
        await self.wait_ready()
        info = self.registry.function(function_name)
        return client_binding_json(
            origin or _public_origin(),
            self.config,
            info,
            links=self.links,
            rpc_base_url=f"{self.loopback}{self.links.webhook_path}/",
        )

    async def forward(self, request: IncomingRequest) -> ResponseParts:
        """Answer a request the host routed to the webhook function, through the built-in API's handlers."""
        await self.wait_ready()
        public = URL(request.url, encoded=True)
        # Path and query exactly as the caller encoded them (``with_query`` would encode ``%`` again, and a
        # ``code=`` with escapes would come back double-encoded in ``Location``).
        query = f"?{public.raw_query_string}" if public.raw_query_string else ""
        target = URL(f"{self.loopback}{public.raw_path}{query}", encoded=True)
        headers = {name: value for name, value in request.headers if name.lower() in _FORWARDED_REQUEST_HEADERS}
        headers[FORWARD_TOKEN_HEADER] = self._token
        headers[_FORWARDED_PROTO] = public.scheme or "http"
        headers[_FORWARDED_HOST] = public.raw_authority or "localhost"
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method, target, data=request.body or None, headers=headers, allow_redirects=False
            ) as response,
        ):
            body = await response.read()
            kept = [(k, v) for k, v in response.headers.items() if k.lower() not in _DROPPED_RESPONSE_HEADERS]
            return ResponseParts(status=response.status, headers=kept, body=body)

    @web.middleware
    async def _trust_forwarded(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        token = request.headers.get(FORWARD_TOKEN_HEADER)
        if token is not None and hmac.compare_digest(token.encode(), self._token.encode()):
            request = request.clone(
                scheme=request.headers.get(_FORWARDED_PROTO, "http"),
                host=request.headers.get(_FORWARDED_HOST, request.host),
            )
        return await handler(request)


def _at_exit(callback: Callable[[], object]) -> None:
    """Run ``callback`` at interpreter exit *before* the ThreadPoolExecutor threads are joined.

    ``concurrent.futures`` joins its threads from a ``threading._register_atexit`` hook, which runs
    before ``atexit``: a long activity would hold a plain ``atexit`` hook (and the hand-back of every
    lock) until it ended. These hooks run last-registered first, so ours runs before that join. Falls
    back to ``atexit`` where the private hook is missing.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(callback)
            return
        except RuntimeError:  # the interpreter is already shutting down
            return
    atexit.register(callback)


def _public_origin() -> str:
    """The app's own origin for links made outside an HTTP request (timer starters).

    The platform (and ``func start``) sets ``WEBSITE_HOSTNAME``; HTTPS except on a local host.
    """
    hostname = os.environ.get("WEBSITE_HOSTNAME", "").strip()
    if not hostname:
        return "http://localhost"
    local = hostname.split(":")[0] in ("localhost", "127.0.0.1")
    return f"{'http' if local else 'https'}://{hostname}"
