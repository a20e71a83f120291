"""How the SQLite task hub runs its statements: in batches, with group commit, mostly on the event loop.

Every provider call becomes an *operation*: a function of a connection. Operations submitted
together — in one iteration of the event loop — run together: all of them (up to ``max_batch``)
in **one** ``BEGIN IMMEDIATE … COMMIT``, each inside its own SAVEPOINT, so an operation that
raises rolls back only its own writes and the others commit together. Many small transactions
(one per checkpoint, activity completion, lock …) become few larger ones.

:class:`LoopBatcher` runs them on the event loop's own thread. A hub statement takes micro- to
milliseconds (WAL, ``synchronous=NORMAL``: a commit is an append, no fsync), far less than what a
hand-off to a worker thread costs in Python: two thread switches per call, and while one thread
waits for the GIL after a statement (sqlite3 releases it around each one) the other runs — the
profile showed the SQLite thread spending more time waiting for the GIL and in BEGIN/COMMIT than
in the operations themselves. The loop is never *blocked* on another process's write lock: a
``BEGIN IMMEDIATE`` that finds the file locked is tried again 0.1–2 ms later from a timer, the
batch (and whatever queues behind it) waiting meanwhile. :class:`BatchingThread` runs the same
batches on a thread of its own, for reads that may be large (listing a page of 1,000 instances)
and for calls made from another event loop than the one the loop batcher serves.

Crash safety is unchanged: an operation's result (its acknowledgement) is delivered only after
the COMMIT that made its writes durable; if the COMMIT fails, every operation of the batch gets
the error and ``on_abort`` runs (the provider forgets caches that may hold the batch's writes).
A batch holds only operations that were already waiting, so a lone call is not delayed. A lone
read-only operation runs without a transaction (WAL readers never wait for the writer).
``check`` runs once per batch — after the COMMIT of a transaction, before a lone read — and when
it raises, the batch's operations get that error instead of their results (the provider refuses a
hub file that was deleted or replaced under it: writes that went to a file no longer at the path
are never acknowledged, and nothing is read from one). Used by ``providers.sqlite``; knows nothing of task hubs.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: How long a batch waits for another process's write lock before it fails (SQLite's busy timeout).
BUSY_TIMEOUT_SECONDS = 30.0
#: The longest pause between two tries: SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms, a
#: long nap next to a holder that keeps the lock for a millisecond (another host on the same file).
_MAX_BUSY_PAUSE = 0.002
_FIRST_BUSY_PAUSE = 0.0001
#: How long a batch tries a busy write lock again at once (between the loop's other callbacks) before
#: it backs off: another host process on the file holds it for one transaction, a fraction of that.
_SPIN_SECONDS = 0.001

Operation = Callable[[sqlite3.Connection], Any]
_Outcome = tuple[bool, Any]  # (ok, result or exception)


class Busy(Exception):
    """Another connection holds the write lock (raised by a ``begin`` that does not wait)."""


def in_savepoint(conn: sqlite3.Connection, fn: Operation) -> Any:
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
            # instead of "no such savepoint", and nothing half-done can be committed.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        raise
    conn.execute("RELEASE op")
    return result


def open_connection(connect: Callable[[], sqlite3.Connection]) -> sqlite3.Connection:
    # Several host processes opening a new file at once: switching it to WAL needs the file to
    # itself, and SQLite answers "database is locked" at once instead of waiting for the others.
    conn = _busy_retry(connect)
    conn.execute("PRAGMA busy_timeout=0")  # waiting for another process's lock is the batcher's job
    return conn


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


def execute_batch(
    conn: sqlite3.Connection,
    ops: list[tuple[Operation, bool]],
    *,
    begin: Callable[[], object],
    read: Callable[[Operation], Any],
    wrap_error: Callable[[sqlite3.Error], Exception],
    on_abort: Callable[[], None],
    check: Callable[[], None] = lambda: None,
) -> list[_Outcome]:
    """Run ``ops`` ((fn, writes) pairs) as one batch; the outcome of each, final after the COMMIT.

    ``begin()`` starts the transaction (and raises :class:`Busy` if it will not wait; nothing ran
    then). ``read(fn)`` runs a lone read-only operation outside a transaction.
    """
    transaction = len(ops) > 1 or ops[0][1]
    if not transaction:
        try:
            check()
            return [(True, read(ops[0][0]))]
        except Busy:
            raise
        except sqlite3.Error as exc:
            return [(False, wrap_error(exc))]
        except Exception as exc:
            return [(False, exc)]
    begin()
    outcomes: list[_Outcome] = []
    # A lone operation needs no savepoint of its own: the transaction is its savepoint.
    alone = len(ops) == 1
    try:
        for fn, _ in ops:
            try:
                outcomes.append((True, fn(conn) if alone else in_savepoint(conn, fn)))
            except sqlite3.Error as exc:
                if not conn.in_transaction:
                    raise  # SQLite rolled the whole transaction back (I/O error, full disk …)
                outcomes.append((False, wrap_error(exc)))
            except Exception as exc:
                outcomes.append((False, exc))
        if alone and not outcomes[0][0]:
            conn.execute("ROLLBACK")  # undo what it wrote before failing; nothing else to commit
            return outcomes
        conn.execute("COMMIT")
        check()  # committed, but to the file still at the path? Else acknowledge nothing.
    except BaseException as exc:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        on_abort()
        error = wrap_error(exc) if isinstance(exc, sqlite3.Error) else exc
        if not isinstance(error, Exception):
            raise
        return [(False, error)] * len(ops)
    return outcomes


class LoopBatcher:
    """Runs operations on the thread of the event loop that first submits one (see module doc)."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        wrap_error: Callable[[sqlite3.Error], Exception],
        on_abort: Callable[[], None] = lambda: None,
        check: Callable[[], None] = lambda: None,
        max_batch: int = 64,
    ) -> None:
        self.connect = connect
        self.wrap_error = wrap_error
        self.on_abort = on_abort
        self.check = check
        self.max_batch = max_batch
        self.loop: asyncio.AbstractEventLoop | None = None
        self._conn: sqlite3.Connection | None = None
        self._pending: deque[tuple[Operation, bool, asyncio.Future]] = deque()
        self._scheduled = False
        self._busy_since: float | None = None
        self._pause = _FIRST_BUSY_PAUSE
        self._closed = False

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether calls from ``loop`` belong here (the first loop to call binds the batcher)."""
        return not self._closed and (self.loop is None or self.loop is loop)

    def submit(self, fn: Operation, *, write: bool) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        future = loop.create_future()
        self._pending.append((fn, write, future))
        if not self._scheduled and self._busy_since is None:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def run_alone(self, fn: Operation, *, write: bool) -> _Outcome | None:
        """``fn``'s outcome, run now, when the batch it would join is one of its own anyway: nothing
        queued or waiting for a lock, and no other callback ready on the loop (anything submitted
        from now on runs after the flush ``submit`` would schedule). None: ``submit`` it.

        The same batch, two loop iterations sooner: the flush's and the caller's wake-up.
        """
        loop = self.loop
        # (BaseEventLoop's queue of ready callbacks; a loop without one never runs operations alone)
        ready = getattr(loop, "_ready", None)
        if ready is None or ready or self._pending or self._busy_since is not None or self._closed:
            return None
        try:
            return self._execute([(fn, write)], wait=False)[0]
        except Busy:
            return None  # nothing ran: queued, it waits for the lock as a batch does

    def close(self) -> None:
        """Run what is queued (waiting for a lock if it must), then close the connection."""
        self._closed = True
        while self._pending:
            self._run_next(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush(self) -> None:
        self._scheduled = False
        if self._closed:
            return  # close() ran what was queued
        if self._pending and self._run_next(wait=False) and self._pending and self.loop is not None:
            # More than one batch queued: let the loop run its other callbacks in between.
            self._scheduled = True
            self.loop.call_soon(self._flush)

    def _retry(self) -> None:
        self._flush()

    def _run_next(self, *, wait: bool) -> bool:
        """Run the next batch; False if it must wait for another process's lock (retry scheduled)."""
        count = min(len(self._pending), self.max_batch)
        batch = [self._pending[i] for i in range(count)]
        try:
            outcomes = self._execute([(fn, write) for fn, write, _ in batch], wait)
        except Busy:
            return self._wait_for_lock()
        self._busy_since = None
        self._pause = _FIRST_BUSY_PAUSE
        for _ in range(count):
            self._pending.popleft()
        _resolve([(future, ok, value) for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True)])
        return True

    def _execute(self, ops: list[tuple[Operation, bool]], wait: bool) -> list[_Outcome]:
        """``execute_batch`` on the loop's connection; raises ``Busy`` (nothing ran) for a lock it
        must wait for, unless ``wait``."""
        try:
            if self._conn is None:
                self._conn = open_connection(self.connect)
            conn = self._conn
            return execute_batch(
                conn,
                ops,
                begin=lambda: self._begin(conn, wait),
                read=lambda fn: self._read(conn, fn, wait),
                wrap_error=self.wrap_error,
                on_abort=self.on_abort,
                check=self.check,
            )
        except Busy:
            raise
        except sqlite3.Error as exc:
            return [(False, self.wrap_error(exc))] * len(ops)
        except Exception as exc:
            return [(False, exc)] * len(ops)

    def _begin(self, conn: sqlite3.Connection, wait: bool) -> None:
        if wait:
            _busy_retry(lambda: conn.execute("BEGIN IMMEDIATE"))
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_busy(exc) and (
                self._busy_since is None or time.monotonic() - self._busy_since < BUSY_TIMEOUT_SECONDS
            ):
                raise Busy from exc
            raise

    @staticmethod
    def _read(conn: sqlite3.Connection, fn: Operation, wait: bool) -> Any:
        if wait:
            return _busy_retry(lambda: fn(conn))
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            if is_busy(exc):  # rare for a WAL reader (recovery, a truncating checkpoint): idempotent
                raise Busy from exc
            raise

    def _wait_for_lock(self) -> bool:
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
        assert self.loop is not None
        if now - self._busy_since < _SPIN_SECONDS:
            # Another process holds the lock for a transaction (a fraction of a millisecond): try
            # again after the loop's other ready callbacks, not after a timer the selector rounds
            # up to a whole millisecond.
            self.loop.call_soon(self._retry)
            return False
        self.loop.call_later(self._pause, self._retry)
        self._pause = min(self._pause * 2, _MAX_BUSY_PAUSE)
        return False


