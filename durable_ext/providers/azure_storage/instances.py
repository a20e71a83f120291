"""The ``{Hub}Instances`` table: one row per instance (DTFx
``AzureStorage/Tracking/OrchestrationInstanceStatus.cs``), and queries over it.

PartitionKey = escaped instance id, RowKey = ``""``; columns and EDM types as DTFx writes them:
``Name``, ``Version``, ``ExecutionId``, ``RuntimeStatus`` (enum name), ``CreatedTime``,
``LastUpdatedTime``, ``CompletedTime``, ``Input``, ``Output``, ``CustomStatus`` (the string
``"null"`` when none — DTFx's workaround for durabletask#477), ``TaskHubName``, ``Generation``
(Int32), ``Tags`` (``"null"`` when none), ``ScheduledStartTime``. ``Input``/``Output`` too large
for a table property hold the absolute URL of a gzip blob instead.

One column is ours: ``ParentInstanceId`` (String, sub-orchestrations only). DTFx has no row for a
sub-orchestration until its first checkpoint and reads the parent from history; our client API
must show a Pending child with its parent before that, so the row carries it. Tools ignore it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from durable_ext.core.messages import InstanceQuery, InstanceState
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import InvalidContinuationTokenError
from durable_ext.providers.azure_storage import envelope
from durable_ext.providers.azure_storage.blobs import LargeMessageStore, instance_blob_name, too_large_for_table
from durable_ext.providers.azure_storage.history import odata_string
from durable_ext.providers.azure_storage.names import escape_key, unescape_key

#: Columns a row built here carries; those not derived from ``InstanceState`` are kept from the stored row.
_PRESERVED = ("Generation", "Tags", "ScheduledStartTime")
_SELECT_WITHOUT_INPUT = [
    "PartitionKey",
    "RowKey",
    "Name",
    "Version",
    "ExecutionId",
    "RuntimeStatus",
    "CreatedTime",
    "LastUpdatedTime",
    "CompletedTime",
    "Output",
    "CustomStatus",
    "ParentInstanceId",
]


@dataclass(slots=True)
class StoredInstance:
    """A row as read: the state, the row's ETag, and the raw columns (for columns the state lacks)."""

    state: InstanceState
    etag: str
    row: dict[str, Any]


