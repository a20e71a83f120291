"""Build the configured Provider: the one place that maps a storage kind to a class.

Concrete providers are imported lazily, so a host on SQLite never imports the Azure SDK.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from durable_ext.config import StorageKind
from durable_ext.errors import ConfigError

if TYPE_CHECKING:
    from durable_ext.config import HostConfig
    from durable_ext.core.clock import Clock
    from durable_ext.providers.base import Provider

DEFAULT_SQLITE_PATH = Path(".durable_ext") / "taskhub.sqlite"


def create_provider(kind: StorageKind | str | HostConfig, hub: str | None = None, **opts: Any) -> Provider:
    """A provider of ``kind`` for task hub ``hub``; nothing is opened or created yet.

    ``kind`` may also be a ``HostConfig`` (what the host and the CLI pass): its storage kind,
    hub name and storage options are used. Options per kind — sqlite: ``path``; azure_storage: ``storage`` (a StorageConfig);
    both: ``clock`` (a :class:`~durable_ext.core.clock.Clock`; default the system clock).
    """
    if not isinstance(kind, str):
        config = kind
        return create_provider(config.storage.kind, config.hub_name, **_config_options(config), **opts)
    if not hub:
        raise ConfigError("A task hub name is required to create a storage provider.")
    if kind == StorageKind.SQLITE:
        from durable_ext.providers.sqlite import SqliteProvider

        return SqliteProvider(Path(opts.get("path") or DEFAULT_SQLITE_PATH), hub, clock=opts.get("clock"))
    if kind == StorageKind.AZURE_STORAGE:
        from durable_ext.providers.azure_storage import provider_from_config

        if opts.get("storage") is None:
            raise ConfigError("The Azure Storage provider needs the storageProvider settings (a StorageConfig).")
        return provider_from_config(hub, opts["storage"], clock=opts.get("clock"))
    raise ConfigError(f"Storage provider '{kind}' is not available in this build of durable_ext.")


async def open_client_provider(kind: StorageKind, hub: str, **opts: Any) -> Provider:
    """An opened provider of ``kind`` for task hub ``hub``, used only as a client (another app's hub).

    Options as for :func:`create_provider`. The hub is created if missing. On SQLite an existing
    hub's stored spelling of the name is used; on Azure Storage the partition count is the one the
    hub was created with (its ``taskhub.json``).
    """
    if kind is StorageKind.SQLITE:
        import asyncio

        from durable_ext.providers.sqlite import stored_hub_name

        path = Path(opts.get("path") or DEFAULT_SQLITE_PATH)
        stored: str | None = await asyncio.to_thread(stored_hub_name, path, hub)
        hub = stored or hub
    return await _opened(kind, hub, opts)


async def open_provider(config: HostConfig, *, clock: Clock | None = None) -> Provider:
    """The app's own hub, opened (created if missing). On Azure Storage an existing hub keeps the
    partition count it was created with, whatever ``partitionCount`` says now (as DTFx does): a hub
    another app created first would otherwise have control queues no worker of this app reads."""
    return await _opened(config.storage.kind, config.hub_name, {**_config_options(config), "clock": clock})


async def _opened(kind: StorageKind | str, hub: str, opts: dict[str, Any]) -> Provider:
    """A provider for ``hub`` with its hub created; closed again if that fails."""
    if kind is StorageKind.AZURE_STORAGE:
        from durable_ext.providers.azure_storage import provider_for_existing_hub

        if opts.get("storage") is None:
            raise ConfigError("The Azure Storage provider needs the storageProvider settings (a StorageConfig).")
        provider: Provider = await provider_for_existing_hub(hub, opts["storage"], clock=opts.get("clock"))
    else:
        provider = create_provider(kind, hub, **opts)
    try:
        await provider.create_hub()
    except BaseException:
        await provider.close()
        raise
    return provider


def describe_storage(config: HostConfig) -> str:
    """One human line naming where the task hub lives (banner and admin status)."""
    storage = config.storage
    if storage.kind is StorageKind.SQLITE:
        return f"SQLite: {storage.sqlite_path}"
    if storage.kind is StorageKind.AZURE_STORAGE:
        return f"Azure Storage: connection '{storage.connection_name}', {storage.partition_count} partitions"
    return storage.kind


def _config_options(config: HostConfig) -> dict[str, Any]:
    if config.storage.kind is StorageKind.SQLITE:
        return {"path": config.storage.sqlite_path}
    if config.storage.kind is StorageKind.AZURE_STORAGE:
        return {"storage": config.storage}
    return {}
