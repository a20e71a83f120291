"""Schema, connection set-up and row mapping of the SQLite task hub (used by ``providers.sqlite``).

The layout copies the model of the MSSQL provider (microsoft/durabletask-mssql, ``Scripts/schema-*.sql``
and ``logic.sql``): one set of tables for every
hub in the file, ``hub`` leading every key; ``instances`` = one row per instance (status, input,
output); ``history`` keyed by (instance, execution, sequence) so that a second commit of the same
episode hits the primary key (the split-brain fence); ``new_events`` = the per-instance inboxes
(FIFO by ``seq``, ``visible_time`` for timers); ``new_tasks`` = the shared activity queue with a
lease per row.

Orchestration locks live in their own ``locks`` table rather than in columns of ``instances``: a
work item can be locked before its instance has a row (a sub-orchestration's or an entity's first
message), and a placeholder ``instances`` row would show up in queries. "The lock is ours" is simply
"the row still carries our token". A commit releases the lock by clearing its token and expiry and
keeps the row, naming the worker that committed — the instance's affinity to the process holding its
session (:data:`AFFINITY_GRACE_US`); a finished instance's row is deleted.

Times are stored as INTEGER microseconds since the Unix epoch (UTC): exact round trips of
``datetime`` (a float loses the last microsecond), integer comparisons, and sortable.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from durable_ext.core import messages
from durable_ext.core.events import EventType, ExecutionStarted
from durable_ext.core.messages import InstanceQuery, InstanceState, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire import dumps_event
from durable_ext.errors import InvalidContinuationTokenError, ProviderError

SCHEMA_VERSION = 1

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# Partial: only a task put back with a delay has a visible_time. An index entry per task cost two
# pages more in every activity's two commits (insert, delete); a query on visible_time > ? or
# visible_time = ? implies NOT NULL and still uses it.
_NEW_TASKS_VISIBLE = (
    "CREATE INDEX IF NOT EXISTS new_tasks_visible ON new_tasks (hub, visible_time) WHERE visible_time IS NOT NULL"
)

_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS hubs (hub TEXT PRIMARY KEY, created_time INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS instances (
        hub TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        name TEXT NOT NULL,
        version TEXT,
        runtime_status TEXT NOT NULL,
        created_time INTEGER NOT NULL,
        last_updated_time INTEGER NOT NULL,
        completed_time INTEGER,
        input TEXT,
        output TEXT,
        custom_status TEXT,
        parent_instance_id TEXT,
        PRIMARY KEY (hub, instance_id)
    )""",
    # instance_id in the index lets keyset paging (created_time, instance_id) read it in order.
    "CREATE INDEX IF NOT EXISTS instances_created ON instances (hub, created_time, instance_id)",
    "CREATE INDEX IF NOT EXISTS instances_status ON instances (hub, runtime_status)",
    # WITHOUT ROWID: clustered by key, so an episode reads its history as one contiguous range.
    """CREATE TABLE IF NOT EXISTS history (
        hub TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        sequence_number INTEGER NOT NULL,
        event_type INTEGER NOT NULL,
        event_json TEXT NOT NULL,
        PRIMARY KEY (hub, instance_id, execution_id, sequence_number)
    ) WITHOUT ROWID""",
    # AUTOINCREMENT: a seq is never reused, so message ids stay unique even after deletes.
    """CREATE TABLE IF NOT EXISTS new_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hub TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        event_type INTEGER NOT NULL,
        visible_time INTEGER,
        event_json TEXT NOT NULL,
        created INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS new_events_instance ON new_events (hub, instance_id, seq)",
    # Serves both lock probes: NULL (visible now) in seq order, and due timers in time order.
    "CREATE INDEX IF NOT EXISTS new_events_visible ON new_events (hub, visible_time)",
    """CREATE TABLE IF NOT EXISTS new_tasks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hub TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        execution_id TEXT,
        task_id INTEGER NOT NULL,
        name TEXT,
        event_json TEXT NOT NULL,
        visible_time INTEGER,
        dequeue_count INTEGER NOT NULL DEFAULT 0,
        locked_by TEXT,
        lock_expiration INTEGER,
        lock_token TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS new_tasks_queue ON new_tasks (hub, seq)",
    "CREATE INDEX IF NOT EXISTS new_tasks_instance ON new_tasks (hub, instance_id)",
    _NEW_TASKS_VISIBLE,
    """CREATE TABLE IF NOT EXISTS locks (
        hub TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        lock_token TEXT NOT NULL,
        locked_by TEXT NOT NULL,
        lock_expiration INTEGER NOT NULL,
        PRIMARY KEY (hub, instance_id)
    ) WITHOUT ROWID""",
)

