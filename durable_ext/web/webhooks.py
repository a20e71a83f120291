"""The built-in HTTP API under ``/runtime/webhooks/durabletask/`` (EXT ``HttpApiHandler.cs``).

The same handlers serve the public webhooks and the SDK client's RPC calls (the binding's
``rpcBaseUrl`` points here). Routes, codes and bodies follow EXT ``HttpApiHandler``: paths match
case-insensitively (``durableTask`` and ``durabletask``), a trailing slash is ignored, and every body
is JSON or empty.

Every route acts on the hub that the ``taskHub`` and ``connection`` query parameters name
(``connectionName`` too: the Python SDK sends it), else on the hub of a ``taskHubs/{hub}
[/connections/{connection}]/`` path prefix (the ``rpcBaseUrl`` of a client binding that names
another hub), else on the app's own hub; see ``durable_ext.hubs``. An invalid hub name or an
unknown connection is a 400 naming it.

Entity routes live in ``web.entities``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import unquote

from aiohttp import web

from durable_ext.client import BadRequestError, GoneError, NotFoundError
from durable_ext.core.messages import InstanceQuery
from durable_ext.core.status import RuntimeStatus
from durable_ext.errors import InstanceExistsError, InvalidContinuationTokenError, StorageUnavailableError
from durable_ext.hubs import HubAddressError
from durable_ext.log import logger
from durable_ext.web import entities
from durable_ext.web.links import DEFAULT_CONNECTION, check_status_payload, request_origin
from durable_ext.web.monitor import MONITOR_ROUTE, monitor_page
from durable_ext.web.openapi import openapi_document
from durable_ext.web.params import (
    Query,
    get_bool,
    get_date,
    get_page_size,
    get_seconds,
    get_statuses,
    parse_json,
    query_of,
    read_body,
    read_json_text,
)
from durable_ext.web.responses import (
    SERVER_ERROR,
    WebError,
    argument_error,
    bad_request,
    empty_response,
    error_response,
    json_response,
    server_error,
)
from durable_ext.web.state import WebState, state_of
from durable_ext.web.status_payload import history_events, parse_token, status_payload

#: Status code when starting an instance whose id is taken by a running instance. The extension
#: versions the contract describes answer 500 (the exception reaches the catch-all handler); newer
#: ones answer 409.
INSTANCE_EXISTS_STATUS = 500
DEFAULT_PAGE_SIZE = 100
CONTINUATION_HEADER = "x-ms-continuation-token"

Handler = Callable[..., Awaitable[web.Response]]


def is_webhook_path(raw_path: str, webhook_path: str) -> bool:
    """Whether ``raw_path`` is under ``webhook_path`` (the API's root, matched ignoring case)."""
    lowered, prefix = raw_path.lower(), webhook_path.lower()
    return lowered == prefix or lowered.startswith(prefix + "/")


async def handle_webhook(request: web.Request) -> web.Response:
    """Route one request of the built-in API; never raises (unexpected errors are a JSON 500)."""
    relative = request.rel_url.raw_path[len(state_of(request).links.webhook_path) :].strip("/")
    path_hub = path_connection = None
    selected = _HUB_PREFIX.fullmatch(relative)
    if selected is not None:
        path_hub, path_connection = (unquote(g) if g is not None else None for g in selected.group(1, 2))
        relative = selected.group(3) or ""
    try:
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(relative)
            if match is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                return empty_response(404)
            args = [unquote(group) if group is not None else None for group in match.groups()]
            state = await _hub_state(request, state_of(request), path_hub, path_connection)
            return await handler(request, state, *args)
        return empty_response(404)
    except HubAddressError as exc:
        return bad_request(str(exc))
    except WebError as exc:
        return exc.response
    except InvalidContinuationTokenError:
        return bad_request(f"Invalid {CONTINUATION_HEADER} header.")
    except StorageUnavailableError as exc:
        logger.error("Durable HTTP API request %s %s refused: %s", request.method, request.rel_url.path, exc)
        # The file's path stays in the log: responses carry no internals.
        return error_response(503, "The task hub is unavailable; the host's log says why.")
    except Exception as exc:
        return server_error(request, exc)


async def _hub_state(
    request: web.Request, state: WebState, path_hub: str | None, path_connection: str | None
) -> WebState:
    """``state`` with the client of the hub this request addresses (query parameters win over the path)."""
    query = query_of(request)
    hub = _non_blank(query.get("taskHub")) or path_hub
    connection = _non_blank(query.get("connection")) or _non_blank(query.get("connectionName")) or path_connection
    if state.hubs is None or (hub is None and connection is None):
        return state
    address = state.hubs.address(hub, connection)
    if address.own:
        return replace(state, address=address)
    return replace(state, client=await state.hubs.client(address), address=address)


def _non_blank(value: str | None) -> str | None:
    # As the extension does (EXT HttpApiHandler.GetClient): a blank value means "not given".
    return value if value is not None and value.strip() else None


# -- orchestrators ---------------------------------------------------------------------------


async def start_orchestration(
    request: web.Request, state: WebState, function_name: str, instance_id: str | None
) -> web.Response:
    query = query_of(request)
    wait = _wait_times(query)
    input_text = await read_json_text(request)
    try:
        new_id = await state.client.start_new(
            function_name, instance_id, input_text, version=query.get("version"), trace_carrier=request.headers
        )
    except BadRequestError as exc:
        return argument_error(str(exc))
    except InstanceExistsError as exc:
        return _instance_exists(instance_id, exc)
    return await _wait_or_check_status(request, state, new_id, query, wait, created=True)


# -- instances ---------------------------------------------------------------------------------


async def get_instance(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    return await _status_response(request, state, instance_id, query_of(request))


async def list_instances(request: web.Request, state: WebState) -> web.Response:
    query = query_of(request)
    show_input = get_bool(query, "showInput", True)
    top = get_page_size(query, "top", DEFAULT_PAGE_SIZE)
    page = await state.client.query(
        InstanceQuery(
            created_from=get_date(query, "createdTimeFrom"),
            created_to=get_date(query, "createdTimeTo"),
            statuses=get_statuses(query, "runtimeStatus"),
            instance_id_prefix=query.get("instanceIdPrefix") or None,
            # Not in the extension's API: the monitor's name filter (an exact orchestrator name).
            name=query.get("name") or None,
            page_size=top,
            continuation_token=_decode_token(request.headers.get(CONTINUATION_HEADER)),
            include_input=show_input,
        )
    )
    body = [status_payload(s, show_input=show_input) for s in page.instances]
    headers = {CONTINUATION_HEADER: _encode_token(page.continuation_token)} if page.continuation_token else None
    return json_response(body, 200, headers)


async def purge_instance(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    deleted = await state.client.purge(instance_id)
    return json_response({"instancesDeleted": deleted}) if deleted else empty_response(404)


async def purge_instances(request: web.Request, state: WebState) -> web.Response:
    query = query_of(request)
    created_from = get_date(query, "createdTimeFrom")
    if created_from is None:
        return json_response("Please provide value for 'createdTimeFrom' parameter.", 400)
    created_to = get_date(query, "createdTimeTo") or state.client.clock.now()
    deleted = await state.client.purge_by(
        InstanceQuery(created_from=created_from, created_to=created_to, statuses=get_statuses(query, "runtimeStatus"))
    )
    return json_response({"instancesDeleted": deleted}) if deleted else empty_response(404)


async def raise_event(request: web.Request, state: WebState, instance_id: str, event_name: str) -> web.Response:
    # The extension answers 404/410 before it looks at the body.
    try:
        await state.client.check_event_target(instance_id)
    except NotFoundError:
        return empty_response(404)
    except GoneError:
        return empty_response(410)
    if request.content_type.lower() != "application/json":
        return bad_request("Only application/json request content is supported")
    data_text = json.dumps(parse_json(await read_body(request)))
    return await _lifecycle(state.client.send_event(instance_id, event_name, data_text, trace_carrier=request.headers))


async def terminate(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    return await _lifecycle(state.client.terminate(instance_id, query_of(request).get("reason")))


async def suspend(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    return await _lifecycle(state.client.suspend(instance_id, query_of(request).get("reason")))


async def resume(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    return await _lifecycle(state.client.resume(instance_id, query_of(request).get("reason")))


async def rewind(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    return await _lifecycle(state.client.rewind(instance_id, query_of(request).get("reason")))


async def restart(request: web.Request, state: WebState, instance_id: str) -> web.Response:
    query = query_of(request)
    wait = _wait_times(query)
    new_instance_id = get_bool(query, "restartWithNewInstanceId", True)
    try:
        new_id = await state.client.restart(instance_id, new_instance_id=new_instance_id)
    except NotFoundError:
        # The extension's ArgumentException for an unknown instance: a 400, not a 404.
        return error_response(
            400,
            "InstanceId does not match a valid orchestration instance.",
            f"An orchestration with the instanceId {instance_id} was not found.",
            "System.ArgumentException",
        )
    except BadRequestError as exc:
        return argument_error(str(exc))
    except InstanceExistsError as exc:
        return _instance_exists(instance_id, exc)
    return await _wait_or_check_status(request, state, new_id, query, wait, created=True)


async def entity(request: web.Request, state: WebState, name: str, key: str) -> web.Response:
    if request.method == "GET":
        return await entities.read_entity(request, state, name, key)
    return await entities.operation(request, state, name, key)


async def entity_list(request: web.Request, state: WebState, name: str | None = None) -> web.Response:
    return await entities.list_entities(
        request,
        state,
        name,
        request.headers.get(CONTINUATION_HEADER),
        _decode_token,
        _encode_token,
        CONTINUATION_HEADER,
    )


async def openapi(request: web.Request, state: WebState) -> web.Response:
    return json_response(openapi_document())


# -- helpers -----------------------------------------------------------------------------------


async def _lifecycle(operation: Awaitable[None]) -> web.Response:
    """202 when the request was queued; 404 unknown instance; 410 no longer accepted."""
    try:
        await operation
    except NotFoundError:
        return empty_response(404)
    except GoneError:
        return empty_response(410)
    return empty_response(202)


async def _status_response(request: web.Request, state: WebState, instance_id: str, query: Query) -> web.Response:
    current = await state.client.get_status(instance_id)
    if current is None:
        return empty_response(404)
    show_input = get_bool(query, "showInput", True)
    history = None
    if get_bool(query, "showHistory", False) and current.runtime_status is not RuntimeStatus.Pending:
        history = history_events(
            await state.client.get_history(instance_id),
            show_input=show_input,
            show_output=get_bool(query, "showHistoryOutput", False),
        )
    body = status_payload(current, show_input=show_input, history=history)
    status = current.runtime_status
    if status.is_running:
        return json_response(body, 202, {"Location": str(request.url), "Retry-After": "5"})
    if status is RuntimeStatus.Failed and get_bool(query, "returnInternalServerErrorOnFailure", False):
        return json_response(body, 500)
    return json_response(body, 200)


def _wait_times(query: Query) -> tuple[float, float] | None:
    """``(timeout, pollingInterval)`` in seconds when both are given; checked before anything starts."""
    timeout, interval = get_seconds(query, "timeout"), get_seconds(query, "pollingInterval")
    if timeout is None or interval is None:
        return None
    if interval > timeout:
        raise WebError(argument_error(f"Total timeout {timeout:g} should be bigger than retry timeout {interval:g}"))
    return timeout, interval


async def _wait_or_check_status(
    request: web.Request,
    state: WebState,
    instance_id: str,
    query: Query,
    wait: tuple[float, float] | None,
    *,
    created: bool = False,
) -> web.Response:
    """With ``wait`` (timeout, interval): wait for the end; else the 202 check-status answer.
    ``created``: the caller just created the instance (``DurableClient.wait_for_completion``'s
    ``just_created``)."""
    if wait is not None:
        timeout, interval = wait
        final = await state.client.wait_for_completion(
            instance_id, timeout=timeout, interval=interval, abandoned=lambda: _gone(request), just_created=created
        )
        if final is not None and final.runtime_status is RuntimeStatus.Completed:
            return json_response(parse_token(final.output), 200)
        if final is not None and final.runtime_status.is_terminal:
            return await _status_response(request, state, instance_id, query)
    address = state.address
    hub = address.hub if address is not None else state.config.hub_name
    connection = (address.connection if address is not None else None) or DEFAULT_CONNECTION
    payload = check_status_payload(request_origin(request), hub, connection, instance_id, state.links, state.link_code)
    return json_response(payload, 202, {"Location": payload["statusQueryGetUri"], "Retry-After": "10"})


def _gone(request: web.Request) -> bool:
    """The caller closed its connection: nobody is left to answer."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _instance_exists(instance_id: str | None, exc: Exception | None) -> web.Response:
    detail = f" ({exc})" if exc is not None and str(exc) else ""
    return error_response(
        INSTANCE_EXISTS_STATUS,
        SERVER_ERROR,
        f"An orchestration instance with the ID '{instance_id}' already exists and is not in a terminal state{detail}.",
        "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException",
    )


def _encode_token(token: str) -> str:
    """Provider continuation tokens are opaque; base64url keeps them header-safe."""
    return base64.urlsafe_b64encode(token.encode("utf-8")).decode("ascii")


def _decode_token(header: str | None) -> str | None:
    if not header or not header.strip():
        return None
    try:
        token = base64.b64decode(header.strip().encode("ascii"), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        token = ""
    if not token:
        raise WebError(bad_request(f"Invalid {CONTINUATION_HEADER} header."))
    return token


def _route(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_SEGMENT = "([^/]+)"
#: ``taskHubs/{hub}[/connections/{connection}]/<route>``: see :func:`durable_ext.web.links.hub_path`.
_HUB_PREFIX = re.compile(r"taskHubs/([^/]+)(?:/connections/([^/]+))?(?:/(.*))?", re.IGNORECASE)
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (_route(f"orchestrators/{_SEGMENT}(?:/{_SEGMENT})?"), {"POST": start_orchestration}),
    (_route("instances"), {"GET": list_instances, "DELETE": purge_instances}),
    (_route(f"instances/{_SEGMENT}"), {"GET": get_instance, "DELETE": purge_instance}),
    (_route(f"instances/{_SEGMENT}/raiseEvent/{_SEGMENT}"), {"POST": raise_event}),
    (_route(f"instances/{_SEGMENT}/terminate"), {"POST": terminate}),
    (_route(f"instances/{_SEGMENT}/suspend"), {"POST": suspend}),
    (_route(f"instances/{_SEGMENT}/resume"), {"POST": resume}),
    (_route(f"instances/{_SEGMENT}/rewind"), {"POST": rewind}),
    (_route(f"instances/{_SEGMENT}/restart"), {"POST": restart}),
    (_route(f"entities/{_SEGMENT}/{_SEGMENT}"), dict.fromkeys(("GET", "POST", "DELETE"), entity)),
    (_route(f"entities(?:/{_SEGMENT})?"), {"GET": entity_list}),
    (_route("openapi.json"), {"GET": openapi}),
    (_route(MONITOR_ROUTE), {"GET": monitor_page}),
]
