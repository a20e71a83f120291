"""The ``{Hub}History`` table: event rows, the sentinel, and the ETag-guarded append
(DTFx ``AzureStorage/Tracking/AzureTableTrackingStore.cs`` ``UpdateStateAsync``).

Row shape (DTFx ``TableEntityConverter``): PartitionKey = escaped instance id, RowKey = position
as X16 hex, ``ExecutionId``, ``EventType`` as the enum *name*, ``EventId``, ``IsPlayed``,
``_Timestamp`` (``Timestamp`` is reserved by the service), the event's DataMembers with complex
values as plain JSON strings (a null complex value is the string ``"null"``), null simple values
absent, and ``{Prop}BlobName`` + ``""`` for a property too large for a table.

Every append is an entity-group transaction of ≤ 99 event rows plus the sentinel row, inserted
(no ETag yet) or merged ``If-Match`` the ETag read with the history: a second writer of the same
episode fails with 412/409 and gets ``LockLostError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableTransactionError, UpdateMode
from azure.data.tables.aio import TableClient

from durable_ext.core.events import EventType, HistoryEvent
from durable_ext.core.wire import event_from_dict, event_to_dict, format_datetime, parse_datetime
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage.blobs import LargeMessageStore, history_blob_name, too_large_for_table
from durable_ext.providers.azure_storage.names import SENTINEL_ROW_KEY, row_key

#: EGT limit is 100 operations; one is the sentinel.
MAX_EVENTS_PER_BATCH = 99
#: EGT payload limit is 4 MB; DTFx flushes at an estimated 3 MB.
MAX_BATCH_BYTES = 3 * 1024 * 1024
_COMPLEX = frozenset(
    {"OrchestrationInstance", "ParentInstance", "FailureDetails", "Tags", "State", "ParentTraceContext"}
)
_DATETIMES = frozenset({"FireAt", "ScheduledStartTime"})
_NOT_EVENT_COLUMNS = frozenset(
    {"PartitionKey", "RowKey", "ExecutionId", "EventType", "EventId", "IsPlayed", "_Timestamp", "Timestamp"}
)
_KEY_COLUMNS = frozenset({"PartitionKey", "RowKey"})


@dataclass(slots=True)
class StoredHistory:
    """The current execution's events as read, with the sentinel ETag that guards the next append."""

    events: list[HistoryEvent]
    etag: str | None
    execution_id: str | None
    last_checkpoint: datetime | None = None


def odata_string(value: str) -> str:
    """A string literal for an OData filter (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def event_to_entity(event: HistoryEvent, partition_key: str, key: str, execution_id: str) -> dict[str, Any]:
    """One history row for ``event`` (before large-property offload)."""
    data = event_to_dict(event)
    entity: dict[str, Any] = {
        "PartitionKey": partition_key,
        "RowKey": key,
        "ExecutionId": execution_id,
        "EventType": EventType(data.pop("EventType")).name,
        "EventId": int(data.pop("EventId")),
        "IsPlayed": False,
        "_Timestamp": parse_datetime(data.pop("Timestamp")),
    }
    for name, value in data.items():
        if name in _COMPLEX:
            entity[name] = json.dumps(value, separators=(",", ":")) if value is not None else "null"
        elif value is None:
            continue  # Azure Tables has no null: absent means null
        elif name in _DATETIMES:
            entity[name] = parse_datetime(value)
        else:
            entity[name] = value
    return entity


def entity_to_event(entity: dict[str, Any]) -> HistoryEvent:
    """The event of a (large-properties already inflated) history row; raises ValueError if unknown."""
    type_name = entity.get("EventType")
    try:
        event_type = EventType[str(type_name)]
    except KeyError as exc:
        raise ValueError(f"unknown EventType {type_name!r} in history row {entity.get('RowKey')}") from exc
    data: dict[str, Any] = {
        "EventType": event_type.value,
        "EventId": entity.get("EventId", -1),
        "Timestamp": format_datetime(entity["_Timestamp"]),
    }
    for name, value in entity.items():
        if name in _NOT_EVENT_COLUMNS or name.endswith("BlobName"):
            continue
        if name in _COMPLEX:
            data[name] = json.loads(value) if isinstance(value, str) and value else None
        elif isinstance(value, datetime):
            data[name] = format_datetime(value)
        else:
            data[name] = value
    return event_from_dict(data)


async def offload_large(entity: dict[str, Any], store: LargeMessageStore, escaped_id: str) -> dict[str, str]:
    """Move oversized string properties to blobs; returns {property: blob name}."""
    moved: dict[str, str] = {}
    for name, value in list(entity.items()):
        if name in _KEY_COLUMNS or not isinstance(value, str) or not too_large_for_table(value):
            continue
        blob = history_blob_name(escaped_id, entity["RowKey"], str(entity.get("EventType", "")), name)
        await store.upload(blob, value)
        entity[name] = ""
        entity[f"{name}BlobName"] = blob
        moved[name] = blob
    return moved


async def inflate_large(entity: dict[str, Any], store: LargeMessageStore) -> dict[str, Any]:
    """Replace each ``{Prop}BlobName`` column by the blob's text in ``Prop``."""
    for name in [n for n in entity if n.endswith("BlobName")]:
        blob = entity.pop(name)
        if blob:
            entity[name[: -len("BlobName")]] = await store.download(blob)
    return entity


