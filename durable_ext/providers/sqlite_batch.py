"""The SQLite task hub's one connection thread, with group commit.

Every provider call becomes an *operation*: a function of the connection, run on this thread
(sqlite3 connections are not safe to share, and SQLite serialises writers anyway). Operations
that arrive while the thread is busy queue up, and the thread then runs all of them — up to
``max_batch`` — in **one** ``BEGIN IMMEDIATE … COMMIT``, each inside its own SAVEPOINT: an
operation that raises rolls back only its own writes, the others commit together. Under load
this turns many small transactions (one per episode checkpoint, activity completion, lock …)
into few larger ones, and many thread hand-offs into few: the thread is woken once per batch and
wakes the event loop once per batch (``call_soon_threadsafe``), instead of once per call.

Crash safety is unchanged: an operation's result (its acknowledgement) is delivered only after
the COMMIT that made its writes durable; if the COMMIT fails, every operation of the batch gets
the error and ``on_abort`` runs (the provider forgets caches that may hold the batch's writes).
A batch holds only operations that were already waiting, so a lone call is not delayed.

Operations marked read-only that form a batch on their own run without a transaction (WAL readers
never block the writer). ``check`` runs before every batch and after every COMMIT; when it raises,
the batch's operations get that error instead of their results (the provider refuses a hub file
that was deleted or replaced under it). Used by ``providers.sqlite``; knows nothing of task hubs.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Op = tuple[Callable[[sqlite3.Connection], Any], bool, asyncio.AbstractEventLoop, asyncio.Future]


def in_savepoint(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``fn(conn)`` in a savepoint of the open transaction; on error undo only its writes."""
    conn.execute("SAVEPOINT op")
    try:
        result = fn(conn)
    except BaseException:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
        except sqlite3.Error:
            # The error already ended the savepoint (SQLITE_FULL, I/O errors may roll back more than
            # the statement): end the whole transaction, so the batch fails with the original error
            # below instead of "no such savepoint", and nothing half-done can be committed.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE op")
    return result


class BatchingThread:
    """Runs operations on one thread and one connection, committing queued writes together."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], sqlite3.Connection],
        *,
        wrap_error: Callable[[sqlite3.Error], Exception],
        on_abort: Callable[[], None] = lambda: None,
        check: Callable[[], None] = lambda: None,
        max_batch: int = 64,
    ) -> None:
        self.name = name
        self.connect = connect
        self.wrap_error = wrap_error
        self.on_abort = on_abort
        self.check = check
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def submit(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> asyncio.Future[T]:
        """Queue ``fn(conn)``; the future resolves on the calling loop once it ran (and committed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    # A daemon: a provider never closed must not hold the interpreter's exit. Nothing
                    # acknowledged is lost if it dies mid-batch — results follow the COMMIT.
                    self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
                    self._thread.start()
        self._queue.put((fn, write, loop, future))
        return future

    async def stop(self) -> None:
        """Run what is queued, close the connection and end the thread; idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)

    # -- on the thread ---------------------------------------------------------------------------

    def _main(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    op = self._queue.get_nowait()
                except queue.Empty:
                    break
                if op is None:
                    stop = True
                    break
                batch.append(op)
            self._deliver(batch, self._run_batch(batch))
            if stop:
                break
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run_batch(self, batch: list[_Op]) -> list[tuple[bool, Any]]:
        """(ok, result or exception) per operation, final only after the batch's COMMIT."""
        try:
            if self._conn is None:
                self._conn = self.connect()
            conn = self._conn
            self.check()
        except sqlite3.Error as exc:
            return [(False, self.wrap_error(exc))] * len(batch)
        except Exception as exc:
            return [(False, exc)] * len(batch)
        transaction = len(batch) > 1 or batch[0][1]
        outcomes: list[tuple[bool, Any]] = []
        try:
            if transaction:
                conn.execute("BEGIN IMMEDIATE")
            for fn, _, _, _ in batch:
                try:
                    result = in_savepoint(conn, fn) if transaction else fn(conn)
                    outcomes.append((True, result))
                except sqlite3.Error as exc:
                    if transaction and not conn.in_transaction:
                        raise  # SQLite rolled the whole transaction back (I/O error, full disk …)
                    outcomes.append((False, self.wrap_error(exc)))
                except Exception as exc:
                    outcomes.append((False, exc))
            if transaction:
                conn.execute("COMMIT")
                self.check()  # committed, but to the file still at the path? Else acknowledge nothing.
        except BaseException as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self.on_abort()
            error = self.wrap_error(exc) if isinstance(exc, sqlite3.Error) else exc
            if not isinstance(error, Exception):
                raise
            return [(False, error)] * len(batch)
        return outcomes

    @staticmethod
    def _deliver(batch: list[_Op], outcomes: list[tuple[bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
        for (_, _, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, results)
            except RuntimeError:
                pass  # that loop is closed: nobody waits any more


def _resolve(results: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
