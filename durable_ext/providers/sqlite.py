"""The embedded SQLite task hub: the default provider.

One file may hold several hubs (``hub`` leads every key; see ``sqlite_schema`` for the layout and
why locks have their own table). Every provider object owns one connection, used only from its
own single worker thread: sqlite3 connections are not safe to share, and one writer per
connection is what SQLite serialises anyway. Each public coroutine ships a closure to that thread.

Writes run as ``BEGIN IMMEDIATE … COMMIT``: the write lock is taken up front, so two providers
(threads or host processes) sharing the file serialise on it and never both lock one instance,
and a checkpoint is all or nothing. Events are serialised and parsed outside the write
transaction, so other processes wait for the lock as little as possible.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from durable_ext.core.clock import Clock, SystemClock, new_token
from durable_ext.core.events import ExecutionStarted, HistoryEvent
from durable_ext.core.messages import (
    ActivityWorkItem,
    InstancePage,
    InstanceQuery,
    InstanceState,
    OrchestrationCommit,
    OrchestrationWorkItem,
    TaskMessage,
)
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire import loads_event
from durable_ext.errors import (
    HandOffDeclined,
    InstanceExistsError,
    LockLostError,
    ProviderError,
    StorageUnavailableError,
)
from durable_ext.providers import sqlite_schema as schema
from durable_ext.providers.base import Lease, WorkSignal
from durable_ext.providers.sqlite_batch import BatchingThread, LoopBatcher
from durable_ext.providers.sqlite_cache import HistoryCache
from durable_ext.providers.sqlite_checkpoint import (
    Checkpoint,
    checkpoint_rows,
    leased_items,
    lock_instance,
    lock_lost,
    work_item,
    write_checkpoint,
)
from durable_ext.providers.sqlite_schema import (
    AFFINITY_GRACE_US,
    CAN_CONTINUE,
    HAS_MESSAGE,
    INSERT_EVENT,
    INSERT_PENDING,
    INSTANCE_COLUMNS,
    LOCK_TASKS,
    PICK_INSTANCE,
    PICKS,
    SELECT_INSTANCE,
    event_row,
    from_micros,
    instance_from_row,
    micros_or_none,
    pending_row,
    pending_state,
    to_micros,
)
from durable_ext.providers.sqlite_wake import Doorbell

T = TypeVar("T")

_RUNNING_STATUSES = tuple(s.value for s in RuntimeStatus if s.is_running)


def _file_identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def stored_hub_name(path: Path, hub: str) -> str | None:
    """How a hub named ``hub`` (ignoring case) is spelled in the file, or None if it has no such hub.

    Blocking; opens the file briefly. Hub names are case-insensitive, as Azure Storage's table
    names are, so a client that writes ``otherhub`` reaches the hub its app created as ``OtherHub``.
    """
    if not path.exists():
        return None
    conn = sqlite3.connect(path, timeout=30.0)
    try:
        row = conn.execute(
            "SELECT hub FROM hubs WHERE hub = ? COLLATE NOCASE ORDER BY created_time LIMIT 1", (hub,)
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return row[0] if row else None


class SqliteProvider:
    """Task hub ``hub`` in the SQLite file ``path`` (created with its directories on first use)."""

    def __init__(self, path: Path | str, hub: str, *, batch_size: int = 100, clock: Clock | None = None) -> None:
        """``clock`` stamps what the provider records on its own (the hub's creation, a message's
        enqueue time) and is ``next_visible_time``'s default ``now``; every lock and visibility
        decision uses the ``now`` its caller passes."""
        self.path = Path(path)
        self.hub = hub
        self.clock = clock or SystemClock()
        #: Most messages one orchestration work item carries.
        self.batch_size = batch_size
        self.work_signal = WorkSignal()
        self._histories = HistoryCache(hub, loads_event)
        # Statements run in batches with group commit on the event loop's thread; large reads,
        # and calls from another loop, on a thread with a connection of its own (sqlite_batch).
        #: (st_dev, st_ino) of the file the connections opened; see _check_identity.
        self._identity: tuple[int, int] | None = None
        self._batcher = LoopBatcher(
            self._connect,
            wrap_error=self._error,
            on_abort=self._histories.clear,  # it may hold writes of the batch that did not commit
            check=self._check_identity,
        )
        self._thread = BatchingThread(
            f"durable-sqlite-{hub}",
            self._connect,
            wrap_error=self._error,
            on_abort=self._histories.clear,
            check=self._check_identity,
        )
        # Other processes on this hub file hear of the work this one enqueues (sqlite_wake).
        self._doorbell: Doorbell | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"SqliteProvider({str(self.path)!r}, {self.hub!r})"

    # -- plumbing --------------------------------------------------------------------------------

    def _now_us(self) -> int:
        return to_micros(self.clock.now())

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False, large: bool = False) -> T:
        """Run ``fn(connection)`` in the next batch (sqlite_batch); sqlite3 errors become ``ProviderError``.

        ``write``: ``fn`` writes (it runs in a transaction — shared with the other operations of
        its batch, in a savepoint of its own — and its result comes after the COMMIT).
        ``large``: a read that may take long (a page of up to 1,000 instances, a whole history),
        run on the provider's thread so that it does not hold up the event loop.
        """
        if self._closed:
            raise ProviderError(f"{self!r} is closed")
        if not large and self._batcher.serves(asyncio.get_running_loop()):
            outcome = self._batcher.run_alone(fn, write=write)
            if outcome is None:
                result = await self._batcher.submit(fn, write=write)
            elif outcome[0]:
                result = outcome[1]
            else:
                raise outcome[1]
        else:
            result = await self._thread.submit(fn, write=write)
        if self._doorbell is None:
            # Only now: the doorbell registers next to the hub file, whose directory the first
            # connection creates — before it, a process that opened a new hub stayed unregistered
            # (deaf and mute to the others: they met its work at their next poll).
            self._doorbell = Doorbell(self.path, self.hub, self.work_signal)
            self._doorbell.open()
        return result

    def _connect(self) -> sqlite3.Connection:
        if self._identity is not None:
            # A later connection (the thread's, opened on first use) must not create a new, empty
            # file where ours was deleted, nor open one that replaced it: refused as the others are.
            self._check_identity()
        conn = schema.connect(self.path)
        if self._identity is None:
            self._identity = _file_identity(self.path)
        return conn

    def _check_identity(self) -> None:
        """Refuse to go on when the file was deleted or replaced under the open connection.

        SQLite keeps reading and writing the unlinked inode, so every commit after a deletion would
        be acknowledged and then lost with the process. The batchers check before every batch and
        after every COMMIT (a deletion during a commit must not be acknowledged either).
        """
        try:
            now = _file_identity(self.path)
        except FileNotFoundError:
            problem = "was deleted"
        else:
            if now == self._identity:
                return
            problem = "was replaced by another file"
        raise StorageUnavailableError(
            f"The SQLite task hub file {self.path} {problem} while the host was running; no more work is "
            "accepted. Restart the host (work stored only in the old file is gone with it)."
        )

    def _error(self, exc: sqlite3.Error) -> ProviderError:
        error = ProviderError(f"SQLite task hub {self.path} (hub '{self.hub}'): {exc}")
        error.__cause__ = exc
        return error

    @staticmethod
    def _transaction(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
        """Run ``fn`` inside BEGIN IMMEDIATE … COMMIT; roll back if anything raises.

        Inside the connection thread's batch transaction (write operations), ``fn`` just runs:
        the batch gives it a savepoint and commits it with the others.
        """
        if conn.in_transaction:
            return fn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._run(fn, write=True)

    # -- hub lifecycle ---------------------------------------------------------------------------

    async def create_hub(self) -> None:
        """Create the file, the schema and the hub's row; idempotent."""
        now = self._now_us()
        await self._write(
            lambda conn: conn.execute("INSERT OR IGNORE INTO hubs (hub, created_time) VALUES (?, ?)", (self.hub, now))
        )

    async def delete_hub(self) -> None:
        """Delete every row of this hub; other hubs in the file are untouched."""

        def delete(conn: sqlite3.Connection) -> None:
            self._histories.clear()
            for table in schema.HUB_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE hub = ?", (self.hub,))

        await self._write(delete)

    async def close(self) -> None:
        """Close the connection and stop the worker thread; idempotent."""
        if self._closed:
            return
        self._closed = True  # first, so no call can slip in after the close and reopen the file
        if self._doorbell is not None:
            self._doorbell.close()
        self._batcher.close()  # runs what is queued, then closes the connections
        await self._thread.stop()

    # -- clients ---------------------------------------------------------------------------------

    async def create_instance(
        self, start: TaskMessage, *, now: datetime, dedupe: bool = True, visible_at: datetime | None = None
    ) -> None:
        """Create (or replace a finished) instance as Pending and enqueue its ExecutionStarted."""
        event = start.event
        if not isinstance(event, ExecutionStarted):
            raise TypeError(f"create_instance needs an ExecutionStarted message, got {type(event).__name__}")
        now_us = to_micros(now)
        pending = pending_row(self.hub, start.instance_id, event, now_us)
        message = event_row(self.hub, start, micros_or_none(visible_at), now_us)

        def create(conn: sqlite3.Connection) -> None:
            self._create_pending(conn, start.instance_id, pending, dedupe)
            conn.execute(INSERT_EVENT, message)

        await self._write(create)
        self.work_signal.notify(WorkSignal.inbox_of(start.instance_id))

    def _create_pending(self, conn: sqlite3.Connection, instance_id: str, pending: tuple | None, dedupe: bool) -> None:
        """Make way for a new instance (``InstanceExistsError``, or the finished one purged) and
        insert its ``pending`` row (None: the caller writes the row itself)."""
        row = conn.execute(
            "SELECT runtime_status FROM instances WHERE hub = ? AND instance_id = ?", (self.hub, instance_id)
        ).fetchone()
        if row is not None:
            if dedupe and row[0] in _RUNNING_STATUSES:
                raise InstanceExistsError(f"An instance with ID '{instance_id}' already exists ({row[0]}).")
            self._purge(conn, [instance_id])
        if pending is not None:
            conn.execute(INSERT_PENDING, pending)

    async def create_instance_locking(
        self, start: TaskMessage, *, now: datetime, lease: Lease
    ) -> OrchestrationWorkItem:
        """:meth:`create_instance` (no ``visible_at``), and the new instance locked for
        ``lease.worker_id`` in the same transaction: its work item. ``InstanceExistsError`` as
        ``create_instance``."""
        assert isinstance(start.event, ExecutionStarted)
        now_us = to_micros(now)
        pending = pending_row(self.hub, start.instance_id, start.event, now_us)
        message = event_row(self.hub, start, None, now_us)
        expires_us = now_us + lease.lock_timeout // timedelta(microseconds=1)

        def create(conn: sqlite3.Connection) -> tuple:
            self._create_pending(conn, start.instance_id, pending, dedupe=True)
            conn.execute(INSERT_EVENT, message)
            return self._lock_instance(conn, start.instance_id, lease.worker_id, expires_us, now_us)

        return work_item(await self._write(create), expires_us)

    def first_episode_item(self, start: TaskMessage, *, now: datetime) -> OrchestrationWorkItem:
        """The work item :meth:`create_instance_locking` would return for ``start``, made without
        touching the hub: the instance Pending as ``start`` describes it, ``start`` its one
        message (never queued: no id), no lock. What :meth:`create_instance_with_episode` commits."""
        event = start.event
        assert isinstance(event, ExecutionStarted)
        state = pending_state(start.instance_id, event, to_micros(now))
        return OrchestrationWorkItem(start.instance_id, "", state, [], [("", start)])

    async def create_instance_with_episode(
        self,
        start: TaskMessage,
        item: OrchestrationWorkItem,
        commit: OrchestrationCommit,
        *,
        now: datetime,
        worker_id: str,
        lease: Lease | None,
    ) -> list[ActivityWorkItem]:
        """:meth:`create_instance` (no ``visible_at``) and the checkpoint of its first episode,
        decided before anything was written, in one transaction (see ``HandsOffWork``).

        ``item`` is :meth:`first_episode_item`'s; the instance is left as every checkpoint leaves
        it: unlocked, its affinity with ``worker_id``. ``commit``'s tasks leased under ``lease`` as
        in :meth:`complete_orchestration_leasing`. ``InstanceExistsError`` as ``create_instance``,
        with nothing written.
        """
        assert isinstance(start.event, ExecutionStarted)
        # The checkpoint writes the instance row as the episode left it; Pending only without one.
        pending = (
            None if commit.state is not None else pending_row(self.hub, start.instance_id, start.event, to_micros(now))
        )

        def created(conn: sqlite3.Connection) -> None:
            self._create_pending(conn, start.instance_id, pending, dedupe=True)
            conn.execute(
                # (a row may be left by messages sent to the id before it existed: this start takes it)
                "INSERT OR REPLACE INTO locks (hub, instance_id, lock_token, locked_by, lock_expiration) "
                "VALUES (?, ?, '', ?, 0)",
                (self.hub, start.instance_id, worker_id),
            )

        return await self._commit_episode(item, commit, now, lease, created, creates=True)

    async def send_message(self, message: TaskMessage, *, visible_at: datetime | None = None) -> None:
        """Append to the inbox; does not check that the instance exists (the client does)."""
        row = event_row(self.hub, message, micros_or_none(visible_at), self._now_us())
        await self._write(lambda conn: conn.execute(INSERT_EVENT, row))
        self.work_signal.notify(WorkSignal.inbox_of(message.instance_id))

    async def get_instance(self, instance_id: str) -> InstanceState | None:
        row = await self._run(lambda conn: conn.execute(SELECT_INSTANCE, (self.hub, instance_id)).fetchone())
        return None if row is None else instance_from_row(row)

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        """The current execution's history (the execution the instance row names)."""

        def read(conn: sqlite3.Connection) -> list[HistoryEvent]:
            rows = conn.execute(
                "SELECT h.event_json FROM history AS h JOIN instances AS i ON i.hub = h.hub "
                "AND i.instance_id = h.instance_id AND h.execution_id = coalesce(i.execution_id, '') "
                "WHERE h.hub = ? AND h.instance_id = ? ORDER BY h.sequence_number",
                (self.hub, instance_id),
            ).fetchall()
            return [loads_event(r[0]) for r in rows]

        return await self._run(read, large=True)

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        """One page ordered by (created_time, instance_id); keyset paging, so pages never skip or
        repeat rows when instances are created or purged between calls."""
        where, params = schema.instance_filter(self.hub, query)
        if query.continuation_token:
            created_us, last_id = schema.decode_token(query.continuation_token)
            where += " AND (created_time, instance_id) > (?, ?)"
            params += [created_us, last_id]
        size = max(1, query.page_size)
        sql = f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE {where} ORDER BY created_time, instance_id LIMIT ?"
        rows = await self._run(lambda conn: conn.execute(sql, (*params, size + 1)).fetchall(), large=size > 100)
        more = len(rows) > size
        rows = rows[:size]
        instances = [instance_from_row(r, include_input=query.include_input) for r in rows]
        token = schema.encode_token(rows[-1][3], rows[-1][0]) if more else None
        return InstancePage(instances, token)

    async def purge_instance(self, instance_id: str) -> int:
        return await self._write(lambda conn: self._purge(conn, [instance_id]))

    async def purge_instances(self, query: InstanceQuery) -> int:
        """Every match (all pages, ignoring the continuation token), in one transaction."""
        where, params = schema.instance_filter(self.hub, query)

        def purge(conn: sqlite3.Connection) -> int:
            ids = [r[0] for r in conn.execute(f"SELECT instance_id FROM instances WHERE {where}", params)]
            return self._purge(conn, ids)

        return await self._write(purge)

    def _purge(self, conn: sqlite3.Connection, instance_ids: Iterable[str]) -> int:
        """Delete instances with everything they own (and their locks, so a worker still holding
        one cannot commit them back to life); returns how many instance rows went."""
        keys = [(self.hub, iid) for iid in instance_ids]
        if not keys:
            return 0
        for _, iid in keys:
            self._histories.forget(iid)
        for table in ("locks", "new_tasks", "new_events", "history"):
            conn.executemany(f"DELETE FROM {table} WHERE hub = ? AND instance_id = ?", keys)
        return conn.executemany("DELETE FROM instances WHERE hub = ? AND instance_id = ?", keys).rowcount

    # -- orchestration work ----------------------------------------------------------------------

    async def lock_next_orchestration(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str, entities: bool | None = None
    ) -> OrchestrationWorkItem | None:
        """Lock the first eligible instance (see ``sqlite_schema.PICK``) and load its messages,
        state and current execution's history; the lock is a ``locks`` row with a fresh token."""
        items = await self.lock_next_orchestrations(
            now=now, lock_timeout=lock_timeout, worker_id=worker_id, entities=entities, limit=1
        )
        return items[0] if items else None

    async def lock_next_orchestrations(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str, entities: bool | None = None, limit: int
    ) -> list[OrchestrationWorkItem]:
        """Up to ``limit`` work items as :meth:`lock_next_orchestration` locks them, in one
        transaction (a dispatcher with several free slots fills them with one call)."""
        now_us = to_micros(now)
        expires_us = now_us + lock_timeout // timedelta(microseconds=1)
        hub = self.hub

        def lock_one(conn: sqlite3.Connection) -> tuple | None:
            params = {"hub": hub, "now": now_us, "worker": worker_id, "stale": now_us - AFFINITY_GRACE_US}
            for sql in PICKS[entities]:
                row = conn.execute(sql, params).fetchone()
                if row is not None:
                    return self._lock_instance(conn, row[0], worker_id, expires_us, now_us)
            return None

        def lock(conn: sqlite3.Connection) -> list[tuple]:
            locked: list[tuple] = []
            while len(locked) < limit:  # each pick skips the instances locked just before it
                rows = lock_one(conn)
                if rows is None:
                    break
                locked.append(rows)
            return locked

        # Parsed once the batch committed: other host processes wait for the write lock meanwhile.
        locked = await self._run(lambda conn: self._transaction(conn, lambda: lock(conn)), write=True)
        return [work_item(rows, expires_us) for rows in locked]

    def _lock_instance(self, conn: sqlite3.Connection, instance_id: str, worker_id: str, expires_us: int, now_us: int):
        return lock_instance(
            conn,
            self.hub,
            instance_id,
            worker_id=worker_id,
            expires_us=expires_us,
            now_us=now_us,
            batch_size=self.batch_size,
            histories=self._histories,
        )

    async def complete_orchestration(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, *, now: datetime
    ) -> None:
        """Checkpoint one episode in one transaction, then unlock (see base.py's module contract).

        Raises ``LockLostError`` (and changes nothing) if our lock row is gone or carries another
        token, or if the history rows already exist (a second commit of the same episode).
        """
        await self._commit_episode(item, commit, now, None)

    async def complete_orchestration_leasing(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, *, now: datetime, lease: Lease
    ) -> list[ActivityWorkItem]:
        """:meth:`complete_orchestration`; the first ``lease.limit`` activity tasks are inserted
        leased to ``lease.worker_id`` (as ``lock_next_activities`` would lease them) and returned."""
        return await self._commit_episode(item, commit, now, lease)

    async def _commit_episode(
        self,
        item: OrchestrationWorkItem,
        commit: OrchestrationCommit,
        now: datetime,
        lease: Lease | None,
        prelude: Callable[[sqlite3.Connection], None] | None = None,
        *,
        creates: bool = False,
    ) -> list[ActivityWorkItem]:
        """Checkpoint ``commit`` in one transaction; the tasks it leased under ``lease``.
        ``creates``: the instance has no row yet (``prelude`` makes way for it).

        ``prelude(conn)`` runs first in that transaction, for an episode whose one message was
        never queued and which holds no lock (``complete_activity_with_episode``,
        ``create_instance_with_episode``): it checks what a lock would have guaranteed (or creates
        the instance), and a history key already taken is then ``HandOffDeclined``.
        """
        now_us = to_micros(now)
        leased = 0 if lease is None else min(lease.limit, len(commit.activities))
        token = new_token() if leased else ""
        expires_us = now_us + (lease.lock_timeout // timedelta(microseconds=1) if lease else 0)
        lease_columns = (lease.worker_id, expires_us, token) if lease is not None else ()

        finished = commit.state is not None and commit.state.runtime_status.is_terminal

        waiting: object = None  # a message arrived while the episode ran: the loop must fetch again

        def checkpoint(conn: sqlite3.Connection, rows: Checkpoint, locked: bool) -> list[int]:
            nonlocal waiting
            seqs = write_checkpoint(
                conn,
                self.hub,
                item,
                commit.replace_history,
                rows,
                leased,
                lease_columns,
                locked=locked,
                finished=finished,
                unlocked=creates,  # (the prelude wrote the row unlocked)
            )
            waiting = not finished and conn.execute(HAS_MESSAGE, (self.hub, item.instance_id, now_us)).fetchone()
            return seqs

        def write(conn: sqlite3.Connection, rows: Checkpoint) -> list[int]:
            if prelude is None:
                return checkpoint(conn, rows, True)
            prelude(conn)
            try:
                return checkpoint(conn, rows, False)
            except LockLostError as exc:  # the history's key: another worker appended to it
                raise HandOffDeclined(str(exc)) from exc

        # Serialised before the write lock is taken (the batch runs ``work`` inside its transaction).
        rows = checkpoint_rows(self.hub, item, commit, now_us, queued=prelude is None, stored=not creates)

        def work(conn: sqlite3.Connection) -> list[ActivityWorkItem]:
            try:
                seqs = self._transaction(conn, lambda: write(conn, rows))
            except BaseException:
                self._histories.forget(item.instance_id)
                raise
            self._remember_history(item, commit, rows)
            return leased_items(seqs, commit.activities, token, expires_us)

        items = await self._run(work, write=True)
        loops = {WorkSignal.inbox_of(m.message.instance_id) for m in commit.messages}
        if len(commit.activities) > leased:
            loops.add(WorkSignal.ACTIVITIES)
        if loops:
            self.work_signal.notify(*loops)
        if waiting:
            # Its fetch skipped the instance while we held it (a wake then finds it locked); this
            # process has its session, so only this process's loop is woken.
            self.work_signal.wake((WorkSignal.inbox_of(item.instance_id),), None)
        return items

    def _remember_history(self, item: OrchestrationWorkItem, commit: OrchestrationCommit, rows: Checkpoint) -> None:
        if not rows.history:
            return  # unchanged: what the cache holds (if anything) is still right
        if commit.state is not None and commit.state.runtime_status.is_terminal:
            # Finished: no episode will read it again (a rewind or restart rewrites it anyway).
            self._histories.forget(item.instance_id)
            return
        events = list(commit.new_history) if commit.replace_history else item.history + commit.new_history
        execution_id = rows.history[-1][2]
        self._histories.remember(item.instance_id, execution_id, events, rows.history[-1][5])

    async def abandon_orchestration(self, item: OrchestrationWorkItem) -> None:
        """Release our lock (if we still hold it); the messages are available again at once."""
        await self._write(
            lambda conn: conn.execute(
                "DELETE FROM locks WHERE hub = ? AND instance_id = ? AND lock_token = ?",
                (self.hub, item.instance_id, item.lock_token),
            )
        )
        self.work_signal.notify(WorkSignal.inbox_of(item.instance_id))

    async def renew_orchestration_lock(
        self, item: OrchestrationWorkItem, *, now: datetime, lock_timeout: timedelta
    ) -> None:
        """Extend our lock to ``now + lock_timeout``; ``LockLostError`` if it is no longer ours."""
        expires = now + lock_timeout
        cursor = await self._write(
            lambda conn: conn.execute(
                "UPDATE locks SET lock_expiration = ? WHERE hub = ? AND instance_id = ? AND lock_token = ?",
                (to_micros(expires), self.hub, item.instance_id, item.lock_token),
            )
        )
        if cursor.rowcount == 0:
            raise lock_lost(f"Instance '{item.instance_id}'")
        item.locked_until = expires

    # -- activity work ---------------------------------------------------------------------------

    async def lock_next_activity(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str
    ) -> ActivityWorkItem | None:
        """Lease the oldest visible task that is unlocked or whose lease expired."""
        items = await self.lock_next_activities(now=now, lock_timeout=lock_timeout, worker_id=worker_id, limit=1)
        return items[0] if items else None

    async def lock_next_activities(
        self, *, now: datetime, lock_timeout: timedelta, worker_id: str, limit: int
    ) -> list[ActivityWorkItem]:
        """Lease up to ``limit`` of the oldest visible tasks (as :meth:`lock_next_activity`), in
        queue order, with one statement."""
        now_us = to_micros(now)
        expires_us = now_us + lock_timeout // timedelta(microseconds=1)
        token = new_token()  # one per call: a task is named by its seq and this token
        params = {
            "hub": self.hub, "now": now_us, "worker": worker_id, "expires": expires_us, "token": token, "limit": limit
        }  # fmt: skip

        def lock(conn: sqlite3.Connection) -> list[tuple]:
            return self._transaction(conn, lambda: conn.execute(LOCK_TASKS, params).fetchall())

        # Parsed once the batch committed: other host processes wait for the write lock meanwhile.
        rows = sorted(await self._run(lock, write=True))
        return [
            ActivityWorkItem(
                id=str(seq),
                lock_token=token,
                message=TaskMessage(instance_id, loads_event(event_json), execution_id),
                dequeue_count=dequeue_count,
                locked_until=from_micros(expires_us),
            )
            for seq, instance_id, execution_id, event_json, dequeue_count in rows
        ]

    async def complete_activity(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        """Delete our task and send ``response`` in one transaction; ``LockLostError`` if the task
        is gone or leased by someone else."""
        await self._complete_activity(item, response, self._now_us(), None)

    async def complete_activity_locking(
        self, item: ActivityWorkItem, response: TaskMessage, *, now: datetime, lease: Lease
    ) -> OrchestrationWorkItem | None:
        """:meth:`complete_activity`, then the lock of the response's instance if a fetch could pick
        it now and it waits for no other activity (``PICK_INSTANCE``) — its work item."""
        return await self._complete_activity(item, response, to_micros(now), lease)

    async def _complete_activity(
        self, item: ActivityWorkItem, response: TaskMessage, now_us: int, lease: Lease | None
    ) -> OrchestrationWorkItem | None:
        row = event_row(self.hub, response, None, now_us)
        instance_id = response.instance_id
        expires_us = now_us + (lease.lock_timeout // timedelta(microseconds=1) if lease else 0)

        def complete(conn: sqlite3.Connection) -> tuple | None:
            self._delete_leased_task(conn, item)
            conn.execute(INSERT_EVENT, row)
            if lease is None or conn.execute(PICK_INSTANCE, (self.hub, instance_id, now_us, lease.worker_id)).fetchone() is None:
                return None
            return self._lock_instance(conn, instance_id, lease.worker_id, expires_us, now_us)

        locked = await self._write(complete)
        if locked is None:
            self.work_signal.notify(WorkSignal.inbox_of(instance_id))
            return None
        return work_item(locked, expires_us)

    def _delete_leased_task(self, conn: sqlite3.Connection, task: ActivityWorkItem) -> None:
        """Delete our leased ``task`` (its result is being written); ``LockLostError`` if the lease is gone."""
        deleted = conn.execute(
            "DELETE FROM new_tasks WHERE seq = ? AND hub = ? AND lock_token = ?", (int(task.id), self.hub, task.lock_token)
        ).rowcount
        if deleted == 0:
            raise lock_lost(f"Activity task {task.id}")

    async def complete_activity_with_episode(
        self,
        task: ActivityWorkItem,
        response: TaskMessage,
        item: OrchestrationWorkItem,
        commit: OrchestrationCommit,
        *,
        now: datetime,
        lease: Lease | None,
    ) -> list[ActivityWorkItem]:
        """Delete our task and commit the episode that consumed its ``response`` in one transaction
        (see ``HandsOffWork``); ``commit``'s tasks leased under ``lease`` as in
        :meth:`complete_orchestration_leasing`.

        ``item`` is the instance as this process last committed it, with ``response`` as its one
        message. ``HandOffDeclined`` (nothing written) unless the hub still holds exactly that: the
        instance row as ``item.state`` has it, no live lock, no other visible message or activity
        task, history not appended to (its key). ``LockLostError`` if our task lease is gone.
        """
        state = item.state
        assert state is not None
        expected = (state.execution_id, state.runtime_status.value, to_micros(state.last_updated_time))

        def result_and_instance_free(conn: sqlite3.Connection) -> None:
            self._delete_leased_task(conn, task)
            if conn.execute(CAN_CONTINUE, (self.hub, item.instance_id, to_micros(now), *expected)).fetchone() is None:
                raise HandOffDeclined(f"Instance '{item.instance_id}' changed since this process committed it")

        return await self._commit_episode(item, commit, now, lease, result_and_instance_free)

    async def abandon_activity(self, item: ActivityWorkItem, *, retry_at: datetime | None = None) -> None:
        """Release our lease; the task is visible again at ``retry_at`` (at once if None)."""
        await self._write(
            lambda conn: conn.execute(
                "UPDATE new_tasks SET locked_by = NULL, lock_expiration = NULL, lock_token = NULL, visible_time = ? "
                "WHERE seq = ? AND hub = ? AND lock_token = ?",
                (micros_or_none(retry_at), int(item.id), self.hub, item.lock_token),
            )
        )
        self.work_signal.notify(WorkSignal.ACTIVITIES)

    async def renew_activity_lock(self, item: ActivityWorkItem, *, now: datetime, lock_timeout: timedelta) -> None:
        expires = now + lock_timeout
        cursor = await self._write(
            lambda conn: conn.execute(
                "UPDATE new_tasks SET lock_expiration = ? WHERE seq = ? AND hub = ? AND lock_token = ?",
                (to_micros(expires), int(item.id), self.hub, item.lock_token),
            )
        )
        if cursor.rowcount == 0:
            raise lock_lost(f"Activity task {item.id}")
        item.locked_until = expires

    async def release_abandoned_locks(self, is_abandoned: Callable[[str], bool]) -> int:
        """Unlock instances and tasks held by workers ``is_abandoned`` reports dead."""

        def release(conn: sqlite3.Connection) -> int:
            owners = {
                row[0]
                for row in conn.execute(
                    "SELECT locked_by FROM locks WHERE hub = :hub UNION "
                    "SELECT locked_by FROM new_tasks WHERE hub = :hub AND locked_by IS NOT NULL",
                    {"hub": self.hub},
                )
            }
            dead = [owner for owner in owners if owner and is_abandoned(owner)]
            released = 0
            for owner in dead:
                # Its affinities (rows left unlocked by its commits, sqlite_schema.PICK) go too, uncounted.
                released += conn.execute(
                    "DELETE FROM locks WHERE hub = ? AND locked_by = ? AND lock_expiration <> 0", (self.hub, owner)
                ).rowcount
                conn.execute("DELETE FROM locks WHERE hub = ? AND locked_by = ?", (self.hub, owner))
                released += conn.execute(
                    "UPDATE new_tasks SET locked_by = NULL, lock_expiration = NULL, lock_token = NULL "
                    "WHERE hub = ? AND locked_by = ?",
                    (self.hub, owner),
                ).rowcount
            return released

        released = await self._write(release)
        if released:
            self.work_signal.notify()
        return released

    # -- scheduling hints ------------------------------------------------------------------------

    async def next_visible_time(self, now: datetime | None = None) -> datetime | None:
        """Earliest ``visible_time`` after ``now`` (default: the provider's clock) of a message or task.

        Only future times count: a due message that waits for a lock or a resume must not make
        an idle dispatcher spin.
        """
        now_us = to_micros(self.clock.now() if now is None else now)

        def read(conn: sqlite3.Connection) -> int | None:
            return conn.execute(
                "SELECT min(t) FROM (SELECT min(visible_time) AS t FROM new_events WHERE hub = :hub AND visible_time > :now"
                " UNION ALL SELECT min(visible_time) FROM new_tasks WHERE hub = :hub AND visible_time > :now)",
                {"hub": self.hub, "now": now_us},
            ).fetchone()[0]

        due = await self._run(read)
        return None if due is None else from_micros(due)
