"""What the SQLite provider promises beyond the contract: file set-up, several providers (or
processes) on one file, the history fence, schema versioning, index use, the factory."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.config import load_config
from durable_ext.core import events as e
from durable_ext.core.messages import InstanceQuery, OrchestrationCommit, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import LockLostError, ProviderError
from durable_ext.providers import sqlite_schema
from durable_ext.providers.factory import create_provider, describe_storage
from durable_ext.providers.sqlite import SqliteProvider
from durable_ext.providers.sqlite_schema import from_micros, prefix_upper_bound, to_micros
from tests.providers.test_contract import (
    LOCK,
    episode,
    lock,
    lock_activity,
    start_message,
    start_running,
    state_after,
)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "deep" / "er" / "hub.sqlite"


@pytest.fixture
def open_provider(db: Path, run):
    opened: list[SqliteProvider] = []

    def open_(hub: str = "hubA") -> SqliteProvider:
        provider = SqliteProvider(db, hub)
        opened.append(provider)
        run(provider.create_hub())
        return provider

    yield open_
    for provider in opened:
        run(provider.close())


def test_the_file_and_its_directories_are_created_in_wal_mode(db, open_provider, run):
    provider = open_provider()
    assert db.exists()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    pragmas = run(
        provider._run(lambda c: [c.execute(f"PRAGMA {p}").fetchone()[0] for p in ("synchronous", "busy_timeout")])
    )
    # NORMAL; no busy timeout: the connection thread waits for another process's lock itself,
    # in short pauses (tests/providers/test_sqlite_batch.py)
    assert pragmas == [1, 0]


def test_two_providers_on_one_file_never_lock_one_instance_twice(open_provider, run):
    first, second = open_provider(), open_provider()
    for i in range(60):
        run(first.create_instance(start_message(f"i{i}", T0), now=T0))

    # Taking turns: each sees the other's locks.
    turns = [lock(run, provider, T0, worker=str(n)) for n, provider in enumerate([first, second] * 5)]
    assert len({item.instance_id for item in turns}) == 10

    async def drain(provider: SqliteProvider, worker: str) -> list[str]:
        got = []
        while (item := await provider.lock_next_orchestration(now=T0, lock_timeout=LOCK, worker_id=worker)) is not None:
            got.append(item.instance_id)
        return got

    async def race() -> list[list[str]]:
        return await asyncio.gather(*(drain(p, f"{n}") for n, p in enumerate([first, second, first, second])))

    # Racing (SQLite's busy handler is not fair, so one side may win every lock): no duplicates.
    locked = [iid for got in run(race()) for iid in got]
    assert sorted(locked + [item.instance_id for item in turns]) == sorted(f"i{i}" for i in range(60))


def test_a_killed_process_keeps_its_commits_and_its_lock_expires(db, open_provider, run):
    provider = open_provider()
    run(provider.create_instance(start_message("crash", T0), now=T0))
    child = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from datetime import datetime, timedelta
        from durable_ext.core import events as e
        from durable_ext.core.messages import OrchestrationCommit, TaskMessage
        from durable_ext.core.status import RuntimeStatus
        from durable_ext.providers.sqlite import SqliteProvider
        from tests.providers.test_contract import episode, state_after

        async def main():
            p = SqliteProvider({str(db)!r}, "hubA")
            now = datetime.fromisoformat({T0.isoformat()!r})
            item = await p.lock_next_orchestration(now=now, lock_timeout=timedelta(seconds=30), worker_id="child")
            state = state_after(item, now, RuntimeStatus.Running)
            commit = OrchestrationCommit(state, episode(now, item.messages[0][1].event))
            await p.complete_orchestration(item, commit, now=now)
            await p.send_message(TaskMessage("crash", e.EventRaised(timestamp=now, name="x")))
            await p.lock_next_orchestration(now=now, lock_timeout=timedelta(seconds=30), worker_id="child")
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    result = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == -9, result.stderr

    assert run(provider.get_instance("crash")).runtime_status is RuntimeStatus.Running
    assert len(run(provider.get_history("crash"))) == 3
    assert lock(run, provider, T0 + timedelta(seconds=29)) is None
    item = lock(run, provider, T0 + timedelta(seconds=31))
    assert [m.event.name for _, m in item.messages] == ["x"]


def test_a_commit_on_a_stale_history_hits_the_history_key_and_changes_nothing(open_provider, run):
    provider = open_provider()
    start_running(run, provider, "fence", T0)
    run(provider.send_message(TaskMessage("fence", e.EventRaised(timestamp=T0, name="x"))))
    item = lock(run, provider, T0)
    stale = dataclasses.replace(item, history=[])  # as if the first episode had not been seen
    commit = OrchestrationCommit(
        state_after(item, T0, RuntimeStatus.Completed), episode(T0, e.EventRaised(timestamp=T0, name="x"))
    )
    with pytest.raises(LockLostError):
        run(provider.complete_orchestration(stale, commit, now=T0))
    assert run(provider.get_instance("fence")).runtime_status is RuntimeStatus.Running
    assert run(provider.get_history("fence")) == item.history
    run(provider.complete_orchestration(item, commit, now=T0))  # the lock and the message survived
    assert run(provider.get_instance("fence")).runtime_status is RuntimeStatus.Completed


def test_a_file_from_a_newer_schema_is_refused(db, open_provider, run):
    run(open_provider().close())
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(ProviderError, match="schema version 99"):
        open_provider("hubB")


def test_a_closed_provider_refuses_work(open_provider, run):
    provider = open_provider()
    run(provider.close())
    run(provider.close())  # idempotent
    with pytest.raises(ProviderError, match="closed"):
        run(provider.get_instance("x"))


def test_the_lock_queries_walk_indexes_without_sorting(open_provider, run):
    provider = open_provider()
    plans = []
    for sql in (*sqlite_schema.PICKS[False], sqlite_schema.LOCK_TASKS):
        rows = run(
            provider._run(
                lambda c, sql=sql: c.execute(
                    "EXPLAIN QUERY PLAN " + sql,
                    {"hub": "h", "now": 1, "worker": "w", "stale": 0, "expires": 2, "token": "t", "limit": 5},
                ).fetchall()
            )
        )
        plans.append(" | ".join(r[3] for r in rows))
    for plan in plans:
        assert "TEMP B-TREE" not in plan and "SCAN" not in plan, plan
    assert "new_events_visible" in plans[0] and "new_events_visible" in plans[1]


def test_times_round_trip_to_the_microsecond():
    for value in (T0, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2024, 1, 1)):
        back = from_micros(to_micros(value))
        assert back == value.replace(tzinfo=value.tzinfo or UTC) and back.tzinfo is UTC
    assert to_micros(T0) < to_micros(T0 + timedelta(microseconds=1))


@pytest.mark.parametrize(
    ("prefix", "upper"),
    [("abc", "abd"), ("a%", "a&"), ("z\U0010ffff", "{"), ("\U0010ffff", None), ("a\ud7ff", "a\ue000")],
)
def test_prefix_upper_bound(prefix, upper):
    assert prefix_upper_bound(prefix) == upper


def test_the_factory_builds_a_sqlite_provider(tmp_path, run):
    provider = create_provider("sqlite", "FactoryHub", path=tmp_path / "f.sqlite")
    assert isinstance(provider, SqliteProvider) and provider.hub == "FactoryHub"
    run(provider.close())

    app = tmp_path / "app"
    app.mkdir()
    config = load_config(app, environ={})
    provider = create_provider(config)
    assert isinstance(provider, SqliteProvider)
    assert provider.hub == config.hub_name and provider.path == config.storage.sqlite_path
    assert str(config.storage.sqlite_path) in describe_storage(config)
    run(provider.close())


@pytest.mark.parametrize(
    "query",
    [
        InstanceQuery(page_size=50),
        InstanceQuery(page_size=50, statuses=frozenset({RuntimeStatus.Running, RuntimeStatus.Pending})),
        InstanceQuery(page_size=50, name="quick"),
        InstanceQuery(page_size=50, created_from=datetime(2026, 1, 1, tzinfo=UTC), include_input=False),
    ],
    ids=["all", "status", "name", "created"],
)
def test_a_page_of_the_monitor_list_never_sorts_the_hub(tmp_path, query):
    """Page 1 of the monitor's list on a 100,000-instance hub costs a walk of the creation-time
    index up to one page of matches, not a sort of every instance (bench/monitor_list.py has the
    figures): the query plan reads the index in order and has no temporary sort."""
    conn = sqlite_schema.connect(tmp_path / "plan.sqlite")
    try:
        where, params = sqlite_schema.instance_filter("Hub", query)
        sql = (
            f"SELECT {sqlite_schema.INSTANCE_COLUMNS} FROM instances WHERE {where} "
            "ORDER BY created_time, instance_id LIMIT ?"
        )
        plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, (*params, query.page_size + 1))]
    finally:
        conn.close()
    assert any("USING INDEX instances_created" in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


def test_an_injected_clock_drives_timers_and_stamps_without_the_wall_clock(db, run):
    """Time moves when the test moves the clock: a timer a day away is due once the clock gets
    there (no sleeping), and what the provider stamps itself comes from that clock."""
    from durable_ext.testing.clock import VirtualClock

    clock = VirtualClock(datetime(2051, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))
    provider = SqliteProvider(db, "hubA", clock=clock)
    try:
        run(provider.create_hub())
        t0 = clock.now()
        start_running(run, provider, "sleeper", t0)
        fire_at = t0 + timedelta(days=1)
        fired = e.TimerFired(timestamp=t0, timer_id=0, fire_at=fire_at)
        run(provider.send_message(TaskMessage("sleeper", fired), visible_at=fire_at))
        assert run(provider.next_visible_time()) == fire_at
        assert lock(run, provider, clock.now()) is None

        clock.advance(timedelta(days=1))
        assert run(provider.next_visible_time()) is None  # due now, nothing left in the future
        item = lock(run, provider, clock.now())
        assert item is not None and [m.event for _, m in item.messages] == [fired]

        with sqlite3.connect(db) as conn:
            created = conn.execute("SELECT created_time FROM hubs WHERE hub = 'hubA'").fetchone()[0]
            sent = conn.execute("SELECT created FROM new_events WHERE hub = 'hubA'").fetchone()[0]
        assert from_micros(created) == t0 and from_micros(sent) == t0
    finally:
        run(provider.close())


def test_several_instances_and_tasks_are_locked_in_one_call_each_once(open_provider, run):
    provider = open_provider()
    for i in range(5):
        run(provider.create_instance(start_message(f"i{i}", T0), now=T0))
    first = run(provider.lock_next_orchestrations(now=T0, lock_timeout=LOCK, worker_id="w1", limit=3))
    rest = run(provider.lock_next_orchestrations(now=T0, lock_timeout=LOCK, worker_id="w2", limit=10))
    assert [w.instance_id for w in first] == ["i0", "i1", "i2"] and [w.instance_id for w in rest] == ["i3", "i4"]
    assert len({w.lock_token for w in first + rest}) == 5
    assert run(provider.lock_next_orchestrations(now=T0, lock_timeout=LOCK, worker_id="w3", limit=4)) == []

    start_running(run, provider, "a", T0, activities=4)
    tasks = run(provider.lock_next_activities(now=T0, lock_timeout=LOCK, worker_id="w1", limit=3))
    assert [t.message.event.event_id for t in tasks] == [0, 1, 2]  # queue order
    more = run(provider.lock_next_activities(now=T0, lock_timeout=LOCK, worker_id="w2", limit=3))
    assert [t.message.event.event_id for t in more] == [3]
    for task in tasks + more:  # each lease completes on its own
        run(provider.complete_activity(task, TaskMessage("a", e.TaskCompleted(timestamp=T0, task_scheduled_id=0))))
    # completed tasks are gone, also once their leases would have expired
    later = T0 + LOCK + timedelta(seconds=1)
    assert run(provider.lock_next_activities(now=later, lock_timeout=LOCK, worker_id="w3", limit=10)) == []


_OPEN_AT = """
import sys, time
from pathlib import Path
from durable_ext.providers import sqlite_schema
from durable_ext.providers.sqlite_batch import open_connection
path, at = Path(sys.argv[1]), float(sys.argv[2])
while time.time() < at:
    pass
