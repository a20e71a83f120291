"""One task hub's storage resources and its table operations (Instances and History).

Owns the three async service clients (tables, queues, blobs) built from one connection string,
creates the hub's resources on first start and deletes them only on request. Reads treat a
missing table as an empty hub, so a provider whose hub was deleted answers "nothing there".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from durable_ext.core.clock import Clock
from durable_ext.core.events import ExecutionStarted, HistoryEvent
from durable_ext.core.messages import InstancePage, InstanceQuery, InstanceState, pending_state
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage import history as hist
from durable_ext.providers.azure_storage import instances as inst
from durable_ext.providers.azure_storage.blobs import LargeMessageStore
from durable_ext.providers.azure_storage.clients import service_clients
from durable_ext.providers.azure_storage.names import SENTINEL_ROW_KEY, HubNames, escape_key
from durable_ext.providers.azure_storage.queues import HubQueues
from durable_ext.providers.azure_storage.settings import AzureSettings

logger = logging.getLogger("durable_ext.azure_storage")


class RowWrite(Enum):
    """How :meth:`AzureHub.write_instance` writes an Instances row."""

    REPLACE = "replace"  # InsertOrReplace, whatever is there
    CREATE = "create"  # insert; a row that exists means another writer won
    IF_MATCH = "if_match"  # replace the row only if it still has the ETag we read


@dataclass(frozen=True, slots=True)
class RowGuard:
    """A checked Instances row write: ``write`` and, for ``IF_MATCH``, the ETag as read."""

    write: RowWrite
    etag: str = ""

    @classmethod
    def for_row(cls, stored: inst.StoredInstance | None) -> RowGuard:
        """If-Match the row as read, insert-only when there was none; a cached row whose ETag is
        unknown ("") is replaced unchecked (the history append has fenced the episode then)."""
        if stored is None:
            return cls(RowWrite.CREATE)
        return cls(RowWrite.IF_MATCH, stored.etag) if stored.etag else cls(RowWrite.REPLACE)


class AzureHub:
    """Clients and table-level operations of hub ``names.hub``."""

    def __init__(self, names: HubNames, settings: AzureSettings, clock: Clock) -> None:
        conn = settings.connection_string
        self.names = names
        self.settings = settings
        self.clock = clock
        self.table_service, self.blob_service, self.queue_service = service_clients(conn)
        self.instances = self.table_service.get_table_client(names.instances_table)
        self.history = self.table_service.get_table_client(names.history_table)
        self.store = LargeMessageStore(self.blob_service.get_container_client(names.large_messages_container))
        self.leases_container = self.blob_service.get_container_client(names.leases_container)
        self.queues = HubQueues(self.queue_service, names, self.store, settings, clock)

    async def create(self) -> None:
        """Tables, queues and the large-message container (the lease layout is the lease manager's)."""
        await asyncio.gather(
            self._create_table(self.names.instances_table),
            self._create_table(self.names.history_table),
            self.queues.create(),
            self.store.create(),
        )

    async def _create_table(self, name: str) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.table_service.create_table(name)

    async def delete(self) -> None:
        """Delete every table, queue and container of this hub (nothing of other hubs)."""
        for table in (self.names.instances_table, self.names.history_table):
            with contextlib.suppress(ResourceNotFoundError):
                await self.table_service.delete_table(table)
        await self.queues.delete_queues()
        for container in (self.store.container, self.leases_container):
            with contextlib.suppress(ResourceNotFoundError):
                await container.delete_container()

    async def close(self) -> None:
        """Close every client; a client that fails to close is logged and the rest still close."""
        clients: list[Any] = [self.instances, self.history, self.table_service, self.blob_service, self.queue_service]
        for client in [*clients, *self.queues._clients.values()]:
            try:
                await client.close()
            except Exception as exc:
                logger.debug("Closing a storage client of hub '%s' failed: %r", self.names.hub, exc)

    # -- Instances ---------------------------------------------------------------------------

    async def read_instance(self, instance_id: str, *, with_input: bool = True) -> inst.StoredInstance | None:
        try:
            row = await self.instances.get_entity(escape_key(instance_id), "")
        except ResourceNotFoundError:
            return None
        state = await inst.entity_to_state(dict(row), self.store, with_input=with_input)
        return inst.StoredInstance(state=state, etag=row.metadata["etag"] or "", row=dict(row))

    async def write_instance(
        self,
        state: InstanceState,
        *,
        preserved: dict[str, Any] | None = None,
        blob_urls: dict[str, str] | None = None,
        guard: RowGuard | None = None,
    ) -> None:
        """Write the full row: InsertOrReplace, or with ``guard`` (see :class:`RowGuard`) a checked
        write that raises ``LockLostError`` when someone else wrote the row meanwhile.

        DTFx InsertOrMerges; we replace so that columns an episode clears (``Output`` and
        ``CompletedTime`` after a rewind) are cleared, and carry the columns the state does not
        know (``Generation``, ``Tags``, ``ScheduledStartTime``) over from the row we read. The
        guard is for commits without a history append (entities keep no history), which the
        sentinel ETag cannot protect (DTFx has the same guard behind its ``UseInstanceTableEtag``
        setting, off by default).
        """
        entity = await inst.state_to_entity(
            state, hub=self.names.hub, store=self.store, preserved=preserved, blob_urls=blob_urls
        )
        if guard is None or guard.write is RowWrite.REPLACE:
            await self.instances.upsert_entity(entity, mode=UpdateMode.REPLACE)
            return
        try:
            if guard.write is RowWrite.CREATE:
                await self.instances.create_entity(entity)
            else:
                await self.instances.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=guard.etag, match_condition=MatchConditions.IfNotModified
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as exc:
            raise LockLostError(f"Instance '{state.instance_id}': its row was written by another worker") from exc

    async def insert_pending(self, event: ExecutionStarted, now: datetime, *, generation: int = 0) -> bool:
        """Insert the Pending row of a not-yet-started instance; False if a row exists (409)."""
        entity = await self.pending_entity(event, now, generation=generation)
        try:
            await self.instances.create_entity(entity)
        except ResourceExistsError:
            return False
        return True

    async def pending_entity(
        self, event: ExecutionStarted, now: datetime, *, generation: int = 0, blob_urls: dict[str, str] | None = None
    ) -> dict[str, Any]:
        state = pending_state(event.instance_id, event, now)
        preserved: dict[str, Any] = {"Generation": generation}
        if event.scheduled_start_time is not None:
            preserved["ScheduledStartTime"] = event.scheduled_start_time
        return await inst.state_to_entity(
            state, hub=self.names.hub, store=self.store, preserved=preserved, blob_urls=blob_urls
        )

    async def delete_instance_row(self, instance_id: str) -> bool:
        try:
            await self.instances.get_entity(escape_key(instance_id), "", select=["RowKey"])
        except ResourceNotFoundError:
            return False
        await self.instances.delete_entity(escape_key(instance_id), "")
        return True

    async def query(self, query: InstanceQuery) -> InstancePage:
        """One page in PartitionKey (instance id) order; the token is the last id (keyset paging).

        Azure Tables only orders by key, so unlike SQLite's (created time, id) the order is by id.
        """
        if query.statuses is not None and not query.statuses:
            return InstancePage([])
        where, params = inst.query_filter(query)
        if query.continuation_token:
            params["after"] = inst.decode_token(query.continuation_token)
            where += " and PartitionKey gt @after"
        size = max(1, query.page_size)
        rows: list[dict[str, Any]] = []
        try:
            pager = self.instances.query_entities(
                where, parameters=params, select=inst.select_columns(query), results_per_page=min(1000, size + 1)
            )
            async for row in pager:
                rows.append(dict(row))
                if len(rows) > size:
                    break
        except ResourceNotFoundError:
            return InstancePage([])
        more = len(rows) > size
        rows = rows[:size]
        states = [await inst.entity_to_state(r, self.store, with_input=query.include_input) for r in rows]
        return InstancePage(states, inst.encode_token(rows[-1]["PartitionKey"]) if more else None)

    # -- History -----------------------------------------------------------------------------

    async def read_history(self, instance_id: str) -> hist.StoredHistory:
        try:
            return await hist.read_history(self.history, self.store, escape_key(instance_id))
        except ResourceNotFoundError:
            return hist.StoredHistory([], None, None)

    async def sentinel_etag(self, instance_id: str) -> str | None:
        """The ETag of the instance's history sentinel (None if it has none): one point read that
        tells whether anyone checkpointed the instance since we last saw it."""
        try:
            row = await self.history.get_entity(escape_key(instance_id), SENTINEL_ROW_KEY, select=["RowKey"])
        except ResourceNotFoundError:
            return None
        return row.metadata["etag"]

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        return (await self.read_history(instance_id)).events

    async def delete_history(self, instance_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            await hist.delete_history(self.history, escape_key(instance_id))

    async def delete_blobs(self, instance_id: str) -> None:
        """Large-value blobs of an instance: ``{id}/…`` under both the raw and the escaped id.

        DTFx sweeps prefix ``{id}`` at purge, which also hits ``{id}x/…``; the trailing slash
        keeps other instances' blobs.
        """
        for prefix in {f"{instance_id}/", f"{escape_key(instance_id)}/"}:
            with contextlib.suppress(ResourceNotFoundError):
                await self.store.delete_prefix(prefix)