class BatchingThread:
    """Runs operations on a thread and connection of its own, batching those queued meanwhile."""

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
        self._queue: queue.SimpleQueue[tuple[Operation, bool, asyncio.AbstractEventLoop, asyncio.Future] | None]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def submit(self, fn: Operation, *, write: bool) -> asyncio.Future:
        """Queue ``fn(conn)``; the future resolves on the calling loop once it ran (and committed)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
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

    def _run_batch(self, batch: list) -> list[_Outcome]:
        try:
            if self._conn is None:
                self._conn = open_connection(self.connect)
            conn = self._conn
            return execute_batch(
                conn,
                [(fn, write) for fn, write, _, _ in batch],
                begin=lambda: _busy_retry(lambda: conn.execute("BEGIN IMMEDIATE")),
                # A lone read is idempotent, so it may simply be tried again if it meets a lock.
                read=lambda fn: _busy_retry(lambda: fn(conn)),
                wrap_error=self.wrap_error,
                on_abort=self.on_abort,
                check=self.check,
            )
        except sqlite3.Error as exc:
            return [(False, self.wrap_error(exc))] * len(batch)
        except Exception as exc:
            return [(False, exc)] * len(batch)

    @staticmethod
    def _deliver(batch: list, outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
        for (_, _, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, results in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, results)
            except RuntimeError:
                pass  # that loop is closed: nobody waits any more


def _busy_retry(fn: Callable[[], T]) -> T:
    """``fn()``, tried again after a short pause while it fails with SQLITE_BUSY (up to the timeout)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    pause = _FIRST_BUSY_PAUSE
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _MAX_BUSY_PAUSE)


def _resolve(results: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
