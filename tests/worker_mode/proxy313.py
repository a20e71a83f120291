"""The gRPC half of the Python 3.13+ worker, for tests: forwards the host's stream to azure-functions-runtime.

On Python 3.13 and later the Functions host starts ``proxy_worker``, a thin gRPC forwarder that hands
each ``StreamingMessage`` to the library ``azure_functions_runtime`` (PyPI) and sends back what it
returns (Azure/azure-functions-python-worker ``workers/proxy_worker/dispatcher.py``). That forwarder is
not published on PyPI, so this project-owned stand-in plays it: same command line as the host uses,
``StartStream`` first, then init / metadata / load / invocation requests each awaited on the library
with ``WorkerRequest(name, request, properties={"protos", "host"})``, and the process's log records
sent back as ``RpcLog`` messages. The library does the real work: indexing the app (through the entry
module), validating and invoking functions.

usage: python proxy313.py <protos-dir> --host H --port P --workerId W --requestId R [...]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import queue
import sys
import threading
from dataclasses import dataclass
from typing import Any

SCRIPT_ROOT_SETTING = "AzureWebJobsScriptRoot"
_HANDLERS = {
    "worker_init_request": ("worker_init_request", "worker_init_response"),
    "functions_metadata_request": ("functions_metadata_request", "function_metadata_response"),
    "function_load_request": ("function_load_request", "function_load_response"),
    "invocation_request": ("invocation_request", "invocation_response"),
    "function_environment_reload_request": (
        "function_environment_reload_request",
        "function_environment_reload_response",
    ),
}


@dataclass
class WorkerRequest:
    """What proxy_worker hands the library: the message's name, the message, and shared properties."""

    name: str
    request: Any
    properties: dict[str, Any] | None = None


class _RpcLogHandler(logging.Handler):
    def __init__(self, send: Any, protos: Any) -> None:
        super().__init__(logging.INFO)
        self.send = send
        self.protos = protos

    def emit(self, record: logging.LogRecord) -> None:
        level = {logging.ERROR: 4, logging.WARNING: 3, logging.INFO: 2}.get(record.levelno, 1)
        try:
            log = self.protos.RpcLog(message=record.getMessage(), level=level, category=record.name)
        except Exception:
            return
        self.send(rpc_log=log)


def main() -> None:
    protos_dir = sys.argv[1]
    parser = argparse.ArgumentParser()
    for name in (
        "--host",
        "--port",
        "--workerId",
        "--requestId",
        "--grpcMaxMessageLength",
        "--functions-uri",
        "--functions-worker-id",
        "--functions-request-id",
        "--functions-grpc-max-message-length",
    ):
        parser.add_argument(name)
    args = parser.parse_args(sys.argv[2:])
    sys.path.insert(0, protos_dir)
    # As proxyV4/worker.py does: the app's root is importable (the entry module, the user's module).
    script_root = os.environ.get(SCRIPT_ROOT_SETTING)
    if script_root:
        sys.path.append(script_root)

    import azure_functions_runtime as runtime
    import grpc
    from azure_functions_worker import protos

    outbox: queue.Queue = queue.Queue()

    def send(**content: Any) -> None:
        outbox.put(protos.StreamingMessage(request_id=args.requestId, **content))

    def outgoing() -> Any:
        while (message := outbox.get()) is not None:
            yield message

    channel = grpc.insecure_channel(f"{args.host}:{args.port}")
    stream = protos.FunctionRpcStub(channel).EventStream(outgoing())
    send(start_stream=protos.StartStream(worker_id=args.workerId))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(_RpcLogHandler(send, protos))
    properties = {"protos": protos, "host": args.host}

    async def handle(message: Any) -> None:
        content = message.WhichOneof("content")
        if content not in _HANDLERS:
            return
        handler_name, reply = _HANDLERS[content]
        handler = getattr(runtime, handler_name, None)
        if handler is None:
            return
        response = await handler(WorkerRequest(content, message, properties))
        send(**{reply: response})

    async def serve() -> None:
        runtime.start_threadpool_executor()
        loop = asyncio.get_running_loop()
        incoming: asyncio.Queue = asyncio.Queue()

        def read() -> None:
            try:
                for message in stream:
                    loop.call_soon_threadsafe(incoming.put_nowait, message)
            finally:
                loop.call_soon_threadsafe(incoming.put_nowait, None)

        # Named as proxy_worker names its stream thread: durable_ext watches it to stop with the stream.
        threading.Thread(target=read, name="grpc_local-thread", daemon=True).start()
        tasks = set()
        while (message := await incoming.get()) is not None:
            if message.WhichOneof("content") == "invocation_request":
                task = asyncio.create_task(handle(message))  # invocations run concurrently, as in the worker
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            else:
                await handle(message)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
