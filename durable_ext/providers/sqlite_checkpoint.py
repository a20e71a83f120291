"""The statements of an episode's checkpoint on the SQLite hub, as functions of a connection.

``providers.sqlite`` runs them inside its transactions: :func:`checkpoint_rows` serialises an
episode's commit into parameter rows (before the write lock is taken), :func:`write_checkpoint`
writes them; :func:`lock_instance` takes an instance's lock and reads its work item. Knows the
schema (``sqlite_schema``), nothing of batching or the event loop.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from durable_ext.core.clock import new_token
from durable_ext.core.events import ExecutionStarted
from durable_ext.core.messages import ActivityWorkItem, OrchestrationCommit, OrchestrationWorkItem, TaskMessage
from durable_ext.core.wire import dumps_event, loads_event
from durable_ext.errors import LockLostError
from durable_ext.providers.sqlite_cache import HistoryCache
from durable_ext.providers.sqlite_schema import (
    INSERT_EVENT,
    INSERT_HISTORY,
    INSERT_LEASED_TASK,
    INSERT_PENDING_IF_MISSING,
    INSERT_TASK,
    SELECT_INSTANCE,
    SELECT_MESSAGES,
    UPSERT_INSTANCE,
    event_row,
    from_micros,
    instance_from_row,
    instance_row,
    instance_update,
    micros_or_none,
    pending_row,
    task_row,
)


class Checkpoint(NamedTuple):
    """The parameter rows of one checkpoint, serialised before the transaction starts."""

    history: list[tuple]
    state: tuple | None
    #: The instance row's UPDATE (statement, parameters), when the row holds the work item's state.
    update: tuple[str, tuple] | None
    messages: list[tuple]
    pending: list[tuple]
    tasks: list[tuple]
    consumed: list[tuple]


def lock_lost(what: str) -> LockLostError:
    return LockLostError(f"{what}: the lock expired and was taken by another worker, or the work was completed")


def checkpoint_rows(
    hub: str,
    item: OrchestrationWorkItem,
    commit: OrchestrationCommit,
    now_us: int,
    *,
    queued: bool = True,
    stored: bool = True,
) -> Checkpoint:
    """``queued``: ``item``'s messages are rows of the inbox, deleted by the checkpoint.
    ``stored``: the instance's row holds ``item.state`` (it may be gone: then it is written whole);
    False for an instance this checkpoint creates."""
    state = commit.state or item.state
    execution_id = (state.execution_id if state else None) or ""
    first = 0 if commit.replace_history else len(item.history)
    row = None if commit.state is None else instance_row(hub, commit.state)
    return Checkpoint(
        history=[
            (hub, item.instance_id, execution_id, first + i, int(ev.TYPE), dumps_event(ev))
            for i, ev in enumerate(commit.new_history)
        ],
        state=row,
        update=(
            instance_update(row, commit.state, item.state)
            if stored and row is not None and commit.state is not None and item.state is not None
            else None
        ),
        messages=[event_row(hub, m.message, micros_or_none(m.visible_at), now_us) for m in commit.messages],
        pending=[
            pending_row(hub, m.message.instance_id, event, now_us)
            for m in commit.messages
            if isinstance(event := m.message.event, ExecutionStarted)
        ],
        tasks=[task_row(hub, m) for m in commit.activities],
        consumed=[(int(message_id), hub) for message_id, _ in item.messages] if queued else [],
    )


def write_checkpoint(
    conn: sqlite3.Connection,
    hub: str,
    item: OrchestrationWorkItem,
    replace_history: bool,
    rows: Checkpoint,
    leased: int = 0,
    lease_columns: tuple = (),
    *,
    locked: bool = True,
    finished: bool = False,
    unlocked: bool = False,
) -> list[int]:
    """Write one episode; the seqs of the first ``leased`` tasks, inserted leased (``lease_columns``:
    worker, expiry, token). ``locked``: ``item`` holds the instance's lock, checked here (else the
    caller made sure the instance is free). ``LockLostError`` if the lock or the history's key says
    another worker got there first. ``unlocked``: the instance's ``locks`` row already says
    unlocked (the caller just wrote it)."""
    key = (hub, item.instance_id)
    if locked:
        check_lock(conn, hub, item)
    if replace_history:
        conn.execute("DELETE FROM history WHERE hub = ? AND instance_id = ?", key)
    try:
        conn.executemany(INSERT_HISTORY, rows.history)
    except sqlite3.IntegrityError as exc:
        raise LockLostError(f"Instance '{item.instance_id}': this episode was already committed") from exc
    if rows.state is not None and (rows.update is None or conn.execute(*rows.update).rowcount == 0):
        conn.execute(UPSERT_INSTANCE, rows.state)
    # (most of these lists are empty in most episodes: no call at all then)
    if rows.messages:
        conn.executemany(INSERT_EVENT, rows.messages)
    if rows.pending:  # a sub-orchestration start creates its instance, Pending, if it does not exist yet
        conn.executemany(INSERT_PENDING_IF_MISSING, rows.pending)
    seqs = [conn.execute(INSERT_LEASED_TASK, (*task, *lease_columns)).fetchone()[0] for task in rows.tasks[:leased]]
    if len(rows.tasks) > leased:
        conn.executemany(INSERT_TASK, rows.tasks[leased:])
    if rows.consumed:
        conn.executemany("DELETE FROM new_events WHERE seq = ? AND hub = ?", rows.consumed)
    if finished:
        conn.execute("DELETE FROM locks WHERE hub = ? AND instance_id = ?", key)
    elif not unlocked:  # unlock; the row stays as the instance's affinity to this worker (sqlite_schema.PICK)
        conn.execute("UPDATE locks SET lock_expiration = 0, lock_token = '' WHERE hub = ? AND instance_id = ?", key)
    return seqs


def check_lock(conn: sqlite3.Connection, hub: str, item: OrchestrationWorkItem) -> None:
    row = conn.execute(
        "SELECT lock_token FROM locks WHERE hub = ? AND instance_id = ?", (hub, item.instance_id)
    ).fetchone()
    if row is None or row[0] != item.lock_token:
        raise lock_lost(f"Instance '{item.instance_id}'")


def leased_items(seqs: list[int], activities: list[TaskMessage], token: str, expires_us: int) -> list[ActivityWorkItem]:
    """The work items of the tasks a checkpoint inserted leased (``seqs``, in ``activities``' order)."""
    until = from_micros(expires_us)
    return [
        ActivityWorkItem(id=str(seq), lock_token=token, message=m, dequeue_count=1, locked_until=until)
        for seq, m in zip(seqs, activities, strict=False)
    ]


def lock_instance(
    conn: sqlite3.Connection,
    hub: str,
    instance_id: str,
    *,
    worker_id: str,
    expires_us: int,
    now_us: int,
    batch_size: int,
    histories: HistoryCache,
) -> tuple:
    """Lock ``instance_id`` (a fresh token) and read what its work item holds, as raw rows
    (:func:`work_item` parses them, outside the transaction)."""
    token = new_token()
    conn.execute(
        "INSERT OR REPLACE INTO locks (hub, instance_id, lock_token, locked_by, lock_expiration) VALUES (?, ?, ?, ?, ?)",
        (hub, instance_id, token, worker_id, expires_us),
    )
    messages = conn.execute(SELECT_MESSAGES, (hub, instance_id, now_us, batch_size)).fetchall()
    state = conn.execute(SELECT_INSTANCE, (hub, instance_id)).fetchone()
    history = [] if state is None else histories.load(conn, instance_id, state[5] or "")
    return instance_id, token, messages, state, history


def work_item(rows: tuple, expires_us: int) -> OrchestrationWorkItem:
    instance_id, token, messages, state, history = rows
    return OrchestrationWorkItem(
        instance_id=instance_id,
        lock_token=token,
        state=None if state is None else instance_from_row(state),
        history=history,
        messages=[(str(seq), TaskMessage(instance_id, loads_event(js), ex)) for seq, ex, js in messages],
        locked_until=from_micros(expires_us),
    )
