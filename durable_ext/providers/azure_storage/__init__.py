"""The Azure Storage task hub provider (DurableTask.AzureStorage's layout); see :mod:`.provider`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from durable_ext.providers.azure_storage.provider import AzureStorageProvider
from durable_ext.providers.azure_storage.settings import AzureSettings, settings_from_config

if TYPE_CHECKING:
    from durable_ext.config import StorageConfig
    from durable_ext.core.clock import Clock

logger = logging.getLogger("durable_ext.azure_storage")

__all__ = ["AzureSettings", "AzureStorageProvider", "provider_for_existing_hub", "provider_from_config"]


def provider_from_config(hub: str, storage: StorageConfig, *, clock: Clock | None = None) -> AzureStorageProvider:
    """The provider for ``hub`` as host.json's ``storageProvider`` (kind "azure_storage") configures it."""
    from durable_ext.errors import ConfigError

    settings = settings_from_config(storage)
    try:
        return AzureStorageProvider(hub, settings, clock=clock)
    except ValueError as exc:  # hub name or partition count out of Azure's rules
        raise ConfigError(str(exc)) from exc


async def provider_for_existing_hub(
    hub: str, storage: StorageConfig, *, clock: Clock | None = None
) -> AzureStorageProvider:
    """The provider for ``hub`` (the app's own, or another app's used as a client only), not opened yet.

    Its partition count is the one stored in the hub's ``taskhub.json`` when the hub exists, so
    starts and events land in the control queues that hub's workers read and a worker leases every
    partition the hub has (DTFx keeps an existing hub's count too; changing it needs a new hub);
    otherwise ``storage.partition_count``. Reads the hub's lease container; creates nothing.
    """
    from dataclasses import replace

    from durable_ext.errors import ConfigError
    from durable_ext.providers.azure_storage.clients import service_clients
    from durable_ext.providers.azure_storage.leases import stored_partition_count
    from durable_ext.providers.azure_storage.names import HubNames

    settings = settings_from_config(storage)
    try:
        names = HubNames(hub, settings.partition_count)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        tables, blobs, queues = service_clients(settings.connection_string)
    except ConfigError as exc:
        raise ConfigError(f"App setting '{storage.connection_name}': {exc}") from exc
    try:
        stored = await stored_partition_count(blobs.get_container_client(names.leases_container))
    finally:
        for client in (tables, blobs, queues):
            await client.close()
    if stored is not None and stored != settings.partition_count:
        logger.warning(
            "Task hub '%s' was created with %s partitions; partitionCount %s is not used (changing the "
            "partition count requires a new task hub).",
            hub,
            stored,
            settings.partition_count,
        )
        settings = replace(settings, partition_count=stored)
    return AzureStorageProvider(hub, settings, clock=clock)
