"""URLs the host hands out: the durable client binding and the check-status payload.

Both are built the way the extension builds them (EXT ``HttpApiHandler.GetClientResponseLinks``,
``GetInstanceCreationLinks``, ``BindingHelper.DurableOrchestrationClientToString``; the SDK reads the
binding in ``models/DurableOrchestrationBindings.py``).

Two origins, never mixed up:

* :func:`own_origin` — the address and port of the socket that accepted the connection. Every URL
  the host itself (or the SDK client inside the app) calls is built from it: the binding's
  ``rpcBaseUrl`` and the rest of the binding. A ``Host`` header never reaches these, or a caller
  could make the app's client POST orchestration inputs to a server of its choosing (SSRF).
* :func:`request_origin` — the origin as the caller addressed us; only for links handed back to
  that same caller (the check-status payload), so they work whatever name and port it used. The
  SDK rewrites the binding's management URLs to the request's origin the same way
  (``DurableOrchestrationClient._replace_url_origin``).

A :class:`LinkSettings` says where the built-in API is served (worker mode serves it under the app's
route prefix) and what every link must carry (``code=…`` when a Functions host in front demands a key).
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
#: The user name in ``rpcBaseUrl``'s user info; its password is the system key.
RPC_USER = "durabletask_extension"


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
    """``scheme://host[:port]`` exactly as the caller addressed this server (untrusted)."""
    return str(request.url.origin())


def own_origin(request: web.Request, fallback_host: str, fallback_port: int) -> str:
    """``http://<local address>:<port>`` of the socket that accepted ``request``.

    A wildcard bind still accepts each connection on one concrete local address, which is one
    this host can reach itself on. ``fallback_*`` (the configured bind address) serves when the
    connection is already gone.
    """
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = str(sockname[0]), int(sockname[1])
    else:
        host, port = fallback_host, fallback_port
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host.split('%', 1)[0]}]"
    return f"http://{host}:{port}"


def webhook_base(origin: str, links: LinkSettings = DEFAULT_LINKS) -> str:
    return f"{origin}{links.webhook_path}"


def required_query(links: LinkSettings, code: str | None) -> str:
    """What every link must carry: ``code=<system key>`` when this host requires keys, else the
    links' own ``required_query`` (worker mode's key for the Functions host in front), else nothing."""
    return f"code={quote_plus(code)}" if code else links.required_query


def management_urls(
    origin: str,
    hub: str,
    connection: str,
    instance_id: str,
    links: LinkSettings = DEFAULT_LINKS,
    code: str | None = None,
) -> dict[str, str]:
    """The ``managementUrls`` object; ``instance_id`` is put in the paths as given (already encoded).

    ``code`` (the system key, when keys are required) ends every query, as the extension's do.
    """
    prefix = f"{webhook_base(origin, links)}/instances/{instance_id}"
    query = f"taskHub={quote_plus(hub)}&connection={quote_plus(connection)}"
    required = required_query(links, code)
    if required:
        query += f"&{required}"
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
    origin: str,
    hub: str,
    connection: str,
    instance_id: str,
    links: LinkSettings = DEFAULT_LINKS,
    code: str | None = None,
) -> dict[str, str]:
    """The body of the webhooks' 202 answer (EXT ``CreateCheckStatusResponseMessage``: no rewind link)."""
    urls = management_urls(origin, hub, connection, quote(instance_id, safe=""), links, code)
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
    code: str | None = None,
    *,
    links: LinkSettings = DEFAULT_LINKS,
    rpc_base_url: str | None = None,
) -> str:
    """The durable client binding value (a JSON string) for ``info``'s ``durableClient`` binding.

    ``base_url`` is the server's own ``scheme://host:port`` (never the caller's Host header). The
    SDK keeps the paths of the creation and management URLs and swaps their origin for the one of the
    request it answers. ``rpcBaseUrl`` (where the SDK client sends its own calls) is ``rpc_base_url``,
    by default the same built-in webhooks, which serve those calls too. ``address`` is the binding's
    resolved hub (``HubResolver.binding_address``); without it the binding's values are used as
    written. Null properties are present, as Json.NET writes them.

    ``code`` is the system key when keys are required: the management URLs carry it as
    ``code=`` (so ``create_check_status_response`` hands out working links, as the Functions host
    does) and ``rpcBaseUrl`` carries it as the password of its user info — the SDK appends paths
    and queries to that URL and sends no headers of its own, and aiohttp turns user info into a
    Basic ``Authorization`` header.
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
    selector = (
        "" if own else f"taskHub={quote_plus(hub)}&connection={quote_plus(connection_name or DEFAULT_CONNECTION)}&"
    )
    rpc = (rpc_base_url or webhooks).rstrip("/")
    code_query = required_query(links, code)
    binding = {
        "taskHubName": hub,
        "connectionName": connection_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{start}?{selector}{code_query}",
            "createAndWaitOnNewInstancePostUri": f"{start}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{selector}{code_query}",
        },
        "managementUrls": management_urls(
            base_url, hub, connection_name or DEFAULT_CONNECTION, INSTANCE_ID_PLACEHOLDER, links, code
        ),
        "baseUrl": webhooks,
        "requiredQueryStringParameters": code_query,
        # The SDK appends "instances/…" to it, so the trailing slash is required.
        "rpcBaseUrl": _with_key(f"{rpc}/" if own else f"{rpc}/{hub_path(hub, connection_name)}/", code),
        "httpBaseUrl": None,
    }
    return json.dumps(binding)


def _with_key(url: str, code: str | None) -> str:
    """``url`` with ``code`` as the password of its user info (aiohttp sends it as Basic auth)."""
    if not code:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{RPC_USER}:{quote(code, safe='')}@{rest}"
