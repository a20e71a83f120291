"""Group commit of the SQLite hub (providers.sqlite_batch), on a real database file, for both
batchers: on the event loop and on a thread of its own.

Operations queued together share one transaction; each is still all-or-nothing on its own, and
no result is delivered before the COMMIT that made it durable. Another connection's write lock
is waited for (on the loop without blocking it).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from durable_ext.providers.sqlite_batch import BatchingThread, LoopBatcher


class Boom(Exception):
    pass


def _connect(path):
    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        return conn

    return connect


def _rows(path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return sorted(v for (v,) in conn.execute("SELECT v FROM t"))


@pytest.fixture(params=["loop", "thread"])
def kind(request) -> str:
    return request.param


class _Loop:
    """A LoopBatcher with the thread batcher's ``stop``."""

    def __init__(self, batcher: LoopBatcher) -> None:
        self.batcher = batcher

    def submit(self, fn, *, write):
        return self.batcher.submit(fn, write=write)

    async def stop(self) -> None:
        self.batcher.close()


def _batcher(kind: str, path, on_abort=lambda: None, check=lambda: None):
    wrap = lambda exc: RuntimeError(str(exc))
    if kind == "loop":
        return _Loop(LoopBatcher(_connect(path), wrap_error=wrap, on_abort=on_abort, check=check))
    return BatchingThread("test-sqlite", _connect(path), wrap_error=wrap, on_abort=on_abort, check=check)


async def _batched(batcher, ops):
    """Submit ``ops`` so that they form one batch (in one loop iteration; or while the thread is
    held busy); their results."""
    if isinstance(batcher, _Loop):
        futures = [batcher.submit(fn, write=write) for fn, write in ops]
        return await asyncio.gather(*futures, return_exceptions=True)
    gate = threading.Event()
    first = batcher.submit(lambda conn: gate.wait(10), write=False)
    futures = [batcher.submit(fn, write=write) for fn, write in ops]
    gate.set()
    results = await asyncio.gather(first, *futures, return_exceptions=True)
    return results[1:]


def test_queued_writes_commit_together_and_a_failing_one_alone_rolls_back(tmp_path, kind):
    path = tmp_path / "db.sqlite"

    def insert(v):
        return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (v,)).rowcount

    def insert_then_fail(conn):
        conn.execute("INSERT INTO t VALUES (99)")
        raise Boom("no")

    async def main():
        thread = _batcher(kind, path)
        try:
            transactions = []

            def in_transaction(conn):
                transactions.append(conn.in_transaction)
                return conn.execute("SELECT count(*) FROM t").fetchone()[0]

            results = await _batched(
                thread, [(insert(1), True), (insert_then_fail, True), (insert(2), True), (in_transaction, False)]
            )
            assert results[0] == 1 and isinstance(results[1], Boom) and results[2] == 1
            assert results[3] == 2  # sees the batch's own writes, not the rolled-back one
            assert transactions == [True]  # one transaction for the whole batch
        finally:
            await thread.stop()

    asyncio.run(main())
    assert _rows(path) == [1, 2]


def test_a_lone_write_that_fails_leaves_nothing_and_the_next_commits(tmp_path, kind):
    """A write alone in its batch runs without a savepoint of its own: what it wrote before failing
    is rolled back with the transaction, and the connection goes on as before."""
    path = tmp_path / "db.sqlite"

    def insert_then_fail(conn):
        conn.execute("INSERT INTO t VALUES (99)")
        raise Boom("no")

    def insert_then_sql_error(conn):
        conn.execute("INSERT INTO t VALUES (98)")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    async def main():
        batcher = _batcher(kind, path)
        try:
            with pytest.raises(Boom):
                await batcher.submit(insert_then_fail, write=True)
            with pytest.raises(RuntimeError, match="no such table"):
                await batcher.submit(insert_then_sql_error, write=True)
            assert await batcher.submit(lambda conn: conn.execute("INSERT INTO t VALUES (1)").rowcount, write=True) == 1
        finally:
            await batcher.stop()

    asyncio.run(main())
    assert _rows(path) == [1]


def test_a_failed_commit_fails_every_operation_of_the_batch(tmp_path, kind):
    path = tmp_path / "db.sqlite"
    aborted = []

    async def main():
        thread = _batcher(kind, path, on_abort=lambda: aborted.append(True))
        try:

            def end_transaction_early(conn):
                # Simulates SQLite rolling the transaction back under us (I/O error, full disk).
                conn.execute("INSERT INTO t VALUES (7)")
                conn.execute("ROLLBACK")
                raise sqlite3.OperationalError("disk I/O error")

            results = await _batched(
                thread,
                [(lambda conn: conn.execute("INSERT INTO t VALUES (1)").rowcount, True), (end_transaction_early, True)],
            )
            assert all(isinstance(r, RuntimeError) for r in results), results
            # The thread carries on with the next batch.
            assert await thread.submit(lambda conn: conn.execute("INSERT INTO t VALUES (3)").rowcount, write=True) == 1
        finally:
            await thread.stop()

    asyncio.run(main())
    assert aborted == [True]
    assert _rows(path) == [3]


