"""An OTLP/HTTP trace receiver on loopback (the e2e tracing test and bench/bench.py --tracing compare).

It decodes each ``ExportTraceServiceRequest`` (opentelemetry-proto) and keeps the spans in memory.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_service

# opentelemetry.proto.trace.v1.Span.SpanKind
SERVER, CLIENT, PRODUCER = 2, 3, 4


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each ExportTraceServiceRequest, keeps its spans."""

    def __init__(self, keep: bool = True) -> None:
        self.spans: list = []
        self.count = 0  # spans received (kept or not)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = trace_service.ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            receiver.count += len(scope.spans)
                            if keep:
                                receiver.spans.extend(scope.spans)
                reply = trace_service.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def named(self, name: str, kind: int | None = None) -> list:
        with self.lock:
            return [s for s in self.spans if s.name == name and (kind is None or s.kind == kind)]

    def wait_for(self, name: str, kind: int, host: Any, timeout: float = 60.0):
        """The first span named ``name`` of ``kind``; ``host`` (anything with ``log()``) explains a miss."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(name, kind)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {name} span arrived; got {[s.name for s in self.spans]}\n{host.log()[-3000:]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
