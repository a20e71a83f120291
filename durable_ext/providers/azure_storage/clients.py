"""The three async service clients of a hub, with retry and timeouts fit for a worker loop.

The storage SDKs' defaults suit one-off scripts, not a dispatcher: queues and blobs retry a
transient error (a connection the server just closed, a 503) after **18 ± 3 s**, then 24 s
and 42 s; a request that hangs waits up to 300 s. Meanwhile the worker's dequeue loop — or the
lease renewal that keeps its partitions — is stuck behind that one call. We retry soon and a
few times (the work itself is retried by its own lock and back-off anyway), bound every call,
and log each retry so storage trouble shows up in the host's log instead of as a silent stall.
Proxy settings are read from the environment only when one is set (see ``service_clients``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_ext.errors import ConfigError

logger = logging.getLogger("durable_ext.azure_storage")

#: Seconds to open a connection and to wait for a response before the call is retried.
CONNECTION_TIMEOUT = 10
READ_TIMEOUT = 60
#: The storage clients' ExponentialRetry, built from these keywords: retry ``n`` waits
#: ``initial + base ** n`` ± jitter seconds — about 1.6, 2.6, 4.1, 6.6 and 10.5 s.
_RETRY: dict[str, Any] = {"initial_backoff": 0, "increment_base": 1.6, "retry_total": 5, "random_jitter_range": 0.5}


#: With any of these set, aiohttp must read the environment (and honour the proxy) per request.
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def proxy_configured(environ) -> bool:
    """Whether the HTTP transport must read proxy settings from the environment.

    aiohttp with ``trust_env`` looks up proxies and ``~/.netrc`` on *every* request — a third of
    the Azurite throughput here; with no proxy configured there is nothing to find.
    """
    return any(environ.get(name) for name in _PROXY_VARIABLES)


def _log_retry(*, retry_count: int = 0, request: Any = None, response: Any = None, error: Any = None, **_: Any) -> None:
    what = f"HTTP {response.status_code}" if response is not None else f"{type(error).__name__}: {error}"
    logger.info(
        "Azure Storage %s %s failed (%s); retry %d",
        getattr(request, "method", "?"),
        str(getattr(request, "url", "?")).split("?")[0],
        what,
        retry_count + 1,
    )


def service_clients(connection_string: str) -> tuple[TableServiceClient, BlobServiceClient, QueueServiceClient]:
    transport: dict[str, Any] = {
        "connection_timeout": CONNECTION_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        "use_env_settings": proxy_configured(os.environ),
    }
    try:
        tables = TableServiceClient.from_connection_string(
            connection_string, retry_total=5, retry_backoff_factor=0.4, retry_backoff_max=15, **transport
        )
        blobs = BlobServiceClient.from_connection_string(connection_string, retry_hook=_log_retry, **_RETRY, **transport)
        queues = QueueServiceClient.from_connection_string(
            connection_string, retry_hook=_log_retry, **_RETRY, **transport
        )
    except (ValueError, KeyError) as exc:
        # The SDKs' parsers: "either blank or malformed", "missing required connection details", or
        # a KeyError for a missing AccountName.
        detail = str(exc).strip("'\"") if isinstance(exc, ValueError) else f"no {exc}"
        raise ConfigError(
            f"The Azure Storage connection string is not valid ({detail}); expected UseDevelopmentStorage=true "
            "or DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net."
        ) from exc
    return tables, blobs, queues
