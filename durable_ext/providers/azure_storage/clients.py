"""The three async service clients of a hub, with retry and timeouts fit for a worker loop.

The storage SDKs' defaults suit one-off scripts, not a dispatcher: queues and blobs retry a
transient error (a connection the server just closed, a 503) after **18 ± 3 s**, then 24 s
and 42 s; a request that hangs waits up to 300 s. Meanwhile the worker's dequeue loop — or the
lease renewal that keeps its partitions — is stuck behind that one call. We retry soon and a
few times (the work itself is retried by its own lock and back-off anyway), bound every call,
and log each retry so storage trouble shows up in the host's log instead of as a silent stall.
"""

from __future__ import annotations

import logging
from typing import Any

from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

logger = logging.getLogger("durable_ext.azure_storage")

#: Seconds to open a connection and to wait for a response before the call is retried.
CONNECTION_TIMEOUT = 10
READ_TIMEOUT = 60
#: The storage clients' ExponentialRetry, built from these keywords: retry ``n`` waits
#: ``initial + base ** n`` ± jitter seconds — about 1.6, 2.6, 4.1, 6.6 and 10.5 s.
_RETRY = {"initial_backoff": 0, "increment_base": 1.6, "retry_total": 5, "random_jitter_range": 0.5}


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
    timeouts = {"connection_timeout": CONNECTION_TIMEOUT, "read_timeout": READ_TIMEOUT}
    tables = TableServiceClient.from_connection_string(
        connection_string, retry_total=5, retry_backoff_factor=0.4, retry_backoff_max=15, **timeouts
    )
    blobs = BlobServiceClient.from_connection_string(connection_string, retry_hook=_log_retry, **_RETRY, **timeouts)
    queues = QueueServiceClient.from_connection_string(connection_string, retry_hook=_log_retry, **_RETRY, **timeouts)
    return tables, blobs, queues
