"""Control queues and the work-item queue: send, receive, hide, delete
(DTFx ``AzureStorage/Messaging/TaskHubQueue.cs``).

* Bodies are ``MessageData`` JSON, Base64 by default (settings); readers accept both forms.
* A serialised message over 45 KiB goes to a gzip blob and the queue gets a wrapper
  (DTFx ``MessageManager.MaxStorageQueuePayloadSizeInBytes``: a queue message holds 64 KiB
  and Base64 grows a body by 4/3).
* Delays (timers, scheduled starts) are the message's initial invisibility, capped by the
  settings' ``max_queue_delay`` (Azure allows 7 days; DF asks for at most 6). A message that
  arrives before its due time is hidden again for the remaining delay (a "hop").
* Messages never expire (TTL -1, as DTFx).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from durable_ext.core import events as e
from durable_ext.core.clock import Clock
from durable_ext.core.messages import TaskMessage
from durable_ext.errors import LockLostError
from durable_ext.providers.azure_storage import envelope
from durable_ext.providers.azure_storage.blobs import MAX_QUEUE_PAYLOAD_BYTES, LargeMessageStore, message_blob_name
from durable_ext.providers.azure_storage.names import HubNames
from durable_ext.providers.azure_storage.settings import AzureSettings


@dataclass(slots=True)
class Received:
    """One dequeued message. ``envelope`` is None when the body could not be read (``error``)."""

    queue: str
    id: str
    pop_receipt: str
    dequeue_count: int
    inserted_on: datetime
    next_visible_on: datetime
    body: str
    envelope: envelope.Envelope | None = None
    blob_name: str | None = None
    error: str | None = None
    instance_hint: str | None = None
    #: Not to be delivered before this time (timers, scheduled starts, retries), in the callers' clock.
    due: datetime | None = None
    #: In-memory back-off: not to be delivered again before this time, in the callers' clock.
    defer_until: datetime | None = None
    defers: int = 0
    #: Times this process handed the message out (Azure counts only real dequeues).
    deliveries: int = field(default=0)
    #: Dequeues before this process first buffered it (earlier, failed attempts elsewhere).
    prior_attempts: int = 0

    @property
    def message(self) -> TaskMessage:
        assert self.envelope is not None and self.envelope.message is not None
        return self.envelope.message

    @property
    def instance_id(self) -> str | None:
        return self.envelope.message.instance_id if self.envelope and self.envelope.message else self.instance_hint


def due_time(message: TaskMessage) -> datetime | None:
    """When a message may be delivered, as far as the message itself says (timers, scheduled starts)."""
    event = message.event
    if isinstance(event, e.TimerFired):
        return event.fire_at
    if isinstance(event, e.ExecutionStarted):
        return event.scheduled_start_time
    return None


class HubQueues:
    """The hub's queues behind one queue service client."""

    def __init__(
        self,
        service: QueueServiceClient,
        names: HubNames,
        store: LargeMessageStore,
        settings: AzureSettings,
        clock: Clock,
    ) -> None:
        self.service = service
        self.names = names
        self.store = store
        self.settings = settings
        self.clock = clock
        self._clients: dict[str, QueueClient] = {}

    def client(self, queue: str) -> QueueClient:
        client = self._clients.get(queue)
        if client is None:
            client = self._clients[queue] = self.service.get_queue_client(queue)
        return client

    @property
    def all_queues(self) -> list[str]:
        return [*self.names.control_queues, self.names.workitem_queue]

    async def create(self) -> None:
        await asyncio.gather(*(self._create(q) for q in self.all_queues))

    async def _create(self, queue: str) -> None:
        try:
            await self.client(queue).create_queue()
        except ResourceExistsError:
            pass

    async def delete_queues(self) -> None:
        for queue in self.all_queues:
            try:
                await self.client(queue).delete_queue()
            except ResourceNotFoundError:
                pass

    # -- sending -----------------------------------------------------------------------------

    def delay_seconds(self, visible_at: datetime | None) -> int:
        """Initial invisibility for a message due at ``visible_at``: whole seconds, never early, capped."""
        if visible_at is None:
            return 0
        seconds = (visible_at - self.clock.now()).total_seconds()
        if seconds <= 0:
            return 0
        return min(math.ceil(seconds), int(self.settings.max_queue_delay.total_seconds()))

    async def send(
        self,
        message: TaskMessage,
        *,
        queue: str | None = None,
        visible_at: datetime | None = None,
        episode: int | None = None,
        sender: tuple[str, str] | None = None,
    ) -> Received:
        """Send ``message`` to ``queue`` (default: the control queue of its instance).

        Returns the sent message as this process knows it (id and pop receipt included), so the
        sender can deliver, delete or purge it without dequeuing it first.
        """
        queue = queue or self.names.control_queue_of(message.instance_id)
        data = envelope.encode(message, episode=episode, sender=sender)
        text = envelope.dumps(data)
        blob = None
        if len(text.encode("utf-8")) > MAX_QUEUE_PAYLOAD_BYTES:
            blob = message_blob_name(message.instance_id, data["ActivityId"], message.event.TYPE)
            await self.store.upload(blob, text)
            text = envelope.dumps(envelope.wrapper(blob))
        body = envelope.to_body(text, base64_encode=self.settings.base64_messages)
        due = visible_at or due_time(message)
        sent = await self.send_body(queue, body, self.delay_seconds(due))
        return Received(
            queue=queue,
            id=sent.id,
            pop_receipt=sent.pop_receipt,
            dequeue_count=0,
            inserted_on=sent.inserted_on,
            next_visible_on=sent.next_visible_on,
            body=body,
            envelope=envelope.Envelope(
                message, data["ActivityId"], data["SequenceNumber"], episode=episode, sender=sender
            ),
            blob_name=blob,
            due=due,
        )

    async def send_body(self, queue: str, body: str, delay: int):
        return await self.client(queue).send_message(body, visibility_timeout=delay or None, time_to_live=-1)

    # -- receiving ---------------------------------------------------------------------------

    async def receive(self, queue: str, count: int, visibility: timedelta) -> list[Received]:
        """One dequeue call of up to ``count`` (≤ 32) messages, hidden for ``visibility``, decoded."""
        pages = (
            self.client(queue)
            .receive_messages(messages_per_page=max(1, min(32, count)), visibility_timeout=_seconds(visibility))
            .by_page()
        )
        raw = []
        async for page in pages:
            raw = [m async for m in page]
            break  # exactly one call: the pager would ask again for the rest of max_messages
        received = [await self._decode(queue, m) for m in raw]
        # DTFx MessageOrderingComparer: insertion time (1 s precision), then the sender's sequence number.
        received.sort(key=lambda r: (r.inserted_on, r.envelope.sequence_number if r.envelope else 0))
        return received

    async def _decode(self, queue: str, raw) -> Received:
        item = Received(
            queue=queue,
            id=raw.id,
            pop_receipt=raw.pop_receipt,
            dequeue_count=raw.dequeue_count or 1,
            inserted_on=raw.inserted_on,
            next_visible_on=raw.next_visible_on,
            body=raw.content if isinstance(raw.content, str) else bytes(raw.content).decode("utf-8", "replace"),
        )
        try:
            data = envelope.from_body(item.body)
            item.instance_hint = envelope.instance_id_of(data)
            decoded = envelope.decode(data)
            if decoded.compressed_blob_name:
                item.blob_name = decoded.compressed_blob_name
                item.instance_hint = item.blob_name.split("/", 1)[0]
                data = envelope.from_body(await self.store.download(item.blob_name))
                decoded = envelope.decode(data)
            if decoded.message is None:
                raise envelope.EnvelopeError("large-message blob holds no TaskMessage")
            item.envelope = decoded
            item.due = due_time(decoded.message)
        except (envelope.EnvelopeError, ResourceNotFoundError, OSError, ValueError) as exc:
            item.error = f"{type(exc).__name__}: {exc}"
        return item

    async def hide(self, item: Received, visibility: timedelta) -> None:
        """Make ``item`` invisible for ``visibility`` from now (0: visible at once), capped at the
        maximum delay; keeps the new pop receipt.

        Raises ``LockLostError`` if the message is gone or our pop receipt is stale.
        """
        seconds = 0 if visibility <= timedelta(0) else _seconds(min(visibility, self.settings.max_queue_delay))
        try:
            updated = await self.client(item.queue).update_message(
                item.id, item.pop_receipt, visibility_timeout=seconds
            )
        except (ResourceNotFoundError, HttpResponseError) as exc:
            if _is_lost(exc):
                raise LockLostError(f"queue message {item.id} is gone or was taken by another worker") from exc
            raise
        # Update Message always answers with the new pop receipt and visibility time.
        assert updated.pop_receipt is not None and updated.next_visible_on is not None
        item.pop_receipt = updated.pop_receipt
        item.next_visible_on = updated.next_visible_on

    async def delete(self, item: Received) -> bool:
        """Delete a consumed message; False if it was already gone (DTFx logs ``MessageGone``).

        Raises ``LockLostError`` if our pop receipt is stale (someone dequeued it again). Blobs of
        consumed messages are deleted too, except an ExecutionStarted blob, which the Instances
        ``Input`` may point at (DTFx leaves every blob until the instance is purged).
        """
        for attempt in range(2):
            receipt = item.pop_receipt
            try:
                await self.client(item.queue).delete_message(item.id, receipt)
                break
            except ResourceNotFoundError:
                return False
            except HttpResponseError as exc:
                if not _is_lost(exc):
                    raise
                # One retry (as DTFx) if this process's poller refreshed the receipt meanwhile.
                if attempt or item.pop_receipt == receipt:
                    raise LockLostError(f"queue message {item.id} was dequeued again by another worker") from exc
        if item.blob_name and not item.blob_name.endswith("ExecutionStarted.json.gz"):
            await self.store.delete(item.blob_name)
        return True

    async def approximate_count(self, queue: str) -> int:
        props = await self.client(queue).get_queue_properties()
        return props.approximate_message_count or 0


def _seconds(value: timedelta) -> int:
    return max(1, math.ceil(value.total_seconds()))


def _is_lost(exc: Exception) -> bool:
    code = getattr(exc, "error_code", None)
    code = str(getattr(code, "value", code) or "")
    return getattr(exc, "status_code", None) == 404 or code in ("PopReceiptMismatch", "MessageNotFound")
