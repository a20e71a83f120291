"""Settings of the Azure Storage provider, from ``StorageConfig`` and the environment.

``storageProvider`` options are read case-insensitively as the .NET host binds them. Durations
accept a .NET TimeSpan string (``"00:05:00"``, ``"1.00:00:00"``) or a number of seconds. Each
option can also be set with an environment variable ``DURABLE_EXT_AZURE_<NAME>`` (upper snake
case of the option, e.g. ``DURABLE_EXT_AZURE_LEASE_INTERVAL=3``), which wins over host.json so
tests and fault drills can shorten lease and visibility timings without editing the app.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from durable_ext.config import StorageConfig
from durable_ext.errors import ConfigError

ACCOUNT = "devstoreaccount1"
# The storage emulator's published development-account key (Azurite README); not a secret.
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)")


@dataclass(frozen=True, slots=True)
class AzureSettings:
    """Every knob the provider has; defaults are DTFx's / Durable Functions'
    (EXT ``Options/AzureStorageOptions.cs``, DTFx ``AzureStorageOrchestrationServiceSettings.cs``)."""

    connection_string: str
    partition_count: int = 4
    #: Lease owner name; unique per provider object unless configured (two objects = two workers).
    worker_id: str = field(default_factory=lambda: default_worker_id(unique=True))
    lease_interval: timedelta = timedelta(seconds=30)
    lease_renew_interval: timedelta = timedelta(seconds=10)
    lease_acquire_interval: timedelta = timedelta(seconds=10)
    #: How long a dequeued message stays hidden; None: see :meth:`visibility`.
    control_visibility: timedelta | None = None
    workitem_visibility: timedelta | None = None
    control_batch_size: int = 32
    control_buffer_threshold: int = 64
    workitem_batch_size: int = 8
    #: Azure caps a message's initial invisibility at 7 days; DF never asks for more than 6
    #: (EXT ``AzureStorageDurabilityProvider.cs`` ``MaximumDelayTime``).
    max_queue_delay: timedelta = timedelta(days=6)
    #: Dequeue count from which a message is reported as poison and backed off (DTFx logs at 10).
    poison_threshold: int = 10
    #: Base64 by default, readable by every DTFx.AzureStorage version (1.x writes
    #: and reads Base64, ``Storage/QueueMessage.cs``; 2.x writes UTF-8 JSON and reads both).
    base64_messages: bool = True
    #: Episode commits and sends running at once (DTFx: MaxStorageOperationConcurrency).
    io_concurrency: int = 25
    #: Longest idle back-off between dequeues of a queue. DF's default is 30 s; ours is short because
    #: a worker buffers its own messages as it sends them, so this only delays other processes' work.
    max_polling_interval: timedelta = timedelta(seconds=1)


def message_visibility(configured: timedelta | None, settings: AzureSettings, lock_timeout: timedelta) -> timedelta:
    """The visibility timeout of dequeued messages: as configured, else the lease interval (≥ 5 s)
    capped at the lock timeout.

    DTFx hides messages for 5 minutes, which is also how long a killed worker's messages stay
    out of reach. Ours is short because it is not what keeps work exclusive: a control queue is
    only dequeued by its partition's owner (a lapse just makes the owner see its message again),
    and a running activity's message is kept hidden by the provider's own renewals.
    """
    if configured is not None:
        return configured
    return min(lock_timeout, max(settings.lease_interval, timedelta(seconds=5)))


def default_worker_id(*, unique: bool = False) -> str:
    """``host:pid`` like the host's own worker id (DTFx uses the machine name)."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{uuid.uuid4().hex[:6]}" if unique else base