async def state_to_entity(
    state: InstanceState,
    *,
    hub: str,
    store: LargeMessageStore,
    preserved: dict[str, Any] | None = None,
    blob_urls: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The full row for ``state``. ``blob_urls`` maps an oversized value to the URL of a blob that
    already holds it (the history row's blob, as DTFx points the Instances row at it)."""
    key = escape_key(state.instance_id)
    entity: dict[str, Any] = {
        "PartitionKey": key,
        "RowKey": "",
        "Name": state.name,
        "Version": state.version or "",
        "ExecutionId": state.execution_id or "",
        "RuntimeStatus": state.runtime_status.value,
        "CreatedTime": state.created_time,
        "LastUpdatedTime": state.last_updated_time,
        "CustomStatus": state.custom_status if state.custom_status is not None else "null",
        "TaskHubName": hub,
        "Generation": 0,
        "Tags": "null",
    }
    for column in _PRESERVED:
        if preserved and preserved.get(column) is not None:
            entity[column] = preserved[column]
    if state.completed_time is not None:
        entity["CompletedTime"] = state.completed_time
    if state.parent_instance_id:
        entity["ParentInstanceId"] = state.parent_instance_id
    for column, value in (("Input", state.input), ("Output", state.output)):
        if value is None:
            continue
        if too_large_for_table(value):
            url = (blob_urls or {}).get(value)
            if url is None:
                blob = instance_blob_name(key, state.execution_id or "", column)
                await store.upload(blob, value)
                url = store.url(blob)
            value = url
        entity[column] = value
    return entity


async def _resolve(value: Any, store: LargeMessageStore) -> str | None:
    """Inline a blob reference (a URL into the large-message container), else the value itself."""
    if not isinstance(value, str):
        return None
    blob = store.blob_name_from_url(value)
    if blob is None:
        return value
    text = await store.download(blob)
    if blob.endswith("ExecutionStarted.json.gz"):
        # A client's oversized start message: the row points at the whole MessageData, as
        # DTFx's ``AzureTableTrackingStore`` does for an offloaded start.
        event = envelope.from_body(text).get("TaskMessage", {}).get("Event", {})
        return event.get("Input")
    return text


async def entity_to_state(row: dict[str, Any], store: LargeMessageStore, *, with_input: bool = True) -> InstanceState:
    custom = row.get("CustomStatus")
    return InstanceState(
        instance_id=unescape_key(row["PartitionKey"]),
        name=row.get("Name") or "",
        runtime_status=_status(row.get("RuntimeStatus")),
        created_time=_aware(row.get("CreatedTime")),
        last_updated_time=_aware(row.get("LastUpdatedTime") or row.get("CreatedTime")),
        execution_id=row.get("ExecutionId") or None,
        version=row.get("Version") or None,
        input=await _resolve(row.get("Input"), store) if with_input else None,
        output=await _resolve(row.get("Output"), store),
        custom_status=None if custom in (None, "null") else custom,
        completed_time=_aware(row["CompletedTime"]) if row.get("CompletedTime") else None,
        parent_instance_id=row.get("ParentInstanceId") or None,
    )


def _status(name: Any) -> RuntimeStatus:
    try:
        return RuntimeStatus.parse(str(name))
    except ValueError:
        return RuntimeStatus.Pending


def _aware(value: Any) -> datetime:
    """A plain aware ``datetime`` (the SDK returns a subclass carrying the service's 7-digit text)."""
    if isinstance(value, datetime):
        fields = (value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
        return datetime(*fields, tzinfo=value.tzinfo or UTC)
    raise ValueError(f"expected a DateTime column, got {value!r}")


def query_filter(query: InstanceQuery) -> tuple[str, dict[str, Any]]:
    """OData filter and parameters for ``query`` (DTFx ``OrchestrationInstanceStatusQueryCondition``)."""
    clauses = ["RowKey eq ''"]
    params: dict[str, Any] = {}
    if query.created_from is not None:
        clauses.append("CreatedTime ge @created_from")
        params["created_from"] = query.created_from
    if query.created_to is not None:
        clauses.append("CreatedTime le @created_to")
        params["created_to"] = query.created_to
    if query.statuses:
        names = sorted(s.value for s in query.statuses)
        clauses.append("(" + " or ".join(f"RuntimeStatus eq {odata_string(n)}" for n in names) + ")")
    if query.instance_id_prefix:
        low = escape_key(query.instance_id_prefix)
        high = low[:-1] + chr(ord(low[-1]) + 1)
        clauses.append(f"PartitionKey ge {odata_string(low)} and PartitionKey lt {odata_string(high)}")
    if query.name:
        clauses.append("Name eq @name")
        params["name"] = query.name
    if not query.include_entities:
        # Entity ids start with '@': everything below '@' or from 'A' on (DTFx's ExcludeEntities).
        clauses.append("(PartitionKey lt '@' or PartitionKey ge 'A')")
    return " and ".join(clauses), params


def select_columns(query: InstanceQuery) -> list[str] | None:
    return None if query.include_input else list(_SELECT_WITHOUT_INPUT)


def encode_token(token: Any) -> str | None:
    """The table continuation token (next PartitionKey/RowKey) as an opaque URL-safe string."""
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(text: str | None) -> Any:
    """Inverse of :func:`encode_token`: the last instance id of the previous page; raises
    ``InvalidContinuationTokenError`` for anything else."""
    if not text:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        token = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise InvalidContinuationTokenError("invalid continuation token") from exc
    if not isinstance(token, str) or not token:
        raise InvalidContinuationTokenError("invalid continuation token")
    try:
        token.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidContinuationTokenError("invalid continuation token") from exc
    return token
