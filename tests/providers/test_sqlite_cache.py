"""The SQLite hub's parsed-history cache: bounded by instances and by events, and a finished
instance is not kept (memory after any number of completed orchestrations stays bounded)."""

from __future__ import annotations

from datetime import UTC, datetime

from durable_ext.core import events as e
from durable_ext.core.messages import OrchestrationCommit, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.providers.sqlite_cache import HistoryCache
from tests.providers.test_contract import LOCK, episode, lock, start_message, state_after

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _events(n: int) -> list[e.HistoryEvent]:
    return [e.OrchestratorStarted(timestamp=T0) for _ in range(n)]


def test_bounded_by_instances_and_by_events_least_recent_first():
    cache = HistoryCache("hub", lambda text: _events(1)[0], max_instances=3, max_events=10)
    for name in "abc":
        cache.remember(name, "x", _events(3), "{}")
    cache.remember("d", "x", _events(3), "{}")  # a fourth instance: "a" goes
    assert list(cache._entries) == ["b", "c", "d"]
    cache.remember("e", "x", _events(5), "{}")  # 14 events > 10: "b" and "c" go
    assert list(cache._entries) == ["d", "e"] and cache._events == 8
    cache.remember("huge", "x", _events(11), "{}")  # bigger than the whole cache: not kept
    assert "huge" not in cache._entries and cache._events == 8
    cache.forget("d")
    assert cache._events == 5


def test_a_finished_instance_leaves_the_cache(tmp_path, run):
    from durable_ext.providers.sqlite import SqliteProvider

    provider = SqliteProvider(tmp_path / "hub.sqlite", "hubA")
    try:
        run(provider.create_hub())
        run(provider.create_instance(start_message("i", T0), now=T0))
        item = lock(run, provider, T0)
        started = item.messages[0][1].event
        run(provider.complete_orchestration(
            item, OrchestrationCommit(state_after(item, T0, RuntimeStatus.Running), episode(T0, started)), now=T0
        ))  # fmt: skip
        assert "i" in provider._histories._entries
        run(provider.send_message(TaskMessage("i", e.EventRaised(timestamp=T0, name="x"))))
        item = run(provider.lock_next_orchestration(now=T0, lock_timeout=LOCK, worker_id="w1"))
        done = state_after(item, T0, RuntimeStatus.Completed)
        run(provider.complete_orchestration(item, OrchestrationCommit(done, episode(T0)), now=T0))
        assert "i" not in provider._histories._entries
    finally:
        run(provider.close())