def development_connection_string(host: str = "127.0.0.1") -> str:
    """What ``UseDevelopmentStorage=true`` means: Azurite on ports 10000–10002."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:10000/{ACCOUNT};QueueEndpoint=http://{host}:10001/{ACCOUNT};"
        f"TableEndpoint=http://{host}:10002/{ACCOUNT};"
    )


def resolve_connection_string(value: str) -> str:
    """Expand ``UseDevelopmentStorage=true`` (optionally with ``DevelopmentStorageProxyUri``)."""
    parts = dict(_split_connection_string(value))
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        proxy = parts.get("developmentstorageproxyuri")
        host = re.sub(r"^https?://", "", proxy).split(":")[0].rstrip("/") if proxy else "127.0.0.1"
        return development_connection_string(host)
    return value


def _split_connection_string(value: str) -> list[tuple[str, str]]:
    pairs = []
    for part in value.split(";"):
        if "=" in part:
            key, _, val = part.partition("=")
            pairs.append((key.strip().lower(), val.strip()))
    return pairs


def settings_from_config(config: StorageConfig, environ: Mapping[str, str] | None = None) -> AzureSettings:
    """Build settings for ``config`` (kind "azure_storage"); raises ConfigError naming the setting."""
    env = os.environ if environ is None else environ
    if not config.connection_string:
        raise ConfigError(
            f"The Azure Storage connection string is missing: set the app setting '{config.connection_name}' "
            "(storageProvider.connectionName) in local.settings.json Values or the environment "
            "(UseDevelopmentStorage=true means Azurite on 127.0.0.1)."
        )
    opts = _Options(config.options, env)
    control_vis = opts.duration("controlQueueVisibilityTimeout")
    return AzureSettings(
        connection_string=resolve_connection_string(config.connection_string),
        partition_count=config.partition_count,
        worker_id=opts.text("workerId") or default_worker_id(),
        lease_interval=opts.duration("leaseInterval", env_alias="LEASE_SECONDS") or timedelta(seconds=30),
        lease_renew_interval=opts.duration("leaseRenewInterval", "leaseRenewSeconds", env_alias="RENEW_SECONDS")
        or timedelta(seconds=10),
        lease_acquire_interval=opts.duration("leaseAcquireInterval", "leaseAcquireSeconds") or timedelta(seconds=10),
        control_visibility=control_vis,
        workitem_visibility=opts.duration("workItemQueueVisibilityTimeout"),
        control_batch_size=min(32, opts.integer("controlQueueBatchSize", 32)),
        control_buffer_threshold=opts.integer("controlQueueBufferThreshold", 64),
        workitem_batch_size=min(32, opts.integer("workItemQueueBatchSize", 8)),
        max_queue_delay=min(opts.duration("maxQueueDelay") or timedelta(days=6), timedelta(days=6)),
        poison_threshold=opts.integer("poisonMessageThreshold", 10),
        base64_messages=(opts.text("queueClientMessageEncoding") or "Base64").lower() != "utf8",
        io_concurrency=opts.integer("maxStorageOperationConcurrency", 25),
        max_polling_interval=opts.duration("maxQueuePollingInterval", env_alias="MAX_POLL_SECONDS")
        or timedelta(seconds=1),
    )


class _Options:
    """host.json ``storageProvider`` options, case-insensitive, overridden by the environment."""

    def __init__(self, raw: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self._raw = {str(k).lower(): v for k, v in raw.items()}
        self._env = env

    def _get(self, name: str, *aliases: str, env_alias: str | None = None) -> tuple[Any, str]:
        env_names = ["DURABLE_EXT_AZURE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]
        if env_alias:
            env_names.append("DURABLE_EXT_AZURE_" + env_alias)
        for env_name in env_names:
            if env_name in self._env:
                return self._env[env_name], env_name
        for key in (name, name + "Seconds", *aliases):
            if key.lower() in self._raw:
                return self._raw[key.lower()], f"host.json (storageProvider.{key})"
        return None, ""

    def text(self, name: str) -> str | None:
        value, _ = self._get(name)
        return None if value is None else str(value)

    def integer(self, name: str, default: int) -> int:
        value, where = self._get(name)
        if value is None:
            return default
        try:
            number = int(str(value).strip())
        except ValueError:
            number = 0
        if number < 1:
            raise ConfigError(f"{where} must be a positive integer, got {value!r}.")
        return number

    def duration(self, name: str, *aliases: str, env_alias: str | None = None) -> timedelta | None:
        value, where = self._get(name, *aliases, env_alias=env_alias)
        if value is None:
            return None
        parsed = parse_duration(value)
        if parsed is None or parsed <= timedelta(0):
            raise ConfigError(f"{where} must be a positive duration (seconds or hh:mm:ss), got {value!r}.")
        return parsed


def parse_duration(value: Any) -> timedelta | None:
    """Seconds (number or numeric string) or a .NET TimeSpan ``[d.]hh:mm:ss[.fff]``; None if neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = str(value).strip()
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    match = _TIMESPAN.fullmatch(text)
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds))
