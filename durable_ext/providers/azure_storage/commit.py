"""Committing an orchestration episode, in DurableTask.AzureStorage's order
(``AzureStorageOrchestrationService.CompleteTaskOrchestrationWorkItemAsync``).

1. **send** every outbound message (timers and starts to control queues, activities to the
   work-item queue) — a crash after this re-sends them on retry (duplicates are tolerated);
2. **append history** in entity-group transactions guarded by the sentinel ETag read with the
   work item — a second writer of the same episode gets 412/409 → ``LockLostError``;
3. **upsert the Instances row**;
4. **delete the consumed messages** — the final acknowledgement.

The in-memory lock is checked first, so a commit whose lock this process already handed to
another work item changes nothing at all.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from durable_ext.core import events as e
from durable_ext.core.clock import Clock
from durable_ext.core.messages import OrchestrationCommit, OrchestrationWorkItem, TaskMessage
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage import history as hist
from durable_ext.providers.azure_storage.cache import Snapshot
from durable_ext.providers.azure_storage.hub import AzureHub
from durable_ext.providers.azure_storage.instances import StoredInstance
from durable_ext.providers.azure_storage.names import escape_key, row_key
from durable_ext.providers.azure_storage.queues import Received
from durable_ext.providers.azure_storage.sessions import ItemState, Sessions, item_state

logger = logging.getLogger("durable_ext.azure_storage")
#: Events whose property becomes the Instances Input/Output: (column, attribute).
_INSTANCE_SOURCES = {
    e.ExecutionStarted: ("Input", "input"),
    e.ExecutionCompleted: ("Result", "result"),
    e.ExecutionTerminated: ("Input", "input"),
}


class Committer:
    def __init__(self, hub: AzureHub, sessions: Sessions, clock: Clock, on_sent_task, on_work) -> None:
        self.hub = hub
        self.sessions = sessions
        self.clock = clock
        self.on_sent_task = on_sent_task  # records activity messages for purge
        self.on_work = on_work
        self._io = asyncio.Semaphore(hub.settings.io_concurrency)

    async def complete(self, item: OrchestrationWorkItem, commit: OrchestrationCommit) -> None:
        inbox = self.sessions.inbox
        if not inbox.holds(item.instance_id, item.lock_token):
            raise LockLostError(f"Instance '{item.instance_id}': the lock was taken over or the work was completed")
        session = inbox.sessions[item.instance_id]
        assert session.lock is not None
        lock = session.lock
        read = item_state(item)
        # Exactly the messages still in the work item count as consumed: a dispatcher may leave
        # some for the next batch (maxEntityOperationBatchSize) by dropping them from the item.
        lock.message_ids = [message_id for message_id, _ in item.messages]
        try:
            sent = await self._send(item, commit)
            known_blobs: dict[str, str] = {}
            history_etag = read.history_etag
            appended = bool(commit.new_history or commit.replace_history)
            if appended:
                known_blobs, history_etag = await self._append_history(item, commit)
            if commit.state is not None:
                # After a history append the sentinel ETag has fenced this episode; without one
                # (an entity batch) the row's own ETag does.
                guard = None if appended else read.row_guard
                await self.hub.write_instance(commit.state, preserved=read.row, blob_urls=known_blobs, guard=guard)
            await self._delete_consumed(lock.message_ids)
        except LockLostError:
            # Another worker committed this instance: what we buffered for it is stale, and the
            # messages go back to the queue at once for whoever owns the partition now.
            self.sessions.hand_back(self.sessions.forget(item.instance_id))
            self.sessions.check_leases_soon()
            raise
        except Exception:
            # Part of the episode may be written (the row, say): the next attempt must read storage.
            self.sessions.cache.drop(item.instance_id)
            messages = [m for m in map(inbox.get, lock.message_ids) if m]
            self.sessions.back_off(messages, failed=True, now=self.clock.now())
            inbox.release(item.instance_id, item.lock_token, [])
            raise
        self._remember(item, commit, read, history_etag)
        remaining = inbox.release(item.instance_id, item.lock_token, lock.message_ids)
        if sent or remaining:
            self.on_work()

    def _remember(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit, read: ItemState, history_etag: str | None
    ) -> None:
        """Keep the instance as committed for its next episode (see :mod:`cache`); ``history_etag``
        is the sentinel's ETag after this commit."""
        events = list(commit.new_history) if commit.replace_history else [*item.history, *commit.new_history]
        execution_id = (commit.state.execution_id if commit.state else None) or read.execution_id
        history = hist.StoredHistory(events, history_etag, execution_id)
        state = commit.state or item.state
        stored = StoredInstance(state, "", read.row or {}) if state is not None else None
        self.sessions.cache.put(item.instance_id, Snapshot(stored, history))

    # -- 1. send -----------------------------------------------------------------------------

    async def _send(self, item: OrchestrationWorkItem, commit: OrchestrationCommit) -> int:
        execution_id = (commit.state.execution_id if commit.state else None) or item_state(item).execution_id
        sender = (item.instance_id, execution_id or "")
        episode = sum(isinstance(ev, e.OrchestratorStarted) for ev in (*item.history, *commit.new_history))
        # Messages to one instance go one after another, in the order the episode produced them
        # (an orchestrator's signal then call to one entity must arrive in that order); different
        # targets and activities go in parallel.
        by_target: dict[str, list] = {}
        for out in commit.messages:
            by_target.setdefault(out.message.instance_id, []).append(out)

        async def send_in_order(outs: list) -> None:
            for out in outs:
                await self._send_one(out.message, out.visible_at, episode, sender, item, commit)

        jobs = [send_in_order(outs) for outs in by_target.values()]
        jobs += [self._send_task(task, episode, sender) for task in commit.activities]
        await asyncio.gather(*jobs)
        return len(commit.messages) + len(commit.activities)

    async def _send_one(
        self, message: TaskMessage, visible_at: datetime | None, episode: int, sender, item, commit
    ) -> None:
        async with self._io:
            sent = await self.hub.queues.send(message, visible_at=visible_at, episode=episode, sender=sender)
            self.sessions.remember(sent)
            event = message.event
            own_row = message.instance_id == item.instance_id and (commit.state or item.state) is not None
            if isinstance(event, e.ExecutionStarted) and not own_row:
                # DTFx writes no row for a sub-orchestration until its first checkpoint; our client
                # API must see the child at once, so insert a Pending row unless one exists.
                await self.hub.insert_pending(event, self.clock.now())

    async def _send_task(self, task: TaskMessage, episode: int, sender) -> None:
        async with self._io:
            sent = await self.hub.queues.send(task, queue=self.hub.names.workitem_queue, episode=episode, sender=sender)
            self.on_sent_task(sent)

    # -- 2. history --------------------------------------------------------------------------

    async def _append_history(
        self, item: OrchestrationWorkItem, commit: OrchestrationCommit
    ) -> tuple[dict[str, str], str | None]:
        """Write the new rows (and, for a shortened rewrite, delete the tail); returns
        {value: blob URL} for values that went to blobs, for the Instances row to point at, and
        the sentinel's new ETag."""
        read = item_state(item)
        key = escape_key(item.instance_id)
        execution_id = (commit.state.execution_id if commit.state else None) or read.execution_id or ""
        first = 0 if commit.replace_history else read.history_rows
        entities = [
            hist.event_to_entity(ev, key, row_key(first + i), execution_id) for i, ev in enumerate(commit.new_history)
        ]
        known: dict[str, str] = {}
        for entity, event in zip(entities, commit.new_history, strict=True):
            moved = await hist.offload_large(entity, self.hub.store, key)
            # DTFx points the Instances Input/Output at the blob of the event they come from.
            source = _INSTANCE_SOURCES.get(type(event))
            if source and source[0] in moved:
                known.setdefault(getattr(event, source[1]), self.hub.store.url(moved[source[0]]))
        deletes: list[str] = []
        if commit.replace_history and execution_id == read.execution_id:
            # Same execution rewritten shorter (rewind): the reader would not stop at stale rows.
            deletes = [row_key(i) for i in range(len(commit.new_history), read.history_rows)]
        etag = await hist.append_history(
            self.hub.history,
            partition_key=key,
            execution_id=execution_id,
            entities=entities,
            delete_row_keys=deletes,
            etag=read.history_etag,
            now=self.clock.now(),
        )
        return known, etag

    # -- 4. acknowledge ----------------------------------------------------------------------

    async def _delete_consumed(self, message_ids: list[str]) -> None:
        messages = [m for m in map(self.sessions.inbox.get, message_ids) if m is not None]
        await asyncio.gather(*(self._delete_one(m) for m in messages))

    async def _delete_one(self, message: Received) -> None:
        async with self._io:
            try:
                await self.hub.queues.delete(message)
            except Exception as exc:
                # The episode is committed; only the acknowledgement failed (dequeued again by our
                # poller or a worker that took the partition, or a storage error): delete the copy
                # when we see it; elsewhere it is screened out as a duplicate or processed at least
                # once, as in DTFx.
                self.sessions.inbox.mark_consumed(message.id)
                if not isinstance(exc, LockLostError):
                    logger.warning("Deleting consumed message %s failed: %s", message.id, exc)