#: Tables holding a hub's rows, in the order they are cleared.
HUB_TABLES = ("locks", "new_tasks", "new_events", "history", "instances", "hubs")

INSTANCE_COLUMNS = (
    "instance_id, name, runtime_status, created_time, last_updated_time, execution_id, version, "
    "input, output, custom_status, completed_time, parent_instance_id"
)


#: Bytes the WAL file is truncated to after a checkpoint (``journal_size_limit``).
WAL_SIZE_LIMIT = 16 * 1024 * 1024


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its directory if needed) the task hub file and ensure the schema.

    The hub holds every input and output: a directory it creates is 0700 (as is an existing
    ``.durable_ext``, which is ours) and the file is 0600; SQLite gives its -wal and -shm files
    the database file's permissions.
    """
    _private_directory(path.parent)
    _private_file(path)
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves, so every write transaction
    # takes the write lock up front and never fails half-way with SQLITE_BUSY_SNAPSHOT.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, cached_statements=256)
    try:
        # Several host processes may share one file: wait for the writer instead of failing.
        conn.execute("PRAGMA busy_timeout=30000")
        # WAL: readers never block the writer and a commit is one sequential append.
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL is durable across a process crash (kill -9): a committed transaction is in the
        # WAL file, only an OS crash or power loss can lose the last ones. It is ~2.3x faster than
        # FULL (8.4k vs 3.6k one-row commits/s, measured with stdlib sqlite3 and BEGIN IMMEDIATE on a
        # 2-core machine like CI's) because commits skip the fsync.
        conn.execute("PRAGMA synchronous=NORMAL")
        # The WAL file never shrinks by itself: after a checkpoint resets it, truncate it back to this
        # size, so one burst of large payloads does not hold disk space for good.
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _private_directory(directory: Path) -> None:
    if not directory.exists():
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            # Reported like every other storage error (the provider names file and hub), not as
            # an OSError traceback out of the host's start.
            raise sqlite3.OperationalError(
                f"cannot create the directory {directory}: {exc.strerror or exc}"
            ) from exc
    elif directory.name == ".durable_ext":
        _owner_only(directory, 0o700)


def _private_file(path: Path) -> None:
    # Never open and close an existing hub file by hand: closing any descriptor of a file drops
    # every POSIX lock this process holds on it, including those of its open SQLite connections.
    # Another process closing its connection then takes the database for unused, checkpoints it
    # and deletes the -wal and -shm files this process still writes into (SQLite defers its own
    # closes for exactly this reason). Only a file that does not exist yet is created here.
    if not path.exists():
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # another process created it just now
        except OSError:
            return  # sqlite3.connect reports what is wrong with the path
    _owner_only(path, 0o600)


def _owner_only(path: Path, mode: int) -> None:
    """Take group/other permissions away (a hub made by an older version was 0755/0644)."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(current & mode)
    except OSError:
        pass


