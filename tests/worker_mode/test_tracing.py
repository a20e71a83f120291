"""Tracing in worker mode: the Engine inside the real Python worker reads the same OTEL_* settings and
exports the same trace shape over OTLP/HTTP (here to a receiver on loopback)."""

from __future__ import annotations

from tests.e2e.otlp_receiver import CLIENT, PRODUCER, SERVER, Receiver


def test_worker_mode_exports_one_trace_per_orchestration(worker_factory):
    receiver = Receiver()
    try:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "50"}
        worker = worker_factory("samples/function_chaining", env=env)
        instance_id = worker.start_orchestration("hello_orchestrator")["id"]
        assert worker.wait(instance_id)["runtimeStatus"] == "Completed"
        orchestration = receiver.wait_for("orchestration:hello_orchestrator", SERVER, worker)
        create = receiver.wait_for("create_orchestration:hello_orchestrator", PRODUCER, worker)
        clients = receiver.named("activity:say_hello", CLIENT)
        servers = receiver.named("activity:say_hello", SERVER)
        assert len(clients) == len(servers) == 3
        assert orchestration.parent_span_id == create.span_id
        assert {s.parent_span_id for s in clients} == {orchestration.span_id}
        assert sorted(s.parent_span_id for s in servers) == sorted(s.span_id for s in clients)
        assert {s.trace_id for s in [create, orchestration, *clients, *servers]} == {create.trace_id}
    finally:
        receiver.close()
