"""The played-history JSON cache: same text as serialising from scratch, reused only for the
very same event objects, bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from durable_ext.core import events as e
from durable_ext.core import played as played_module
from durable_ext.core.episode import build_context
from durable_ext.core.played import PlayedHistory
from durable_ext.core.wire import event_to_dict

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def step(i: int) -> list[e.HistoryEvent]:
    at = T0 + timedelta(seconds=i)
    return [
        e.OrchestratorStarted(timestamp=at),
        e.TaskScheduled(event_id=i, timestamp=at, name="Hello", input=json.dumps(f"city {i} ü")),
        e.OrchestratorCompleted(timestamp=at),
        e.TaskCompleted(timestamp=at, task_scheduled_id=i, result=json.dumps({"n": i, "s": "\u2603"})),
    ]


def reference(past, new, **kw) -> str:
    """What build_context wrote before the cache: json.dumps of the whole structure."""
    history = [{**event_to_dict(ev), "IsPlayed": True} for ev in past]
    history += [{**event_to_dict(ev), "IsPlayed": False} for ev in new]
    no_cache = json.loads(build_context(past, new, **kw))
    return json.dumps({**no_cache, "history": history})


def test_cached_context_is_the_same_text_episode_after_episode():
    started = e.ExecutionStarted(timestamp=T0, name="Orch", instance_id="i", execution_id="x", input='"in"')
    cache = PlayedHistory()
    past: list[e.HistoryEvent] = []
    new: list[e.HistoryEvent] = [e.OrchestratorStarted(timestamp=T0), started]
    kw = {"instance_id": "i", "parent_instance_id": None, "execution_input": '"in"'}
    for i in range(5):
        text = build_context(past, new, played=cache, **kw)
        assert text == reference(past, new, **kw)
        assert json.loads(text)["history"][-1]["IsPlayed"] is False
        past = [*past, *new]
        new = step(i)


def test_only_new_events_are_serialised_and_a_rewritten_history_is_serialised_again(monkeypatch):
    calls = []
    real = played_module.event_json
    monkeypatch.setattr(played_module, "event_json", lambda ev, played: calls.append(ev) or real(ev, played=played))
    cache = PlayedHistory()
    history = step(0) + step(1)
    cache.fragments("i", history)
    calls.clear()
    longer = [*history, *step(2)]
    assert cache.fragments("i", longer) == [real(ev, played=True) for ev in longer]
    assert calls == longer[len(history) :]  # only the four new events
    calls.clear()
    reread = [e.OrchestratorStarted(timestamp=ev.timestamp) if i == 0 else ev for i, ev in enumerate(longer)]
    cache.fragments("i", reread)  # an equal-looking but different first object: no reuse
    assert len(calls) == len(longer)


def test_the_cache_is_bounded_by_events_dropping_the_least_recent_instance():
    cache = PlayedHistory(max_events=10)
    cache.fragments("a", step(0))
    cache.fragments("b", step(1))
    cache.fragments("c", step(2))  # 12 events > 10: "a" goes
    assert set(cache._items) == {"b", "c"} and cache._size == 8
    cache.fragments("huge", step(3) + step(4) + step(5))  # larger than the whole cache: not kept
    assert "huge" not in cache._items


def test_a_finished_instance_is_forgotten():
    cache = PlayedHistory(max_events=100)
    cache.fragments("a", step(0))
    cache.fragments("b", step(1))
    cache.forget("a")
    cache.forget("never-seen")
    assert set(cache._items) == {"b"} and cache._size == 4


def test_an_episode_fills_the_cache_its_caller_passes_and_the_core_keeps_none():
    from durable_ext.core import episode, transitions
    from tests.core.harness import Catalog, Instance

    def orchestrator(context):
        first = yield context.call_activity("Hello", "a")
        second = yield context.call_activity("Hello", "b")
        return [first, second]

    mine, other = PlayedHistory(), PlayedHistory()
    instance = Instance("i1", Catalog({"Orch": orchestrator}, activities=["Hello"]), played=mine)
    instance.start("Orch")
    instance.deliver(e.TaskCompleted(timestamp=T0, task_scheduled_id=0, result='"A"'))
    assert list(mine._items) == ["i1"] and not other._items
    assert not [v for m in (episode, transitions) for v in vars(m).values() if isinstance(v, PlayedHistory)]
