"""Partition ownership: one lease blob per control queue in ``{hub}-leases`` (DTFx
``AzureStorage/Partitioning/BlobPartitionLeaseManager.cs``).

Layout as DTFx's blob lease manager: ``taskhub.json`` ({TaskHubName, CreatedAt, PartitionCount})
and ``default/{hub}-control-NN`` holding ``{"PartitionId", "Owner", "Token", "Epoch"}``. A worker
dequeues from a control queue only while it owns that partition; the work-item queue is shared.

Balancing follows DTFx's ``LeaseCollectionBalancer``: every acquire tick read all leases, count the
owners of unexpired ones, ``target = ceil(partitions / workers)``; take expired leases first, else
steal one from the busiest worker. Owners renew every renew interval; a worker whose renewal is
rejected (or that cannot renew before expiry) drops the partition at once.

Deliberate difference: the lease is not the Blob service's lease primitive but the blob's
content/metadata written ``If-Match`` its ETag, with an ``ExpiresAt`` — the protocol of DTFx's
*table* partition manager (``Partitioning/TablePartitionManager.cs``) kept in the blob manager's layout. Blob leases cannot be shorter
than 15 s; this lets tests and fault drills use lease intervals of a few seconds. The commit's
history ETag (the sentinel row, see :mod:`history`) stays the final guard against two owners during a hand-over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceModifiedError
from azure.storage.blob.aio import ContainerClient

from durable_ext.core.clock import Clock
from durable_ext.core.wire import format_datetime, parse_datetime
from durable_ext.providers.azure_storage.names import HubNames
from durable_ext.providers.azure_storage.settings import AzureSettings

logger = logging.getLogger("durable_ext.azure_storage")
TASKHUB_INFO_BLOB = "taskhub.json"


async def stored_partition_count(container: ContainerClient) -> int | None:
    """``PartitionCount`` of the hub's ``taskhub.json``; None when the hub or the blob does not exist.

    A client of another app's hub must route starts to that hub's control queues, so it uses the
    count the hub was created with, as DTFx's client does (``GetControlQueuesAsync`` reads the
    task hub info before falling back to its own setting).
    """
    try:
        stream = await container.download_blob(TASKHUB_INFO_BLOB)
        count = json.loads(await stream.readall()).get("PartitionCount")
    except (AzureError, ValueError):
        return None
    return count if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 16 else None


@dataclass(slots=True)
class Lease:
    partition: int
    owner: str | None
    token: str | None
    epoch: int
    expires_at: datetime | None
    etag: str

    def expired(self, now: datetime) -> bool:
        return self.owner is None or self.expires_at is None or self.expires_at <= now


class PartitionManager:
    """Acquires, renews, steals and releases this worker's partitions of one hub."""

    def __init__(
        self,
        container: ContainerClient,
        names: HubNames,
        settings: AzureSettings,
        clock: Clock,
        *,
        on_change: Callable[[set[int], set[int]], None] | None = None,
    ) -> None:
        self.container = container
        self.names = names
        self.settings = settings
        self.clock = clock
        self.on_change = on_change  # (acquired, lost)
        self.worker_id: str | None = None
        self.owned: dict[int, Lease] = {}
        self._task: asyncio.Task | None = None
        self._io = asyncio.Lock()
        self._starting = asyncio.Lock()

    # -- hub lifecycle -----------------------------------------------------------------------

    async def create(self) -> None:
        """Container, ``taskhub.json`` and one unowned lease blob per partition, if missing."""
        with contextlib.suppress(ResourceExistsError):
            await self.container.create_container()
        info = {
            "TaskHubName": self.names.hub,
            "CreatedAt": format_datetime(self.clock.now()),
            "PartitionCount": self.names.partition_count,
        }
        try:
            await self.container.upload_blob(TASKHUB_INFO_BLOB, json.dumps(info), overwrite=False)
        except ResourceExistsError:
            await self._check_partition_count()
        for partition in range(self.names.partition_count):
            with contextlib.suppress(ResourceExistsError):
                await self.container.upload_blob(
                    self.names.lease_blob(partition), self._content(partition, None, None, 0, None), overwrite=False
                )

    async def _check_partition_count(self) -> None:
        stream = await self.container.download_blob(TASKHUB_INFO_BLOB)
        stored = json.loads(await stream.readall()).get("PartitionCount")
        if stored != self.names.partition_count:
            logger.warning(
                "Task hub '%s' was created with %s partitions but partitionCount is %s; changing the partition "
                "count requires a new task hub.",
                self.names.hub,
                stored,
                self.names.partition_count,
            )

    # -- running -----------------------------------------------------------------------------

    def owns(self, partition: int) -> bool:
        return partition in self.owned

    @property
    def partitions(self) -> list[int]:
        return sorted(self.owned)

    async def start(self, worker_id: str) -> None:
        """Take a first share at once (so a lone worker can work immediately), then keep balancing."""
        if self._task is not None:
            return  # the common case: every fetch of every dispatcher loop calls this
        # Every dispatcher loop calls this on its first fetch: one of them starts, the others wait
        # for that first share instead of each stealing a partition and each starting a loop.
        async with self._starting:
            if self._task is not None:
                return
            self.worker_id = worker_id
            await self.balance(reclaim=True)
            self._task = asyncio.create_task(self._run(), name=f"leases-{self.names.hub}")

    async def stop(self, *, release: bool = True) -> None:
        """Stop renewing; with ``release`` hand every owned partition back at once (graceful shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if release and self.worker_id is not None:
            await self._release_mine()
        lost = set(self.owned)
        self.owned.clear()
        self._changed(set(), lost)

    async def _run(self) -> None:
        renew_every = self.settings.lease_renew_interval.total_seconds()
        acquire_every = self.settings.lease_acquire_interval.total_seconds()
        loop = asyncio.get_running_loop()
        next_renew = loop.time() + renew_every
        next_acquire = loop.time() + acquire_every
        while True:
            await asyncio.sleep(max(0.05, min(next_renew, next_acquire) - loop.time()))
            try:
                if loop.time() >= next_renew:
                    next_renew = loop.time() + renew_every
                    await self.renew()
                if loop.time() >= next_acquire:
                    next_acquire = loop.time() + acquire_every
                    await self.balance()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning(
                    "Partition lease maintenance for hub '%s' failed; retrying", self.names.hub, exc_info=True
                )

    async def _release_mine(self, attempts: int = 3) -> None:
        """Hand back every lease stored under this worker's name, read fresh: the loop just
        cancelled may have been mid-write (a renewal or a take whose new ETag we never saw), and
        a lease released with a stale ETag would keep the others waiting for its expiry.

        Any storage error is retried, then reported: the other workers then wait for expiry.
        """
        for attempt in range(1, attempts + 1):
            try:
                for lease in (await self.read_all()).values():
                    if lease.owner == self.worker_id:
                        with contextlib.suppress(ResourceModifiedError):  # taken meanwhile: no longer ours
                            await self._write(lease, owner=None, token=None, epoch=lease.epoch, expires=None)
                return
            except AzureError as exc:
                if attempt == attempts:
                    logger.warning(
                        "Worker '%s' could not hand back its partitions of hub '%s' (%s); the other workers "
                        "take them when the leases expire",
                        self.worker_id,
                        self.names.hub,
                        exc,
                    )

    # -- reading and writing leases ----------------------------------------------------------

    def _content(self, partition: int, owner: str | None, token: str | None, epoch: int, expires: datetime | None):
        return json.dumps(
            {
                "PartitionId": self.names.control_queue(partition),
                "Owner": owner,
                "Token": token,
                "Epoch": epoch,
                "ExpiresAt": format_datetime(expires) if expires else None,
            }
        )

    async def read_all(self) -> dict[int, Lease]:
        """Every partition's lease, in one List Blobs call (the state lives in blob metadata)."""
        leases: dict[int, Lease] = {}
        by_name = {self.names.lease_blob(p): p for p in range(self.names.partition_count)}
        async for blob in self.container.list_blobs(name_starts_with="default/", include=["metadata"]):
            partition = by_name.get(blob.name)
            if partition is None:
                continue
            meta = blob.metadata or {}
            expires = meta.get("expiresat")
            leases[partition] = Lease(
                partition=partition,
                owner=unquote(meta["owner"]) if meta.get("owner") else None,
                token=meta.get("token") or None,
                epoch=int(meta.get("epoch") or 0),
                expires_at=parse_datetime(expires) if expires else None,
                etag=blob.etag,
            )
        return leases

    async def _write(
        self, lease: Lease, *, owner: str | None, token: str | None, epoch: int, expires: datetime | None
    ) -> Lease:
        """Replace the lease ``If-Match`` its ETag; raises ``ResourceModifiedError`` if someone else wrote."""
        metadata = {"epoch": str(epoch)}
        if owner:
            metadata["owner"] = quote(owner, safe="")
        if token:
            metadata["token"] = token
        if expires:
            metadata["expiresat"] = format_datetime(expires)
        blob = self.container.get_blob_client(self.names.lease_blob(lease.partition))
        result = await blob.upload_blob(
            self._content(lease.partition, owner, token, epoch, expires),
            overwrite=True,
            metadata=metadata,
            etag=lease.etag,
            match_condition=MatchConditions.IfNotModified,
        )
        return Lease(lease.partition, owner, token, epoch, expires, result["etag"])

    async def _take(self, lease: Lease) -> bool:
        """Acquire (expired) or steal (owned by another) ``lease``; False if someone beat us to it."""
        expires = self.clock.now() + self.settings.lease_interval
        try:
            taken = await self._write(
                lease, owner=self.worker_id, token=str(uuid.uuid4()), epoch=lease.epoch + 1, expires=expires
            )
        except ResourceModifiedError:
            return False
        self.owned[lease.partition] = taken
        return True

    # -- the two loops -----------------------------------------------------------------------

    async def renew(self) -> None:
        """Extend every owned lease; drop those another worker took or that expired unrenewed."""
        async with self._io:
            lost: set[int] = set()
            for partition, lease in list(self.owned.items()):
                expires = self.clock.now() + self.settings.lease_interval
                try:
                    self.owned[partition] = await self._write(
                        lease, owner=self.worker_id, token=lease.token, epoch=lease.epoch, expires=expires
                    )
                except ResourceModifiedError:
                    lost.add(partition)
                except HttpResponseError:
                    if lease.expired(self.clock.now()):
                        lost.add(partition)
            for partition in lost:
                self.owned.pop(partition, None)
                logger.info(
                    "Worker '%s' lost partition %s of hub '%s'",
                    self.worker_id,
                    self.names.control_queue(partition),
                    self.names.hub,
                )
            self._changed(set(), lost)

    async def balance(self, *, reclaim: bool = False) -> None:
        """One acquire tick of ``LeaseCollectionBalancer``; ``reclaim`` (on start) also takes back
        leases held under this worker's name."""
        async with self._io:
            now = self.clock.now()
            leases = await self.read_all()
            lost = {p for p, mine in self.owned.items() if p in leases and leases[p].token != mine.token}
            for partition in lost:
                self.owned.pop(partition, None)
            counts: dict[str, int] = {}
            for lease in leases.values():
                if not lease.expired(now) and lease.owner:
                    counts[lease.owner] = counts.get(lease.owner, 0) + 1
            acquired: set[int] = set()
            if reclaim:
                # Held under our name by an earlier incarnation (a restart with the same worker id):
                # take it back at once, as DTFx's balancer does on start, instead of waiting for expiry.
                for lease in leases.values():
                    mine = lease.owner == self.worker_id and lease.partition not in self.owned
                    if mine and not lease.expired(now) and await self._take(lease):
                        acquired.add(lease.partition)
            counts.setdefault(self.worker_id or "", 0)
            target = max(1, math.ceil(len(leases) / len(counts)))
            needed = target - len(self.owned)
            if needed > 0:
                expired = [
                    lease for lease in leases.values() if lease.expired(now) and lease.partition not in self.owned
                ]
                for lease in expired[:needed]:
                    if await self._take(lease):
                        acquired.add(lease.partition)
                if not expired:
                    victim = self._victim(leases, counts, target, needed, now)
                    if victim is not None and await self._take(victim):
                        acquired.add(victim.partition)
            for partition in acquired:
                logger.info(
                    "Worker '%s' acquired partition %s of hub '%s'",
                    self.worker_id,
                    self.names.control_queue(partition),
                    self.names.hub,
                )
            self._changed(acquired, lost)

    def _victim(
        self, leases: dict[int, Lease], counts: dict[str, int], target: int, needed: int, now: datetime
    ) -> Lease | None:
        others = {owner: n for owner, n in counts.items() if owner != self.worker_id}
        if not others:
            return None
        busiest = max(others, key=lambda owner: (others[owner], owner))
        if others[busiest] <= target - (1 if needed > 1 else 0):
            return None
        candidates = [le for le in leases.values() if le.owner == busiest and not le.expired(now)]
        return max(candidates, key=lambda le: le.partition) if candidates else None

    def _changed(self, acquired: set[int], lost: set[int]) -> None:
        if (acquired or lost) and self.on_change is not None:
            self.on_change(acquired, lost)
