"""Durable entities through the real host: the counter sample, the SDK client, load and kill -9."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import azure.durable_functions as df
import pytest
import requests

from tests.e2e.hostproc import HostProcess, run_async, wait_until

WH = "runtime/webhooks/durabletask"


def entity_value(host: HostProcess, name: str, key: str):
    r = host.session.get(host.url(f"{WH}/entities/{name}/{key}"), timeout=30)
    return r.json() if r.status_code == 200 else None


def wait_value(host: HostProcess, name: str, key: str, expected, timeout: float = 60):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = entity_value(host, name, key)
        if value == expected:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{name}/{key} = {value}, expected {expected}\n{host.log()[-3000:]}")


@pytest.fixture
def counter(host_factory, storage):
    return host_factory("samples/counter_entity", storage=storage)


def test_signal_from_http_function_and_read_back(counter):
    assert counter.session.get(counter.url("api/counters/a"), timeout=30).status_code == 404
    assert counter.session.post(counter.url("api/counters/a/add"), data="3", timeout=30).status_code == 202
    assert counter.session.post(counter.url("api/counters/a/add"), data="4", timeout=30).status_code == 202
    wait_value(counter, "Counter", "a", 7)
    assert counter.session.get(counter.url("api/counters/a"), timeout=30).json() == 7


def test_signals_to_an_unknown_entity_or_a_bad_key_are_a_400(counter):
    # As the extension's SignalEntityAsync: an entity this app does not have, or a key with
    # '/', '\\', '#', '?' or a control character, is an ArgumentException (400), not a 202 for a
    # message that only fails (logged) once the host runs it.
    for name, key in (("Nosuch", "k"), ("Counter", "a%2Fb"), ("Counter", "a%23b"), ("Counter", "a%01b")):
        reply = counter.session.post(counter.url(f"{WH}/entities/{name}/{key}"), params={"op": "add"}, json=1, timeout=30)
        assert reply.status_code == 400, (name, key, reply.text)
        assert reply.json()["ExceptionMessage"], reply.text
    assert "doesn't exist, is disabled, or is not an entity function" in counter.session.post(
        counter.url(f"{WH}/entities/Nosuch/k"), params={"op": "add"}, timeout=30
    ).json()["ExceptionMessage"]
    listing = counter.session.get(counter.url(f"{WH}/entities"), timeout=30)
    assert listing.status_code == 200 and listing.json() == []
    # The name is matched as the extension does, ignoring case.
    assert counter.session.post(counter.url(f"{WH}/entities/COUNTER/k"), params={"op": "add"}, json=2, timeout=30).status_code == 202
    wait_value(counter, "Counter", "k", 2)


def test_orchestrator_calls_and_signals_and_sees_operation_errors(counter):
    started = counter.start_orchestration("counter_orchestrator", {"key": "k2"})
    done = counter.wait(started["id"])
    assert done["output"] == {"after_add": 15, "value": 15, "error": "unknown operation 'explode'"}
    history = counter.status(started["id"], showHistory="true").json()["historyEvents"]
    assert [ev["EventType"] for ev in history].count("EventSent") == 4
    assert wait_value(counter, "Counter", "k2", 15) == 15


def test_webhook_signal_delete_and_list(counter):
    url = counter.url(f"{WH}/entities/Counter/w1")
    assert counter.session.post(url, params={"op": "add"}, json=5, timeout=30).status_code == 202
    wait_value(counter, "Counter", "w1", 5)
    listing = counter.session.get(counter.url(f"{WH}/entities/Counter"), params={"fetchState": "true"}, timeout=30)
    assert any(item["entityId"] == {"name": "counter", "key": "w1"} and item["state"] == 5 for item in listing.json())
    assert counter.session.delete(url, timeout=30).status_code == 202
    deadline = time.monotonic() + 30
    while entity_value(counter, "Counter", "w1") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert counter.session.get(url, timeout=30).status_code == 404
    assert counter.session.get(counter.url(f"{WH}/entities/Counter/never-used"), timeout=30).status_code == 404


def test_sdk_client_signal_and_read_entity_state(counter):
    async def go():
        client = df.DurableOrchestrationClient(counter.client_binding("CounterEntityHub"))
        entity = df.EntityId("Counter", "sdk")
        missing = await client.read_entity_state(entity)
        assert not missing.entity_exists
        await client.signal_entity(entity, "add", 2)
        await client.signal_entity(entity, "add", 40)
        for _ in range(600):
            state = await client.read_entity_state(entity)
            if state.entity_exists and state.entity_state == 42:
                return
            time.sleep(0.05)
        raise AssertionError(state.entity_state)

    run_async(go())


def _signal(host: HostProcess, key: str) -> int:
    session = requests.Session()
    r = session.post(host.url(f"{WH}/entities/Tally/{key}"), params={"op": "add"}, json=1, timeout=60)
    return r.status_code


def test_a_thousand_concurrent_signals_to_one_entity_arrive_exactly_once(host_factory, storage):
    host = host_factory("tests/fixtures/apps/entities_load", storage=storage)
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: _signal(host, "one"), range(1000)))
    assert codes.count(202) == 1000
    wait_value(host, "Tally", "one", 1000, timeout=120)
    rate = 1000 / (time.perf_counter() - started)
    print(f"\n1000 signals to one entity: {rate:.0f} signals/s end to end")


def test_a_hundred_entities_in_parallel_each_end_exact(host_factory, storage):
    host = host_factory("tests/fixtures/apps/entities_load", storage=storage)
    keys = [f"k{i}" for i in range(100)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: _signal(host, keys[i % 100]), range(1000)))
    assert codes.count(202) == 1000
    for key in keys:
        wait_value(host, "Tally", key, 10, timeout=120)


def test_kill_minus_nine_mid_backlog_loses_and_repeats_no_signal(host_factory, storage, tmp_path):
    # Tally/one stops at 300 (its batches are at most 50 operations, so some commit before it
    # stops): the kill lands while most of its signals are queued, whatever the machine's speed.
    gate = tmp_path / "hold"
    gate.write_text("300")
    host = host_factory("tests/fixtures/apps/entities_load", env={"TALLY_HOLD": str(gate)}, storage=storage)
    keys = ["one"] + [f"p{i}" for i in range(100)]
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: _signal(host, "one" if i < 1000 else keys[1 + i % 100]), range(2000)))
    assert codes.count(202) == 2000  # every signal is committed before its 202
    wait_until(lambda: (entity_value(host, "Tally", "one") or 0) > 0, 120, "some batches to commit", host)  # some batches have committed
    assert entity_value(host, "Tally", "one") <= 300
    host.kill()
    gate.unlink()

    restarted = HostProcess(host.app_dir, port=host.port, env=host.env).start()
    try:
        wait_value(restarted, "Tally", "one", 1000, timeout=120)
        for key in keys[1:]:
            wait_value(restarted, "Tally", key, 10, timeout=120)
        time.sleep(0.5)
        assert entity_value(restarted, "Tally", "one") == 1000
    finally:
        restarted.stop()
