"""The SQLite hub's doorbell (providers.sqlite_wake): providers on one hub file, as separate host
processes would hold them, wake each other's dispatcher loops and completion waiters at once."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from durable_ext.providers.base import WorkSignal
from durable_ext.providers.sqlite import SqliteProvider
from tests.providers.test_contract import start_message

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


async def _woken(event: asyncio.Event) -> bool:
    try:
        await asyncio.wait_for(event.wait(), 10)
    except TimeoutError:
        return False
    return True


def test_work_enqueued_by_one_provider_wakes_the_other_providers_loops_and_waiters(tmp_path, run):
    db = tmp_path / "hub.sqlite"
    a, b, other_hub = SqliteProvider(db, "hubA"), SqliteProvider(db, "hubA"), SqliteProvider(db, "hubB")
    try:
        for p in (a, b, other_hub):
            run(p.create_hub())
        wake_dir = tmp_path / "hub.sqlite-wake"
        assert sorted(name.split(".")[0] for name in os.listdir(wake_dir)) == ["hubA", "hubA", "hubB"]

        async def scenario() -> None:
            orchestrations = b.work_signal.event(WorkSignal.ORCHESTRATIONS)
            activities = b.work_signal.event(WorkSignal.ACTIVITIES)
            unrelated = other_hub.work_signal.event(WorkSignal.ORCHESTRATIONS)
            for event in (orchestrations, activities, unrelated):
                event.clear()
            await a.create_instance(start_message("i1", T0), now=T0)
            assert await _woken(orchestrations)
            assert not activities.is_set()  # only the loop whose work was enqueued
            with b.work_signal.watching("i1") as waiter:
                a.work_signal.changed("i1")
                assert await _woken(waiter)
            await asyncio.sleep(0.05)
            assert not unrelated.is_set()  # another hub in the same file is not rung

        run(scenario())
    finally:
        for p in (a, b, other_hub):
            run(p.close())
    assert os.listdir(tmp_path / "hub.sqlite-wake") == []  # each closed doorbell unregistered


def test_providers_that_create_the_hubs_directory_register_too(tmp_path, run):
    # Before: the first provider's doorbell was opened before its connection created ``.durable_ext``;
    # it failed quietly and that process was never rung (its peers' work waited for its polls).
    db = tmp_path / "app" / ".durable_ext" / "taskhub.sqlite"
    a, b = SqliteProvider(db, "hubA"), SqliteProvider(db, "hubA")
    try:

        async def scenario() -> None:
            await asyncio.gather(a.create_hub(), b.create_hub())
            assert len(os.listdir(db.parent / "taskhub.sqlite-wake")) == 2
            for listener, sender in ((a, b), (b, a)):
                orchestrations = listener.work_signal.event(WorkSignal.ORCHESTRATIONS)
                orchestrations.clear()
                await sender.create_instance(start_message(f"from-{id(sender)}", T0), now=T0)
                assert await _woken(orchestrations)

        run(scenario())
    finally:
        for p in (a, b):
            run(p.close())


def test_a_dead_peers_registration_is_removed(tmp_path, run):
    db = tmp_path / "hub.sqlite"
    wake_dir = tmp_path / "hub.sqlite-wake"
    wake_dir.mkdir()
    dead = wake_dir / "hubA.999999999.9"  # no such pid
    dead.touch()
    a = SqliteProvider(db, "hubA")
    try:
        run(a.create_hub())
        run(a.send_message(start_message("i1", T0)))
        run(asyncio.sleep(0.05))
        assert not dead.exists()
    finally:
        run(a.close())