def test_a_lone_read_runs_outside_a_transaction_and_sqlite_errors_are_wrapped(tmp_path, kind):
    path = tmp_path / "db.sqlite"

    async def main():
        thread = _batcher(kind, path)
        try:
            assert await thread.submit(lambda conn: conn.in_transaction, write=False) is False
            assert await thread.submit(lambda conn: conn.in_transaction, write=True) is True
            with pytest.raises(RuntimeError, match="no such table"):
                await thread.submit(lambda conn: conn.execute("SELECT * FROM nope"), write=False)
        finally:
            await thread.stop()
            await thread.stop()  # idempotent

    asyncio.run(main())


def test_a_write_waits_for_another_connections_write_lock(tmp_path, kind):
    path = tmp_path / "db.sqlite"
    other = _connect(path)()
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    other.execute("INSERT INTO t VALUES (1)")

    async def main():
        thread = _batcher(kind, path)
        try:
            write = thread.submit(lambda conn: conn.execute("INSERT INTO t VALUES (2)").rowcount, write=True)
            read = thread.submit(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0], write=False)
            ticks = 0
            for _ in range(30):  # the loop keeps running meanwhile (the loop batcher never blocks it)
                await asyncio.sleep(0.01)
                ticks += 1
            assert ticks == 30
            assert not write.done()  # still waiting for the lock, not failed
            other.execute("COMMIT")
            assert await write == 1
            assert await read == 2  # queued behind the write, in its transaction
        finally:
            await thread.stop()

    try:
        asyncio.run(main())
    finally:
        other.close()
    assert _rows(path) == [1, 2]


def test_a_failing_check_after_the_commit_acknowledges_none_of_the_batch(tmp_path, kind):
    # The provider's check refuses a hub file deleted or replaced under it (#10 finding 6): writes that
    # went to the unlinked file must not be acknowledged, and nothing may run against it afterwards.
    path = tmp_path / "db.sqlite"
    refused = {"now": False}
    aborted: list[bool] = []

    def check() -> None:
        if refused["now"]:
            raise Boom("file gone")

    def insert_and_lose_the_file(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        refused["now"] = True  # as if the file were unlinked while this batch ran

    async def scenario():
        thread = _batcher(kind, path, on_abort=lambda: aborted.append(True), check=check)
        try:
            first = await asyncio.gather(thread.submit(insert_and_lose_the_file, write=True), return_exceptions=True)
            later = await asyncio.gather(thread.submit(lambda conn: 1, write=False), return_exceptions=True)
            return first + later
        finally:
            await thread.stop()

    results = asyncio.run(scenario())
    assert [type(r) for r in results] == [Boom, Boom]
    assert aborted == [True]


def _loop_batcher(path, check=lambda: None) -> LoopBatcher:
    return LoopBatcher(_connect(path), wrap_error=lambda exc: RuntimeError(str(exc)), check=check)


def test_a_lone_operation_on_an_idle_loop_runs_at_once_and_is_committed(tmp_path):
    # The batch it would join is one of its own: run now, two loop iterations sooner, same outcome.
    path = tmp_path / "db.sqlite"

    async def scenario():
        batcher = _loop_batcher(path)
        try:
            await batcher.submit(lambda conn: None, write=False)  # binds the batcher to this loop
            written = batcher.run_alone(lambda conn: conn.execute("INSERT INTO t VALUES (1)").rowcount, write=True)
            seen_by_another_connection = _rows(path)  # before this coroutine yields once
            failed = batcher.run_alone(lambda conn: conn.execute("INSERT INTO nope VALUES (1)"), write=True)
            return written, seen_by_another_connection, failed
        finally:
            batcher.close()

    written, seen, failed = asyncio.run(scenario())
    assert written == (True, 1)
    assert seen == [1]  # committed when acknowledged
    assert failed[0] is False and "no such table: nope" in str(failed[1])
    assert _rows(path) == [1]


def test_an_operation_runs_alone_only_when_nothing_else_could_share_its_batch(tmp_path):
    path = tmp_path / "db.sqlite"

    async def scenario():
        batcher = _loop_batcher(path)
        try:
            insert = lambda conn: conn.execute("INSERT INTO t VALUES (1)").rowcount
            assert batcher.run_alone(insert, write=True) is None  # not bound to a loop yet
            await batcher.submit(lambda conn: None, write=False)
            asyncio.get_running_loop().call_soon(lambda: None)  # another callback ready: it may submit
            assert batcher.run_alone(insert, write=True) is None
            await asyncio.sleep(0)
            queued = batcher.submit(insert, write=True)  # a batch already waiting for its flush
            assert batcher.run_alone(insert, write=True) is None
            assert await queued == 1
            assert batcher.run_alone(insert, write=True) == (True, 1)
        finally:
            batcher.close()

    asyncio.run(scenario())
    assert _rows(path) == [1, 1]


def test_an_operation_that_finds_the_write_lock_taken_is_queued_to_wait_for_it(tmp_path):
    path = tmp_path / "db.sqlite"
    other = _connect(path)()

    async def scenario():
        batcher = _loop_batcher(path)
        try:
            await batcher.submit(lambda conn: None, write=False)
            other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
            insert = lambda conn: conn.execute("INSERT INTO t VALUES (2)").rowcount
            assert batcher.run_alone(insert, write=True) is None  # nothing ran
            write = batcher.submit(insert, write=True)
            await asyncio.sleep(0.05)
            assert not write.done()
            other.execute("INSERT INTO t VALUES (1)")
            other.execute("COMMIT")
            return await write
        finally:
            batcher.close()

    try:
        assert asyncio.run(scenario()) == 1
    finally:
        other.close()
    assert _rows(path) == [1, 2]
