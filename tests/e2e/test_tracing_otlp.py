"""OTLP/HTTP from the real host to a receiver this test runs on loopback, through a SIGKILL.

The host is configured the standard way (``OTEL_EXPORTER_OTLP_ENDPOINT``). An approval workflow
(samples/human_interaction) is started over HTTP; once its first activity's spans have arrived — it
then waits for the external event — the host is killed with SIGKILL and started again on the same
hub (SQLite, and Azure Storage on Azurite: the context travels in the History table's rows and the
queue messages). The event finishes it, and the spans the second process sends continue the first process's
trace: same trace id, the orchestration span keeps the id history gave it before the kill.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_service

from tests.e2e.hostproc import HostProcess

# opentelemetry.proto.trace.v1.Span.SpanKind
SERVER, CLIENT, PRODUCER = 2, 3, 4


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each ExportTraceServiceRequest, keeps its spans."""

    def __init__(self) -> None:
        self.spans: list = []
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

    def wait_for(self, name: str, kind: int, host: HostProcess, timeout: float = 60.0):
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


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_the_trace_continues_across_a_sigkill_and_restart(host_factory, receiver, storage):
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_SERVICE_NAME": "approval-e2e",
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # ms: spans leave the first process well before the kill
    }
    host = host_factory("samples/human_interaction", env=env, storage=storage)
    started = host.start_orchestration("approval_workflow", {"timeout_seconds": 3600})
    instance_id = started["id"]

    # The deterministic point: the first activity ran and its result was committed (client span), and
    # the orchestration now waits for the Approval event.
    server_before = receiver.wait_for("activity:request_approval", SERVER, host)
    client_before = receiver.wait_for("activity:request_approval", CLIENT, host)
    assert host.status(instance_id).json()["runtimeStatus"] == "Running"
    assert not receiver.named("orchestration:approval_workflow")  # emitted once, when it ends
    host.kill()

    restarted = HostProcess(host.app_dir, port=host.port, env=host.env).start()
    try:
        event_url = started["sendEventPostUri"].replace("{eventName}", "Approval")
        r = requests.post(event_url, data="true", headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 202, r.text
        result = restarted.wait(instance_id)
        assert result["output"] == {"approved": True}
        orchestration = receiver.wait_for("orchestration:approval_workflow", SERVER, restarted)
    finally:
        restarted.stop()

    http = receiver.named("POST /api/orchestrators/{functionName}", SERVER)[0]
    create = receiver.named("create_orchestration:approval_workflow", PRODUCER)[0]
    trace_id = http.trace_id
    assert {create.trace_id, orchestration.trace_id, client_before.trace_id, server_before.trace_id} == {trace_id}
    assert create.parent_span_id == http.span_id
    assert orchestration.parent_span_id == create.span_id
    # Sent by the killed process, parented to the span the restarted process emitted at the end.
    assert client_before.parent_span_id == orchestration.span_id
    assert server_before.parent_span_id == client_before.span_id
    # The orchestration span covers both processes' episodes.
    assert orchestration.start_time_unix_nano <= client_before.start_time_unix_nano
    assert orchestration.end_time_unix_nano >= client_before.end_time_unix_nano
    attributes = {a.key: a.value.string_value or a.value.int_value for a in orchestration.attributes}
    assert attributes["durabletask.task.instance_id"] == instance_id
    assert attributes["durabletask.task.status"] == "Completed"
    hub = json.loads((host.app_dir / "host.json").read_text())["extensions"]["durableTask"]["hubName"]
    assert attributes["durabletask.task_hub"] == hub
    assert len(receiver.named("orchestration_event:Approval", PRODUCER)) == 1
