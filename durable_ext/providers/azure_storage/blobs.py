"""Large values in ``{hub}-largemessages``: gzip blobs named as DTFx names them
(``AzureStorage/MessageManager.cs``, ``Tracking/AzureTableTrackingStore.cs``).

* a queue message over the limit: ``{instanceId}/message-{ActivityId:N}-{EventType}.json.gz`` holding
  the full ``MessageData`` JSON; the queue gets a wrapper naming it;
* a history property over the limit: ``{escapedId}/history-{RowKey}-{EventType}-{random:X8}-{Property}.json.gz``;
  the row keeps ``""`` and a ``{Property}BlobName`` column;
* an Instances ``Input``/``Output`` over the limit: the *absolute URL* of a blob (DTFx points at the
  history blob; readers treat a URL into this container as a reference).

All blobs are gzip of UTF-8 text (``CompressionLevel.Optimal`` ≈ level 9 is slow for little gain;
level 6 reads back the same).
"""

from __future__ import annotations

import gzip
import secrets
from urllib.parse import quote, unquote

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import ContainerClient

from durable_ext.core.events import EventType

#: Serialised message JSON above this many UTF-8 bytes goes to a blob ("Use 45 KB, as the Storage
#: SDK will base64 encode the message, increasing the size by a factor of 4/3").
MAX_QUEUE_PAYLOAD_BYTES = 45 * 1024
#: Table string properties above this many UTF-16 bytes go to a blob (limit per property is 64 KiB).
MAX_TABLE_PROPERTY_BYTES = 60 * 1024


def too_large_for_table(value: str) -> bool:
    # Azure counts UTF-16 bytes; > 30,720 code units cannot fit, ASCII-only text is 2 bytes a char.
    return len(value) * 2 > MAX_TABLE_PROPERTY_BYTES and len(value.encode("utf-16-le")) > MAX_TABLE_PROPERTY_BYTES


def message_blob_name(instance_id: str, activity_id: str, event_type: EventType) -> str:
    return f"{instance_id}/message-{activity_id.replace('-', '').lower()}-{event_type.name}.json.gz"


def history_blob_name(escaped_id: str, row_key: str, event_type: str, prop: str) -> str:
    # The random part keeps two split-brain writers from overwriting each other's blob (durabletask#890).
    return f"{escaped_id}/history-{row_key}-{event_type}-{secrets.randbits(32):08X}-{prop}.json.gz"


def instance_blob_name(escaped_id: str, execution_id: str, prop: str) -> str:
    """An Instances value with no history blob to point at (the client path, where
    DTFx writes an ``InputBlobName`` that is never read back; we write the blob URL there too)."""
    return f"{escaped_id}/instance-{execution_id}-{secrets.randbits(32):08X}-{prop}.json.gz"


class LargeMessageStore:
    """Upload, download and delete the hub's large-value blobs."""

    def __init__(self, container: ContainerClient) -> None:
        self.container = container
        self.name = container.container_name

    async def create(self) -> None:
        try:
            await self.container.create_container()
        except ResourceExistsError:
            pass

    async def upload(self, blob_name: str, text: str) -> None:
        data = gzip.compress(text.encode("utf-8"), compresslevel=6)
        await self.container.upload_blob(blob_name, data, overwrite=True)

    async def download(self, blob_name: str) -> str:
        stream = await self.container.download_blob(blob_name)
        data = await stream.readall()
        return gzip.decompress(data).decode("utf-8")

    def url(self, blob_name: str) -> str:
        return f"{self.container.url.rstrip('/')}/{quote(blob_name)}"

    def blob_name_from_url(self, value: str | None) -> str | None:
        """The blob a stored URL refers to, or None if ``value`` is not a URL into this container.

        Matched on the container segment, not the whole URL, so a hub moved between endpoints
        (Azurite ports, custom domains) still resolves.
        """
        if not value or not value.startswith(("http://", "https://")):
            return None
        marker = f"/{self.name}/"
        cut = value.find(marker)
        if cut == -1 or any(ch.isspace() for ch in value):
            return None
        return unquote(value[cut + len(marker) :])

    async def delete(self, blob_name: str) -> None:
        try:
            await self.container.delete_blob(blob_name)
        except ResourceNotFoundError:
            pass

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob named ``prefix…``; returns how many."""
        names = [b.name async for b in self.container.list_blobs(name_starts_with=prefix)]
        for name in names:
            await self.delete(name)
        return len(names)
