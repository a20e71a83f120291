"""Task hub addressing: which task hub a client call or a webhook request acts on.

A durable client binding may name a task hub (``task_hub``, ``%Setting%`` allowed) and a storage
connection (``connection_name``); every webhook accepts ``taskHub`` and ``connection`` query
parameters (and ``connectionName``, which the Python SDK sends for status and entity calls).
Absent, they mean the app's own hub and connection. :class:`HubResolver` turns such a pair into a
:class:`~durable_ext.client.DurableClient` on that hub:

* the app's own hub and connection → the host's own client, whose ``start_new`` checks that the
  orchestrator exists in this app;
* any other hub → a provider opened on first use (and created if missing) — another hub in the
  same SQLite file, or that hub's tables, queues and containers in the storage account — kept
  open until :meth:`HubResolver.close`. Its client does not check orchestrator names: as in the
  .NET extension (EXT ``DurableClient.ClientReferencesCurrentApp``), only a client of the app's
  own hub and connection knows which orchestrators exist.

The host's dispatchers work on the app's own hub only: an instance started in another hub stays
Pending until an app that owns that hub runs it.

Connections. A connection name is an app setting, looked up as the Functions host looks up
connection strings (WebJobs ``GetWebJobsConnectionString``: ``AzureWebJobs<name>`` first, then
``<name>``; the environment wins over local.settings.json Values). ``Storage`` — the name the
links carry when a binding names none — and the app's own connection setting mean the app's own
storage. Another setting's value says where the hub lives: an Azure Storage connection string
(``UseDevelopmentStorage=true``, ``AccountName=…;AccountKey=…``), or a SQLite task hub file
(``Data Source=<path>`` or a bare path; relative paths are relative to the app directory).

Hub names follow host.json's ``hubName`` rules and are compared ignoring case (Azure Storage
table names are case-insensitive; on SQLite an existing hub's stored spelling is used).

Bad input raises :class:`HubAddressError` (answered with a 400): an invalid hub name or an
unknown connection setting never falls back to the app's own hub.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from durable_ext.client import BadRequestError, DurableClient
from durable_ext.config import (
    DEFAULT_PARTITION_COUNT,
    HUB_NAME_RULE,
    HostConfig,
    StorageConfig,
    StorageKind,
    app_setting,
    is_valid_hub_name,
    resolve_hub_name,
)
from durable_ext.errors import ConfigError
from durable_ext.functions.registry import FunctionInfo
from durable_ext.log import logger
from durable_ext.providers.factory import open_client_provider

#: The connection name the extension reports (and the links carry) when a binding names none
#: (EXT ``AzureStorageDurabilityProviderFactory``); it means the app's own storage.
DEFAULT_CONNECTION = "Storage"
#: At most this many other hubs are kept open by one host; requests for more are refused, since
#: hub names come from requests and each open hub holds connections (and on SQLite a thread).
MAX_OTHER_HUBS = 32
_CONNECTION_PREFIX = "AzureWebJobs"


class HubAddressError(BadRequestError):
    """A hub name or connection that cannot be used; the message names the value and the rule."""


@dataclass(frozen=True, slots=True)
class Store:
    """Where hubs live: ``kind`` as in StorageConfig; ``location`` the SQLite file or the connection string."""

    kind: StorageKind
    location: str


@dataclass(frozen=True, slots=True)
class HubAddress:
    """A validated (hub, connection) pair.

    ``connection`` is the name as the caller gave it (None: the app's own); ``own`` is True when it
    addresses the app's own hub in the app's own storage.
    """

    hub: str
    connection: str | None
    own: bool
    store: Store


class HubResolver:
    """(hub, connection) → a DurableClient on that hub; see the module docstring for the rules.

    ``own`` is the host's client of its own hub. ``environ`` (default ``os.environ``) is only read.
    """

    def __init__(self, config: HostConfig, own: DurableClient, *, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.own = own
        self._env = os.environ if environ is None else environ
        self._own_store = _own_store(config.storage)
        self._open: dict[tuple[str, str, str], DurableClient] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    # -- addressing (no I/O) -------------------------------------------------------------------

    def address(
        self,
        hub: str | None,
        connection: str | None,
        *,
        hub_source: str = "the 'taskHub' parameter",
        connection_source: str = "the 'connection' parameter",
    ) -> HubAddress:
        """Validate a request's pair; empty values mean the app's own. Raises HubAddressError."""
        hub = (hub or "").strip()
        connection = (connection or "").strip() or None
        if hub and not is_valid_hub_name(hub):
            raise HubAddressError(f"Task hub name {hub!r} ({hub_source}) is invalid: {HUB_NAME_RULE}")
        store = self._store(connection, connection_source) if connection else self._own_store
        own_hub = self.config.hub_name
        own = store == self._own_store and (not hub or hub.lower() == own_hub.lower())
        return HubAddress(own_hub if own or not hub else hub, connection, own, store)

    def binding_address(self, info: FunctionInfo) -> HubAddress:
        """The hub of ``info``'s durable client binding (``task_hub`` may be ``%Setting%``)."""
        where = f"the durable client binding of function '{info.function_name}'"
        hub = None
        if info.client_task_hub:
            try:
                hub = resolve_hub_name(info.client_task_hub, f"{where} (task_hub)", self.config.values, self._env)
            except ConfigError as exc:
                raise HubAddressError(str(exc)) from None
        return self.address(
            hub,
            info.client_connection_name,
            hub_source=f"{where} (task_hub)",
            connection_source=f"{where} (connection_name)",
        )

    def _store(self, name: str, source: str) -> Store:
        own_setting = self.config.storage.connection_name.lower()
        candidates = (_CONNECTION_PREFIX + name, name)
        if name.lower() == DEFAULT_CONNECTION.lower() or any(c.lower() == own_setting for c in candidates):
            return self._own_store
        for setting in candidates:
            value = app_setting(setting, self.config.values, self._env)
            if value is not None and value.strip():
                return self._store_of(value.strip())
        raise HubAddressError(
            f"Unknown connection {name!r} ({source}): neither app setting '{candidates[0]}' nor '{name}' is set "
            "in the environment or in local.settings.json Values."
        )

    def _store_of(self, value: str) -> Store:
        parts = {
            key.strip().lower(): val.strip() for key, sep, val in (p.partition("=") for p in value.split(";")) if sep
        }
        path = parts.get("data source") or parts.get("datasource")
        if path is None and parts:
            return Store(StorageKind.AZURE_STORAGE, value)
        return Store(StorageKind.SQLITE, str((self.config.app_dir / Path(path or value).expanduser()).resolve()))

    # -- clients ------------------------------------------------------------------------------

    async def client(self, address: HubAddress) -> DurableClient:
        """The client of ``address``: the host's own, or one on another hub opened on first use."""
        if address.own:
            return self.own
        key = (address.store.kind, address.store.location, address.hub.lower())
        client = self._open.get(key)
        if client is not None:
            return client
        async with self._lock:
            client = self._open.get(key)
            if client is not None:
                return client
            if self._closed:
                raise HubAddressError("The host is shutting down.")
            if len(self._open) >= MAX_OTHER_HUBS:
                raise HubAddressError(
                    f"Task hub '{address.hub}' cannot be opened: this host already serves {MAX_OTHER_HUBS} other task hubs."
                )
            provider = await self._open_provider(address)
            client = DurableClient(provider, self.own.clock, default_version=self.config.default_version)
            self._open[key] = client
        logger.info("Opened task hub '%s' (%s) for client calls.", provider.hub, address.store.kind.value)
        return client

    async def _open_provider(self, address: HubAddress) -> Any:
        store = address.store
        try:
            if store.kind is StorageKind.SQLITE:
                return await open_client_provider(
                    StorageKind.SQLITE, address.hub, path=Path(store.location), clock=self.own.clock
                )
            own = self.config.storage
            storage = StorageConfig(
                kind=store.kind,
                sqlite_path=None,
                connection_name=address.connection or own.connection_name,
                connection_string=store.location,
                partition_count=own.partition_count if own.kind == store.kind else DEFAULT_PARTITION_COUNT,
                options=own.options if own.kind == store.kind else MappingProxyType({}),
            )
            return await open_client_provider(store.kind, address.hub, storage=storage, clock=self.own.clock)
        except (ConfigError, ValueError) as exc:
            raise HubAddressError(
                f"Task hub '{address.hub}' on connection {address.connection!r} cannot be opened: {exc}"
            ) from None

    async def close(self) -> None:
        """Close every other hub's provider; the own client is the host's to close."""
        async with self._lock:
            self._closed = True
            opened, self._open = list(self._open.values()), {}
        for client in opened:
            try:
                await client.provider.close()
            except Exception:  # shutting down: the other hubs still get closed
                logger.warning("Closing task hub '%s' failed.", client.provider.hub, exc_info=True)


def _own_store(storage: StorageConfig) -> Store:
    if storage.kind is StorageKind.SQLITE:
        return Store(StorageKind.SQLITE, str(storage.sqlite_path))
    return Store(StorageKind.AZURE_STORAGE, (storage.connection_string or "").strip())
