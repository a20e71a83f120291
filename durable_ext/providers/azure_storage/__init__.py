"""The Azure Storage task hub provider (DurableTask.AzureStorage's layout); see :mod:`.provider`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from durable_ext.providers.azure_storage.provider import AzureStorageProvider
from durable_ext.providers.azure_storage.settings import AzureSettings, settings_from_config

if TYPE_CHECKING:
    from durable_ext.config import StorageConfig

__all__ = ["AzureSettings", "AzureStorageProvider", "provider_from_config"]


def provider_from_config(hub: str, storage: StorageConfig) -> AzureStorageProvider:
    """The provider for ``hub`` as host.json's ``storageProvider`` (kind "azure_storage") configures it."""
    from durable_ext.errors import ConfigError

    settings = settings_from_config(storage)
    try:
        return AzureStorageProvider(hub, settings)
    except ValueError as exc:  # hub name or partition count out of Azure's rules
        raise ConfigError(str(exc)) from exc