def _ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL:
            conn.execute(statement)
        _make_partial(conn, "new_tasks_visible", _NEW_TASKS_VISIBLE)
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        if row[0] is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise ProviderError(
                f"The task hub file uses schema version {row[0]}, newer than this durable_ext "
                f"supports ({SCHEMA_VERSION}); upgrade durable_ext."
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _make_partial(conn: sqlite3.Connection, name: str, ddl: str) -> None:
    """Rebuild index ``name`` with ``ddl`` when a file made by an earlier version has it whole (the
    same name and columns: older code reads and writes the file as before)."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
    if row is not None and " WHERE " not in row[0].upper():
        conn.execute(f"DROP INDEX {name}")
        conn.execute(ddl)


# -- values --------------------------------------------------------------------------------------


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """Inverse of :func:`to_micros`: an aware UTC datetime."""
    return _EPOCH + timedelta(microseconds=value)


def micros_or_none(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


#: Stored status text → status (``RuntimeStatus(text)`` is a Python-level call per row read).
_STATUSES = {status.value: status for status in RuntimeStatus}


def instance_from_row(row: tuple, *, include_input: bool = True) -> InstanceState:
    """Map a ``SELECT INSTANCE_COLUMNS`` row."""
    (iid, name, status, created, updated, execution_id, version, input_, output, custom, completed, parent) = row
    return InstanceState(
        instance_id=iid,
        name=name,
        runtime_status=_STATUSES.get(status) or RuntimeStatus(status),  # (ValueError if unknown, as before)
        created_time=from_micros(created),
        last_updated_time=from_micros(updated),
        execution_id=execution_id,
        version=version,
        input=input_ if include_input else None,
        output=output,
        custom_status=custom,
        completed_time=None if completed is None else from_micros(completed),
        parent_instance_id=parent,
    )


def instance_row(hub: str, state: InstanceState) -> tuple:
    """Parameters of :data:`UPSERT_INSTANCE` for ``state``."""
    return (
        hub,
        state.instance_id,
        state.execution_id,
        state.name,
        state.version,
        state.runtime_status.value,
        to_micros(state.created_time),
        to_micros(state.last_updated_time),
        micros_or_none(state.completed_time),
        state.input,
        state.output,
        state.custom_status,
        state.parent_instance_id,
    )


def event_row(hub: str, message: TaskMessage, visible_us: int | None, created_us: int) -> tuple:
    """Parameters of :data:`INSERT_EVENT`."""
    event = message.event
    return (hub, message.instance_id, message.execution_id, int(event.TYPE), visible_us, dumps_event(event), created_us)


def task_row(hub: str, message: TaskMessage) -> tuple:
    """Parameters of :data:`INSERT_TASK`: ``message.event`` is the TaskScheduled that asks for it."""
    event = message.event
    name = getattr(event, "name", None)
    return (hub, message.instance_id, message.execution_id, event.event_id, name, dumps_event(event))


def pending_row(hub: str, instance_id: str, event: ExecutionStarted, now_us: int) -> tuple:
    """Parameters of :data:`INSERT_PENDING`: the instance as its ExecutionStarted describes it."""
    parent = event.parent.instance_id if event.parent else None
    return (hub, instance_id, event.execution_id, event.name, event.version, now_us, now_us, event.input, parent)


def pending_state(instance_id: str, event: ExecutionStarted, now_us: int) -> InstanceState:
    """The instance :func:`pending_row`'s insert leaves, as a read of it returns it (what
    INSERT_PENDING does not set is None)."""
    return messages.pending_state(instance_id, event, from_micros(now_us))


def instance_update(row: tuple, state: InstanceState, stored: InstanceState) -> tuple[str, tuple]:
    """An UPDATE (statement, parameters) of the row that holds ``stored`` to hold ``state``, whose
    :func:`instance_row` is ``row``.

    It names an indexed column (``runtime_status``, ``created_time``) only when its value changes:
    SQLite rewrites the index entry of every column a SET names, changed or not — one more page
    in the WAL for each, at every checkpoint of a running instance (:data:`UPSERT_INSTANCE` names
    them all)."""
    sql, positions = _UPDATE_INSTANCE[
        state.runtime_status is not stored.runtime_status, state.created_time != stored.created_time
    ]
    return sql, (*(row[i] for i in positions), row[0], row[1])


#: The columns of :func:`instance_row`, in its order (that of :data:`UPSERT_INSTANCE`).
_ROW_COLUMNS = (
    "hub", "instance_id", "execution_id", "name", "version", "runtime_status", "created_time",
    "last_updated_time", "completed_time", "input", "output", "custom_status", "parent_instance_id",
)  # fmt: skip


def _update_instance(status: bool, created: bool) -> tuple[str, tuple[int, ...]]:
    """The UPDATE setting every column but the key and the indexed ones not changed, and the
    positions in an :func:`instance_row` of the values it sets, in order."""
    skipped = {"hub", "instance_id"}  # (the WHERE's)
    if not status:
        skipped.add("runtime_status")
    if not created:
        skipped.add("created_time")
    positions = tuple(i for i, name in enumerate(_ROW_COLUMNS) if name not in skipped)
    assignments = ", ".join(f"{_ROW_COLUMNS[i]} = ?" for i in positions)
    return f"UPDATE instances SET {assignments} WHERE hub = ? AND instance_id = ?", positions


_UPDATE_INSTANCE = {
    (status, created): _update_instance(status, created) for status in (False, True) for created in (False, True)
}


UPSERT_INSTANCE = """
INSERT INTO instances (hub, instance_id, execution_id, name, version, runtime_status, created_time,
    last_updated_time, completed_time, input, output, custom_status, parent_instance_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hub, instance_id) DO UPDATE SET
    execution_id = excluded.execution_id, name = excluded.name, version = excluded.version,
    runtime_status = excluded.runtime_status, created_time = excluded.created_time,
    last_updated_time = excluded.last_updated_time, completed_time = excluded.completed_time,
    input = excluded.input, output = excluded.output, custom_status = excluded.custom_status,
    parent_instance_id = excluded.parent_instance_id
