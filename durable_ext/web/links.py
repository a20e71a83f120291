"""URLs the host hands out: the durable client binding and the check-status payload.

Both are built the way the extension builds them (EXT ``HttpApiHandler.GetClientResponseLinks``,
``GetInstanceCreationLinks``, ``BindingHelper.DurableOrchestrationClientToString``),
with the origin of the request being served, so the links work whatever host name and port the
caller used. Locally there is no system key, so the ``code=`` part of the query is empty.
"""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

from aiohttp import web

from durable_ext.config import HostConfig
from durable_ext.functions.registry import FunctionInfo
from durable_ext.hubs import DEFAULT_CONNECTION, HubAddress

__all__ = ["DEFAULT_CONNECTION", "client_binding_json", "hub_path", "management_urls", "webhook_base"]

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
#: The placeholder the SDK replaces with the instance id in every management URL.
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"


def request_origin(request: web.Request) -> str:
    """``scheme://host[:port]`` exactly as the caller addressed this server."""
    return str(request.url.origin())


def webhook_base(origin: str) -> str:
    return f"{origin}{WEBHOOK_PATH}"


def management_urls(origin: str, hub: str, connection: str, instance_id: str) -> dict[str, str]:
    """The ``managementUrls`` object; ``instance_id`` is put in the paths as given (already encoded)."""
    prefix = f"{webhook_base(origin)}/instances/{instance_id}"
    query = f"taskHub={quote_plus(hub)}&connection={quote_plus(connection)}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{prefix}?{query}",
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{prefix}?{query}",
        "restartPostUri": f"{prefix}/restart?{query}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
    }


def check_status_payload(origin: str, hub: str, connection: str, instance_id: str) -> dict[str, str]:
    """The body of the webhooks' 202 answer (EXT ``CreateCheckStatusResponseMessage``: no rewind link)."""
    urls = management_urls(origin, hub, connection, quote(instance_id, safe=""))
    urls["id"] = instance_id
    del urls["rewindPostUri"]
    return urls


def hub_path(hub: str, connection: str | None) -> str:
    """The path segments, right after the webhook path, that select a hub for the SDK client's calls.

    The SDK sends most calls (start, status, terminate, purge, …) to ``rpcBaseUrl`` without any
    ``taskHub`` parameter, so a binding that names another hub gets an ``rpcBaseUrl`` ending in
    ``taskHubs/{hub}[/connections/{connection}]/``; a ``taskHub``/``connection`` parameter of a
    single call (``raise_event(task_hub_name=…)``) still wins over it.
    """
    path = f"taskHubs/{quote(hub, safe='')}"
    return f"{path}/connections/{quote(connection, safe='')}" if connection else path


def client_binding_json(
    base_url: str, config: HostConfig, info: FunctionInfo | None = None, address: HubAddress | None = None
) -> str:
    """The durable client binding value (a JSON string) for ``info``'s ``durableClient`` binding.

    ``base_url`` is ``scheme://host:port`` of the server; ``rpcBaseUrl`` points at the same
    built-in webhooks, which serve the SDK client's calls too. ``address`` is the binding's
    resolved hub (``HubResolver.binding_address``); without it the binding's values are used as
    written. Null properties are present, as Json.NET writes them.
    """
    base_url = base_url.rstrip("/")
    if address is not None:
        hub, connection_name, own = address.hub, address.connection, address.own
    else:
        hub = (info.client_task_hub if info else None) or config.hub_name
        connection_name = info.client_connection_name if info else None
        own = hub == config.hub_name and connection_name is None
    webhooks = webhook_base(base_url)
    start = f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]"
    selector = (
        "" if own else f"taskHub={quote_plus(hub)}&connection={quote_plus(connection_name or DEFAULT_CONNECTION)}&"
    )
    binding = {
        "taskHubName": hub,
        "connectionName": connection_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{start}?{selector}",
            "createAndWaitOnNewInstancePostUri": f"{start}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{selector}",
        },
        "managementUrls": management_urls(
            base_url, hub, connection_name or DEFAULT_CONNECTION, INSTANCE_ID_PLACEHOLDER
        ),
        "baseUrl": webhooks,
        "requiredQueryStringParameters": "",
        # The SDK appends "instances/…" to it, so the trailing slash is required.
        "rpcBaseUrl": f"{webhooks}/" if own else f"{webhooks}/{hub_path(hub, connection_name)}/",
        "httpBaseUrl": None,
    }
    return json.dumps(binding)