open_connection(lambda: sqlite_schema.connect(path)).close()
"""


def test_host_processes_starting_together_all_open_a_new_hub_file(tmp_path):
    # `start` runs one host process per core: they open the new file at the same moment, and the
    # switch to WAL answered "database is locked" at once to all but one (the host then exited 2).
    for round_ in range(6):
        path = tmp_path / f"round{round_}" / ".durable_ext" / "taskhub.sqlite"
        at = time.time() + 0.5  # every process spins until then: they open the file together
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT, str(path), str(at)], cwd=ROOT, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], errors


def test_a_checkpoint_leaves_the_instance_row_as_the_episode_left_the_instance(open_provider, run):
    """The row of a running instance is updated naming only the indexed columns that change (see
    ``sqlite_schema.instance_update``); every column still ends up as the episode's state says,
    and a row that is gone is written whole."""
    provider = open_provider()
    start_running(run, provider, "row", T0)
    steps = [
        (RuntimeStatus.Running, {"custom_status": '"half"'}),  # status unchanged
        (RuntimeStatus.Running, {"created_time": T0 + timedelta(seconds=2), "input": '"next"'}),  # as continue-as-new
        (RuntimeStatus.Completed, {"output": '"done"'}),  # status changes
    ]
    for n, (status, changes) in enumerate(steps, start=1):
        at = T0 + timedelta(seconds=n)
        run(provider.send_message(TaskMessage("row", e.EventRaised(timestamp=at, name=f"e{n}"))))
        item = lock(run, provider, at)
        state = state_after(item, at, status, **changes)
        run(provider.complete_orchestration(item, OrchestrationCommit(state, episode(at)), now=at))
        assert run(provider.get_instance("row")) == state, status

    start_running(run, provider, "gone", T0)
    run(provider.send_message(TaskMessage("gone", e.EventRaised(timestamp=T0, name="x"))))
    item = lock(run, provider, T0)
    run(provider._run(lambda conn: conn.execute("DELETE FROM instances WHERE instance_id = 'gone'"), write=True))
    state = state_after(item, T0, RuntimeStatus.Running, custom_status='"back"')
    run(provider.complete_orchestration(item, OrchestrationCommit(state, episode(T0)), now=T0))
    assert run(provider.get_instance("gone")) == state


def test_an_instance_rows_update_names_an_indexed_column_only_when_it_changes():
    base = sqlite_schema.pending_state("i", start_message("i", T0).event, to_micros(T0))  # type: ignore[arg-type]
    running = dataclasses.replace(base, runtime_status=RuntimeStatus.Running, last_updated_time=T0 + timedelta(1))
    sql, params = sqlite_schema.instance_update(sqlite_schema.instance_row("h", running), running, running)
    assert "runtime_status" not in sql and "created_time" not in sql and params[-2:] == ("h", "i")
    sql, params = sqlite_schema.instance_update(sqlite_schema.instance_row("h", running), running, base)
    assert "runtime_status" in sql and "created_time" not in sql and "Running" in params
    later = dataclasses.replace(running, created_time=T0 + timedelta(2))
    sql, params = sqlite_schema.instance_update(sqlite_schema.instance_row("h", later), later, running)
    assert "runtime_status" not in sql and "created_time" in sql and to_micros(later.created_time) in params


def test_a_hub_file_from_before_gets_the_partial_task_index_and_delayed_tasks_are_still_found(db, open_provider, run):
    """``new_tasks_visible`` indexes only tasks put back with a delay; a file whose index covers
    every task (made by an earlier version) has it rebuilt on open, and nothing else changes."""
    provider = open_provider()
    start_running(run, provider, "late", T0, activities=2)
    run(provider.close())
    with sqlite3.connect(db) as conn:  # the index as earlier versions made it
        conn.execute("DROP INDEX new_tasks_visible")
        conn.execute("CREATE INDEX new_tasks_visible ON new_tasks (hub, visible_time)")

    provider = open_provider()
    with sqlite3.connect(db) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'new_tasks_visible'").fetchone()
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT min(visible_time) FROM new_tasks WHERE hub = 'hubA' AND visible_time > 1"
        ).fetchall()
    assert sql.endswith("WHERE visible_time IS NOT NULL")
    assert "new_tasks_visible" in plan[0][3]
    first = lock_activity(run, provider, T0)
    run(provider.abandon_activity(first, retry_at=T0 + timedelta(seconds=30)))
    assert run(provider.next_visible_time(T0)) == T0 + timedelta(seconds=30)
    second = lock_activity(run, provider, T0)
    assert second is not None and second.id != first.id
    assert lock_activity(run, provider, T0) is None  # the first waits for its time
    again = lock_activity(run, provider, T0 + timedelta(seconds=31))
    assert again is not None and again.id == first.id