"""


# -- statements ----------------------------------------------------------------------------------

INSERT_EVENT = (
    "INSERT INTO new_events (hub, instance_id, execution_id, event_type, visible_time, event_json, created) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
INSERT_TASK = (
    "INSERT INTO new_tasks (hub, instance_id, execution_id, task_id, name, event_json) VALUES (?, ?, ?, ?, ?, ?)"
)
# A task leased as it is inserted (dispatcher hand-off; as LOCK_TASKS leases: dequeued once).
INSERT_LEASED_TASK = (
    "INSERT INTO new_tasks (hub, instance_id, execution_id, task_id, name, event_json, dequeue_count, locked_by, "
    "lock_expiration, lock_token) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING seq"
)
INSERT_HISTORY = (
    "INSERT INTO history (hub, instance_id, execution_id, sequence_number, event_type, event_json) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_PENDING_COLUMNS = (
    "INTO instances (hub, instance_id, execution_id, name, version, runtime_status, created_time, "
    "last_updated_time, input, parent_instance_id) VALUES (?, ?, ?, ?, ?, 'Pending', ?, ?, ?, ?)"
)
INSERT_PENDING = "INSERT " + _PENDING_COLUMNS
INSERT_PENDING_IF_MISSING = "INSERT OR IGNORE " + _PENDING_COLUMNS
SELECT_INSTANCE = f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE hub = ? AND instance_id = ?"
SELECT_MESSAGES = (
    "SELECT seq, execution_id, event_json FROM new_events WHERE hub = ? AND instance_id = ? "
    "AND (visible_time IS NULL OR visible_time <= ?) ORDER BY seq LIMIT ?"
)
#: How long a message to an instance another live worker committed last waits for that worker (which
#: holds the instance's session) before any worker may take it: the owner's affinity lasts while it
#: keeps up. A dead owner's instances are free at once after ``release_abandoned_locks``.
AFFINITY_GRACE_US = 2_000_000

# Picking the next instance is two index probes on new_events (hub, visible_time): due timers in
# the order they fell due, then messages visible since they were sent, in send (seq) order. Each
# probe walks the index and stops at the first message whose instance is not locked by a live
# lock, not another worker's within the affinity grace, and, if the instance is Suspended, that is
# a resume or terminate; future timers are never read. Due timers go first so that a steady stream
# of new messages cannot starve them.
_PICK = """
SELECT e.instance_id FROM new_events AS e
LEFT JOIN locks AS l ON l.hub = e.hub AND l.instance_id = e.instance_id
LEFT JOIN instances AS i ON i.hub = e.hub AND i.instance_id = e.instance_id
WHERE e.hub = :hub AND {visible}
  AND (l.lock_expiration IS NULL OR l.lock_expiration < :now)
  AND (l.locked_by IS NULL OR l.lock_expiration <> 0 OR l.locked_by = :worker OR coalesce(e.visible_time, e.created) < :stale)
  AND (i.runtime_status IS NULL OR i.runtime_status <> 'Suspended' OR e.event_type IN ({resume}, {terminate}))
  {entities}
ORDER BY {order} LIMIT 1
"""
_ENTITY_FILTERS = {None: "", True: "AND e.instance_id LIKE '@%@%'", False: "AND e.instance_id NOT LIKE '@%@%'"}


def _pick_sql(visible: str, order: str, entities: bool | None) -> str:
    return _PICK.format(
        visible=visible,
        order=order,
        entities=_ENTITY_FILTERS[entities],
        resume=int(EventType.ExecutionResumed),
        terminate=int(EventType.ExecutionTerminated),
    )


PICKS = {
    entities: (
        _pick_sql("e.visible_time <= :now", "e.visible_time, e.seq", entities),
        _pick_sql("e.visible_time IS NULL", "e.seq", entities),
    )
    for entities in (None, True, False)
}

# Whether to lock an instance for the activity result just sent to it (hub, instance id, now): a
# PICK could take it (an orchestration, unlocked or its lock expired, not Suspended) and it waits
# for no other activity — while a fan-out's results keep coming, the loop's fetch takes them in
# batches (an episode per result would replay the fan-in once per result); its last one hands over.
PICK_INSTANCE = """
SELECT 1 FROM (SELECT ? AS hub, ? AS instance_id, ? AS now, ? AS worker) AS k
LEFT JOIN locks AS l ON l.hub = k.hub AND l.instance_id = k.instance_id
LEFT JOIN instances AS i ON i.hub = k.hub AND i.instance_id = k.instance_id
WHERE (l.lock_expiration IS NULL OR l.lock_expiration < k.now)
  AND (l.locked_by IS NULL OR l.lock_expiration <> 0 OR l.locked_by = k.worker)
  AND (i.runtime_status IS NULL OR i.runtime_status <> 'Suspended')
  AND k.instance_id NOT LIKE '@%@%'
  AND NOT EXISTS (SELECT 1 FROM new_tasks AS t WHERE t.hub = k.hub AND t.instance_id = k.instance_id)
