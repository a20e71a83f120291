"""Extended sessions write the same history as replaying every episode in full (issue #9).

A small deterministic world runs generated orchestrations — chains, fan-outs, task_any, timers,
external events (also arriving early, buffered), sub-orchestrations, retries and
continue-as-new — through ``process_work_item`` and the SDK's real replay, twice: once with
every episode replayed in full, once with sessions kept between episodes (and dropped at random,
as a restart or an eviction would, to exercise the fallback). Every instance's history must be
the same, event for event, and so must its final row. Seeds are fixed: the run is reproducible.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest

from durable_ext.config import SessionSettings
from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState, OrchestrationWorkItem, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.transitions import process_work_item
from durable_ext.dispatcher.sessions import SessionCache
from durable_ext.functions.sessions import SdkOrchestrator

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


# -- the generated orchestrations --------------------------------------------------------------


def program_runner(context: df.DurableOrchestrationContext):
    """Interprets the program in its input: [{"generation": g, "steps": [...], "can": bool}]."""
    spec = context.get_input()
    steps, total = spec["steps"], spec.get("carry", 0)
    for step in steps:
        kind = step[0]
        if kind == "call":
            total += yield context.call_activity("Double", step[1])
        elif kind == "fan":
            results = yield context.task_all([context.call_activity("Double", i) for i in range(step[1])])
            total += sum(results)
        elif kind == "any":
            winner = yield context.task_any([context.call_activity("Double", i) for i in range(step[1])])
            total += winner.result
        elif kind == "timer":
            yield context.create_timer(context.current_utc_datetime + timedelta(seconds=step[1]))
            total += 1
        elif kind == "event":
            value = yield context.wait_for_external_event(step[1])
            total += int(value or 0)
        elif kind == "sub":
            total += yield context.call_sub_orchestrator("Runner", {"steps": step[1]})
        elif kind == "retry":
            options = df.RetryOptions(1000, step[2])
            try:
                total += yield context.call_activity_with_retry("Flaky", options, {"fails": step[1], "value": 7})
            except Exception:
                total -= 1
        elif kind == "status":
            context.set_custom_status({"at": total})
    if spec.get("can") and spec.get("generation", 0) < 2:
        context.continue_as_new({**spec, "generation": spec.get("generation", 0) + 1, "carry": total})
        return None
    return total


def random_steps(rng: random.Random, depth: int = 0) -> list:
    steps: list = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["call", "call", "fan", "any", "timer", "event", "sub", "retry", "status"])
        if kind == "call":
            steps.append(["call", rng.randint(0, 9)])
        elif kind == "fan":
            steps.append(["fan", rng.randint(0, 6)])
        elif kind == "any":
            steps.append(["any", rng.randint(1, 3)])
        elif kind == "timer":
            steps.append(["timer", rng.choice([1, 5, 30])])
        elif kind == "event":
            steps.append(["event", rng.choice(["go", "stop"])])
        elif kind == "sub" and depth < 1:
            steps.append(["sub", random_steps(rng, depth + 1)])
        elif kind == "retry":
            steps.append(["retry", rng.randint(0, 3), rng.randint(1, 3)])
        elif kind == "status":
            steps.append(["status"])
    return steps


class Catalog:
    default_version = None

    def __init__(self, fn=program_runner) -> None:
        self.runner = SdkOrchestrator(df.Orchestrator.create(fn))

    def orchestrator(self, name):
        return self.runner if name == "Runner" else None

    def has_activity(self, name):
        return name in ("Double", "Flaky")

    def has_entity(self, name):
        return False

    def names(self, kind):
        return {"orchestrator": ["Runner"], "activity": ["Double", "Flaky"], "entity": []}[kind]


# -- the world: storage, queues, activities and a clock as lists ---------------------------------


class World:
    def __init__(self, seed: int, *, sessions: bool, catalog: Catalog | None = None) -> None:
        self.rng = random.Random(seed)  # decides the run; both modes draw the same sequence
        self.chaos = random.Random(seed * 7 + 1)  # decides only when sessions are lost
        self.catalog = catalog or Catalog()
        self.now = T0
        self.ids = itertools.count(1)
        self.states: dict[str, InstanceState] = {}
        self.histories: dict[str, list[e.HistoryEvent]] = {}
        self.inbox: list[tuple[datetime, int, TaskMessage]] = []
        self.seq = itertools.count()
        self.attempts: dict[tuple[str, int], int] = {}
        self.cache = SessionCache(idle_timeout=1e9, clock=lambda: 0.0) if sessions else None
        self.resumed = 0
        self.episodes = 0

    def new_id(self) -> str:
        return f"id{next(self.ids)}"

    def send(self, message: TaskMessage, visible_at: datetime | None = None) -> None:
        self.inbox.append((visible_at or self.now, next(self.seq), message))

    def start(self, instance_id: str, spec: dict) -> None:
        started = e.ExecutionStarted(
            timestamp=self.now,
            name="Runner",
            instance_id=instance_id,
            execution_id=self.new_id(),
            input=json.dumps(spec),
        )
        self.send(TaskMessage(instance_id, started, started.execution_id))

    def run(self, max_steps: int = 2000) -> None:
        for _ in range(max_steps):
            visible = [m for m in self.inbox if m[0] <= self.now]
            if not visible:
                if self.inbox:
                    self.now = min(m[0] for m in self.inbox)
                    continue
                if not self._raise_pending_events():
                    return
                continue
            if self.rng.random() < 0.2:
                self._raise_early_event()
            target = self.rng.choice(sorted({m[2].instance_id for m in visible}))
            mine = sorted((m for m in visible if m[2].instance_id == target), key=lambda m: m[1])
            batch = mine[: self.rng.randint(1, len(mine))]
            for m in batch:
                self.inbox.remove(m)
            self.episode(target, [m[2] for m in batch])
            self.now += timedelta(milliseconds=1)
        raise AssertionError("the world did not settle")

    def _running(self) -> list[str]:
        return sorted(i for i, s in self.states.items() if s.runtime_status is RuntimeStatus.Running)

    def _raise_pending_events(self) -> bool:
        running = self._running()
        for instance_id in running:
            self.send(TaskMessage(instance_id, e.EventRaised(timestamp=self.now, name="go", input="1")))
            self.send(TaskMessage(instance_id, e.EventRaised(timestamp=self.now, name="stop", input="2")))
        return bool(running)

    def _raise_early_event(self) -> None:
        running = self._running()
        if running:
            name = self.rng.choice(["go", "stop"])
            target = self.rng.choice(running)
            self.send(TaskMessage(target, e.EventRaised(timestamp=self.now, name=name, input="3")))

    def episode(self, instance_id: str, messages: list[TaskMessage]) -> None:
        session = None
        if self.cache is not None:
            session = self.cache.take(instance_id)
            if session is not None and self.chaos.random() < 0.15:
                session = None  # a restart, an eviction, another worker: the fallback must agree
        item = OrchestrationWorkItem(
            instance_id,
            "lock",
            self.states.get(instance_id),
            list(self.histories.get(instance_id, [])),
            [(str(i), m) for i, m in enumerate(messages)],
        )
        report = process_work_item(
            item,
            now=self.now,
            catalog=self.catalog,
            new_id=self.new_id,
            session=session,
            keep_session=self.cache is not None,
        )
        self.episodes += 1
        if report.outcome is not None and report.outcome.resumed:
            self.resumed += 1
        commit = report.commit
        if commit.state is not None:
            self.states[instance_id] = commit.state
        old = self.histories.get(instance_id, [])
        self.histories[instance_id] = list(commit.new_history) if commit.replace_history else old + commit.new_history
        if report.session is not None and self.cache is not None:
            self.cache.put(instance_id, report.session)
        for out in commit.messages:
            self.send(out.message, out.visible_at)
        for task in commit.activities:
            self._run_activity(task)

    def _run_activity(self, task: TaskMessage) -> None:
        scheduled = task.event
        assert isinstance(scheduled, e.TaskScheduled)
        value = json.loads(scheduled.input or "null")
        if scheduled.name == "Flaky":
            # Attempts of one retry get new task ids; count them by the retry's input instead.
            key = (task.instance_id, hash(scheduled.input))
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
            if attempt <= value["fails"]:
                result: e.HistoryEvent = e.TaskFailed(
                    timestamp=self.now, task_scheduled_id=scheduled.event_id, reason="flaky", details="{}"
                )
            else:
                result = e.TaskCompleted(
                    timestamp=self.now, task_scheduled_id=scheduled.event_id, result=json.dumps(value["value"])
                )
        else:
            result = e.TaskCompleted(
                timestamp=self.now, task_scheduled_id=scheduled.event_id, result=json.dumps(value * 2)
            )
        self.send(TaskMessage(task.instance_id, result, task.execution_id), self.now + timedelta(milliseconds=1))


def run_world(seed: int, *, sessions: bool) -> World:
    rng = random.Random(seed)
    world = World(seed, sessions=sessions)
    for n in range(rng.randint(1, 4)):
        world.start(f"inst{n}", {"steps": random_steps(rng), "can": rng.random() < 0.3})
    world.run()
    return world


# -- the property ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_history_with_sessions_equals_history_replayed_in_full(seed):
    full = run_world(seed, sessions=False)
    cached = run_world(seed, sessions=True)
    assert sorted(cached.histories) == sorted(full.histories)
    for instance_id, history in full.histories.items():
        assert cached.histories[instance_id] == history, instance_id
        assert cached.states[instance_id] == full.states[instance_id], instance_id
    assert full.resumed == 0


def test_the_generated_runs_do_continue_sessions_and_cover_every_shape():
    resumed = episodes = 0
    kinds: set[str] = set()
    statuses: set[RuntimeStatus] = set()
    for seed in range(40):
        world = run_world(seed, sessions=True)
        resumed += world.resumed
        episodes += world.episodes
        statuses |= {s.runtime_status for s in world.states.values()}
        for history in world.histories.values():
            kinds |= {ev.TYPE.name for ev in history}
    assert resumed > episodes // 3, (resumed, episodes)
    assert {
        "TaskScheduled",
        "TaskCompleted",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "EventRaised",
        "SubOrchestrationInstanceCreated",
        "SubOrchestrationInstanceCompleted",
    } <= kinds
    assert RuntimeStatus.Completed in statuses


# -- determinism checks survive sessions -------------------------------------------------------


def _waiting_world(fn) -> World:
    world = World(0, sessions=True, catalog=Catalog(fn))
    world.start("nd", {"steps": []})
    for _ in range(3):  # start, then the first activity's result: the instance waits on an event
        visible = [m for m in world.inbox if m[0] <= world.now] or world.inbox
        world.now = max(world.now, min(m[0] for m in visible))
        batch = [m for m in world.inbox if m[0] <= world.now]
        for m in batch:
            world.inbox.remove(m)
        world.episode("nd", [m[2] for m in batch])
        world.now += timedelta(milliseconds=5)
        if not world.inbox:
            break
    return world


def _first(context):
    yield context.call_activity("Double", 1)
    yield context.wait_for_external_event("go")
    return (yield context.call_activity("Double", 2))


def _changed(context):
    yield context.call_activity("Flaky", {"fails": 0, "value": 1})  # was Double: diverges from history
    yield context.wait_for_external_event("go")
    return (yield context.call_activity("Double", 2))


def test_after_a_restart_the_full_replay_catches_a_code_change_the_session_never_saw():
    world = _waiting_world(_first)
    assert len(world.cache) == 1  # the instance waits with its session cached
    # A restart with new code: a new process, so a new (empty) cache.
    world.catalog = Catalog(_changed)
    world.cache = SessionCache(idle_timeout=1e9, clock=lambda: 0.0)
    world.send(TaskMessage("nd", e.EventRaised(timestamp=world.now, name="go", input="1")))
    world.run()
    state = world.states["nd"]
    assert state.runtime_status is RuntimeStatus.Failed
    assert "Non-Deterministic workflow detected" in (state.output or "")


def test_a_session_is_only_continued_on_the_history_it_left_behind():
    world = _waiting_world(_first)
    session = world.cache.take("nd")
    assert session is not None and session.continues(world.histories["nd"], session.execution_id)
    history = world.histories["nd"]
    assert not session.continues(history[:-1], session.execution_id)  # shorter: rewritten
    assert not session.continues([*history, e.OrchestratorStarted(timestamp=world.now)], session.execution_id)
    assert not session.continues(history, "another execution")  # continue-as-new, restart
    rewritten = [*history[:-1], e.OrchestratorCompleted(timestamp=world.now + timedelta(days=1))]
    assert not session.continues(rewritten, session.execution_id)  # another worker's episode


# -- the cache's bounds --------------------------------------------------------------------------


def _session(consumed: int):
    world = _waiting_world(_first)
    session = world.cache.take("nd")
    session.consumed = consumed
    return session


def test_cache_is_bounded_by_events_and_drops_least_recently_used_first():
    cache = SessionCache(max_events=100, clock=lambda: 0.0)
    for i in range(5):
        cache.put(f"i{i}", _session(30))
    assert len(cache) == 3 and cache.events == 90
    assert cache.take("i0") is None and cache.take("i1") is None
    assert cache.take("i4") is not None and cache.events == 60
    cache.put("huge", _session(101))  # bigger than the whole bound: not kept
    assert cache.take("huge") is None


def test_cache_drops_sessions_idle_longer_than_the_timeout():
    now = [0.0]
    cache = SessionCache(idle_timeout=30, clock=lambda: now[0])
    cache.put("a", _session(5))
    cache.put("b", _session(5))
    now[0] = 20.0
    assert cache.take("a") is not None
    cache.put("a", _session(5))
    now[0] = 40.0
    assert cache.take("b") is None  # idle 40 s
    assert cache.take("a") is not None  # idle 20 s
    cache.put("c", _session(5))
    now[0] = 100.0
    cache.put("d", _session(5))  # a put sweeps the idle ones
    assert len(cache) == 1 and cache.events == 5


def test_sessions_can_be_switched_off():
    assert SessionCache.from_settings(SessionSettings(enabled=False)) is None
    cache = SessionCache.from_settings(SessionSettings(idle_timeout=5, max_events=10))
    assert cache is not None and cache.idle_timeout == 5 and cache.max_events == 10