async def read_history(table: TableClient, store: LargeMessageStore, partition_key: str) -> StoredHistory:
    """DTFx ``GetHistoryEventsAsync``: the current execution's rows in RowKey order.

    The execution is the sentinel's ``ExecutionId`` (else the first row's); the walk stops at the
    first row of another execution — left-overs of an older, longer execution, since
    continue-as-new and re-created ids restart RowKeys at 0 and overwrite in place.
    """
    rows = [
        dict(r) | {"__etag": r.metadata["etag"]}
        async for r in table.query_entities(f"PartitionKey eq {odata_string(partition_key)}")
    ]
    sentinel = next((r for r in rows if r["RowKey"] == SENTINEL_ROW_KEY), None)
    events_rows = sorted((r for r in rows if r["RowKey"] != SENTINEL_ROW_KEY), key=lambda r: r["RowKey"])
    execution_id = (sentinel or {}).get("ExecutionId") or (events_rows[0].get("ExecutionId") if events_rows else None)
    events: list[HistoryEvent] = []
    for position, row in enumerate(events_rows):
        if row.get("ExecutionId") != execution_id or row["RowKey"] != row_key(position):
            break
        row.pop("__etag", None)
        events.append(entity_to_event(await inflate_large(row, store)))
    return StoredHistory(
        events=events,
        etag=sentinel["__etag"] if sentinel else None,
        execution_id=execution_id,
        last_checkpoint=(sentinel or {}).get("CheckpointCompletedTimestamp"),
    )


def _estimated_bytes(entity: dict[str, Any]) -> int:
    # DTFx GetEstimatedByteCount: 1 KiB per entity + UTF-16 bytes of its strings.
    return 1024 + sum(2 * len(v) for v in entity.values() if isinstance(v, str))


def _batches(partition_key: str, entities: list[dict[str, Any]], deletes: list[str]) -> list[list[tuple]]:
    """Operations split into transactions of ≤ 99 rows and ≈ 3 MB; always at least one (for the sentinel)."""
    ops: list[tuple] = [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities]
    ops += [("delete", {"PartitionKey": partition_key, "RowKey": k}) for k in deletes]
    batches: list[list[tuple]] = [[]]
    size = 0
    for op in ops:
        cost = _estimated_bytes(op[1])
        if batches[-1] and (len(batches[-1]) >= MAX_EVENTS_PER_BATCH or size + cost > MAX_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(op)
        size += cost
    return batches


async def append_history(
    table: TableClient,
    *,
    partition_key: str,
    execution_id: str,
    entities: list[dict[str, Any]],
    delete_row_keys: list[str],
    etag: str | None,
    now: datetime,
) -> str:
    """Write ``entities`` (UpsertReplace) and delete stale rows, chained through the sentinel.

    Returns the sentinel's new ETag. A conflicting writer (412, 409, or a sentinel that vanished)
    raises ``LockLostError``; rows of earlier batches of the same call may then have been written
    (DTFx has the same window: ``IsCheckpointComplete`` stays false).
    """
    batches = _batches(partition_key, entities, delete_row_keys)
    for index, batch in enumerate(batches):
        last = index == len(batches) - 1
        sentinel: dict[str, Any] = {
            "PartitionKey": partition_key,
            "RowKey": SENTINEL_ROW_KEY,
            "ExecutionId": execution_id,
            "IsCheckpointComplete": last,
        }
        if last:
            sentinel["CheckpointCompletedTimestamp"] = now
        if etag is None:
            batch.append(("create", sentinel))
        else:
            batch.append(
                (
                    "update",
                    sentinel,
                    {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified},
                )
            )
        try:
            results = await table.submit_transaction(batch)
        except TableTransactionError as exc:
            if exc.status_code in (404, 409, 412):
                raise LockLostError(
                    f"history of '{partition_key}' was changed by another worker (HTTP {exc.status_code})"
                ) from exc
            raise
        except HttpResponseError as exc:
            if exc.status_code in (404, 409, 412):
                raise LockLostError(f"history of '{partition_key}' was changed by another worker") from exc
            raise
        etag = results[-1]["etag"]
    assert etag is not None
    return etag


async def delete_history(table: TableClient, partition_key: str) -> int:
    """Delete every row of an instance's history partition (sentinel included); returns rows deleted."""
    keys = [
        r["RowKey"]
        async for r in table.query_entities(f"PartitionKey eq {odata_string(partition_key)}", select=["RowKey"])
    ]
    for start in range(0, len(keys), 100):
        ops = [("delete", {"PartitionKey": partition_key, "RowKey": k}) for k in keys[start : start + 100]]
        try:
            await table.submit_transaction(ops)
        except TableTransactionError:
            # A row vanished under us (a concurrent purge): fall back to one-by-one, ignoring 404s.
            for _, entity in ops:
                await table.delete_entity(entity["PartitionKey"], entity["RowKey"])
    return len(keys)