"""

# Whether an instance is exactly as this process last committed it, free to continue with an
# activity result that was never queued (hub, instance id, now, execution id, status, last update):
# that row, no live lock, no visible message, no other activity task.
CAN_CONTINUE = """
SELECT 1 FROM instances AS i
WHERE i.hub = ?1 AND i.instance_id = ?2 AND i.execution_id IS ?4 AND i.runtime_status = ?5 AND i.last_updated_time = ?6
  AND NOT EXISTS (SELECT 1 FROM locks AS l WHERE l.hub = i.hub AND l.instance_id = i.instance_id
                  AND l.lock_expiration >= ?3)
  AND NOT EXISTS (SELECT 1 FROM new_events AS e WHERE e.hub = i.hub AND e.instance_id = i.instance_id
                  AND (e.visible_time IS NULL OR e.visible_time <= ?3))
  AND NOT EXISTS (SELECT 1 FROM new_tasks AS t WHERE t.hub = i.hub AND t.instance_id = i.instance_id)
"""

# Whether an instance has a message visible now (hub, instance id, now): checked as an episode commits.
HAS_MESSAGE = """
SELECT 1 FROM new_events WHERE hub = ? AND instance_id = ? AND (visible_time IS NULL OR visible_time <= ?) LIMIT 1
"""

# Up to :limit tasks (RETURNING's order is unspecified: the caller sorts by seq).
LOCK_TASKS = """
UPDATE new_tasks SET dequeue_count = dequeue_count + 1, locked_by = :worker, lock_expiration = :expires,
    lock_token = :token
WHERE seq IN (
    SELECT seq FROM new_tasks WHERE hub = :hub AND (visible_time IS NULL OR visible_time <= :now)
        AND (lock_expiration IS NULL OR lock_expiration < :now)
    ORDER BY seq LIMIT :limit)
RETURNING seq, instance_id, execution_id, event_json, dequeue_count
"""


# -- instance queries ----------------------------------------------------------------------------


def instance_filter(hub: str, query: InstanceQuery) -> tuple[str, list[Any]]:
    """The WHERE clause (without keyset) and parameters selecting ``query``'s instances."""
    clauses = ["hub = ?"]
    params: list[Any] = [hub]
    if query.created_from is not None:
        clauses.append("created_time >= ?")
        params.append(to_micros(query.created_from))
    if query.created_to is not None:
        clauses.append("created_time <= ?")
        params.append(to_micros(query.created_to))
    if query.statuses is not None:
        statuses = sorted(s.value for s in query.statuses)
        clauses.append(f"runtime_status IN ({', '.join('?' * len(statuses))})" if statuses else "0")
        params.extend(statuses)
    if query.instance_id_prefix:
        # A range, not LIKE: LIKE would treat % and _ in user ids as wildcards (and ignore case).
        clauses.append("instance_id >= ?")
        params.append(query.instance_id_prefix)
        upper = prefix_upper_bound(query.instance_id_prefix)
        if upper is not None:
            clauses.append("instance_id < ?")
            params.append(upper)
    if query.name:
        clauses.append("name = ?")
        params.append(query.name)
    if not query.include_entities:
        clauses.append("substr(instance_id, 1, 1) <> '@'")
    return " AND ".join(clauses), params


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT bytewise, and UTF-8 byte order is code point order, so incrementing the
    last code point (skipping the surrogate block, which UTF-8 cannot encode) gives the bound.
    """
    chars = prefix.rstrip("\U0010ffff")
    if not chars:
        return None
    last = ord(chars[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xE000
    return chars[:-1] + chr(last)


def encode_token(created_us: int, instance_id: str) -> str:
    """Opaque continuation token: the last (created_time, instance_id) of a page."""
    return json.dumps([created_us, instance_id], separators=(",", ":"))


def decode_token(token: str) -> tuple[int, str]:
    """Inverse of :func:`encode_token`; raises ``InvalidContinuationTokenError`` for a token we did
    not issue (including values SQLite could not bind: out-of-range ints, unencodable text)."""
    try:
        created_us, instance_id = json.loads(token)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidContinuationTokenError("invalid continuation token") from exc
    if (
        isinstance(created_us, bool)
        or not isinstance(created_us, int)
        or not -(2**63) <= created_us < 2**63
        or not isinstance(instance_id, str)
        or not _encodable(instance_id)
    ):
        raise InvalidContinuationTokenError("invalid continuation token")
    return created_us, instance_id


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
