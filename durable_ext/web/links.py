"""URLs the host hands out: the durable client binding and the check-status payload.

Both are built the way the extension builds them (EXT ``HttpApiHandler.GetClientResponseLinks``,
``GetInstanceCreationLinks``, ``BindingHelper.DurableOrchestrationClientToString``),
with the origin of the request being served, so the links work whatever host name and port the
caller used. Locally there is no system key, so the ``code=`` part of the query is empty; a
:class:`LinkSettings` with a ``required_query`` (worker mode behind a Functions host that demands a
key) puts it into every link, as the extension puts its system key there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from aiohttp import web

from durable_ext.config import HostConfig
from durable_ext.functions.registry import FunctionInfo
from durable_ext.hubs import DEFAULT_CONNECTION, HubAddress

__all__ = ["DEFAULT_CONNECTION", "client_binding_json", "hub_path", "management_urls", "webhook_base"]

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
#: The placeholder the SDK replaces with the instance id in every management URL.
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Where the built-in HTTP API is served and what every link to it carries.

    ``webhook_path`` is the API's path (no trailing slash): ``/runtime/webhooks/durabletask`` under
    ``durable_ext start``, ``/<routePrefix>/durabletask`` in worker mode, where the Functions host
    routes it to durable_ext's webhook function. ``required_query`` (``code=…`` or empty) is appended
    to the query of every link handed out and reported as ``requiredQueryStringParameters``.
    """

    webhook_path: str = WEBHOOK_PATH
    required_query: str = ""

    def query_suffix(self) -> str:
        return f"&{self.required_query}" if self.required_query else ""


DEFAULT_LINKS = LinkSettings()


def request_origin(request: web.Request) -> str:
    """``scheme://host[:port]`` exactly as the caller addressed this server."""
    return str(request.url.origin())


def webhook_base(origin: str, links: LinkSettings = DEFAULT_LINKS) -> str:
    return f"{origin}{links.webhook_path}"


def management_urls(
    origin: str, hub: str, connection: str, instance_id: str, links: LinkSettings = DEFAULT_LINKS
) -> dict[str, str]:
    """The ``managementUrls`` object; ``instance_id`` is put in the paths as given (already encoded)."""
    prefix = f"{webhook_base(origin, links)}/instances/{instance_id}"
    query = f"taskHub={quote_plus(hub)}&connection={quote_plus(connection)}{links.query_suffix()}"
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


def check_status_payload(
    origin: str, hub: str, connection: str, instance_id: str, links: LinkSettings = DEFAULT_LINKS
) -> dict[str, str]:
    """The body of the webhooks' 202 answer (EXT ``CreateCheckStatusResponseMessage``: no rewind link)."""
    urls = management_urls(origin, hub, connection, quote(instance_id, safe=""), links)
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
    base_url: str,
    config: HostConfig,
    info: FunctionInfo | None = None,
    address: HubAddress | None = None,
    *,
    links: LinkSettings = DEFAULT_LINKS,
    rpc_base_url: str | None = None,
) -> str:
    """The durable client binding value (a JSON string) for ``info``'s ``durableClient`` binding.

    ``base_url`` is the public ``scheme://host:port``: the SDK keeps the paths of the creation and
    management URLs and swaps their origin for the one of the request it answers. ``rpcBaseUrl``
    (where the SDK client sends its own calls) is ``rpc_base_url``, by default the same built-in
    webhooks, which serve those calls too. ``address`` is the binding's resolved hub
    (``HubResolver.binding_address``); without it the binding's values are used as written. Null
    properties are present, as Json.NET writes them.
    """
    base_url = base_url.rstrip("/")
    if address is not None:
        hub, connection_name, own = address.hub, address.connection, address.own
    else:
        hub = (info.client_task_hub if info else None) or config.hub_name
        connection_name = info.client_connection_name if info else None
        own = hub == config.hub_name and connection_name is None
    webhooks = webhook_base(base_url, links)
    start = f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]"
    required = f"{links.required_query}&" if links.required_query else ""
    selector = (
        "" if own else f"taskHub={quote_plus(hub)}&connection={quote_plus(connection_name or DEFAULT_CONNECTION)}&"
    )
    rpc = (rpc_base_url or webhooks).rstrip("/")
    binding = {
        "taskHubName": hub,
        "connectionName": connection_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{start}?{required}{selector}",
            "createAndWaitOnNewInstancePostUri": f"{start}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{required}{selector}",
        },
        "managementUrls": management_urls(
            base_url, hub, connection_name or DEFAULT_CONNECTION, INSTANCE_ID_PLACEHOLDER, links
        ),
        "baseUrl": webhooks,
        "requiredQueryStringParameters": links.required_query,
        # The SDK appends "instances/…" to it, so the trailing slash is required.
        "rpcBaseUrl": f"{rpc}/" if own else f"{rpc}/{hub_path(hub, connection_name)}/",
        "httpBaseUrl": None,
    }
    return json.dumps(binding)
