"""The app's HTTP-triggered functions, served under ``/<routePrefix>/<route>``.

Requests become ``func.HttpRequest`` objects as the Python worker builds them (absolute URL as the
caller used it, query and route values, raw body); functions with a ``durableClient`` binding get
the client binding JSON pointing at this server. Each call is logged ``func start`` style
(Executing/Executed). A function that raises answers 500 with an empty body, as the Functions host
does; the traceback goes to the log. Methods not listed by the function answer 404, like the host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web
from multidict import CIMultiDict

from durable_ext import telemetry
from durable_ext.functions import FunctionInfo, make_request, response_parts, run_http
from durable_ext.hubs import HubAddressError
from durable_ext.log import invocation, logger
from durable_ext.web.links import client_binding_json, own_origin
from durable_ext.web.params import read_body
from durable_ext.web.responses import WebError, error_response
from durable_ext.web.routes import RouteTemplate, compile_route, sort_by_precedence
from durable_ext.web.state import state_of

#: The reason ``func start`` prints for HTTP-triggered invocations.
HTTP_REASON = "This function was programmatically called via the host APIs."
# Computed by aiohttp for the body it sends; a function's own values would be wrong or harmful.
_DROPPED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


class FunctionRoutes:
    """The HTTP functions' route templates, in matching order."""

    def __init__(self, functions: Iterable[FunctionInfo], route_prefix: str) -> None:
        compiled: list[tuple[RouteTemplate, FunctionInfo]] = []
        for info in functions:
            route = info.route if info.route is not None else info.function_name
            try:
                compiled.append((compile_route(route, route_prefix), info))
            except ValueError as exc:
                logger.error("Function '%s' is not served: invalid route '%s': %s", info.function_name, route, exc)
        order = sort_by_precedence([template for template, _ in compiled])
        self._routes = [compiled[i] for i in order]

    def match(self, method: str, raw_path: str) -> tuple[FunctionInfo, dict[str, str]] | None:
        """The function serving ``method`` on ``raw_path`` and its route values, or None."""
        for template, info in self._routes:
            if info.methods is not None and method.upper() not in info.methods:
                continue
            values = template.match(raw_path)
            if values is not None:
                return info, values
        return None

    def __len__(self) -> int:
        return len(self._routes)


FUNCTION_ROUTES: web.AppKey[FunctionRoutes] = web.AppKey("durable_ext_function_routes", FunctionRoutes)


async def handle_function(request: web.Request, info: FunctionInfo, route_values: dict[str, str]) -> web.Response:
    tracing = telemetry.ACTIVE
    if tracing is None:
        return await _run_function(request, info, route_values)
    prefix = state_of(request).config.route_prefix
    route = "/".join(("", *([prefix] if prefix else []), info.route if info.route is not None else info.function_name))
    with tracing.http_request(request.method, route, request.path, request.headers) as span:
        response = await _run_function(request, info, route_values)
        tracing.http_status(span, response.status)
        return response


async def _run_function(request: web.Request, info: FunctionInfo, route_values: dict[str, str]) -> web.Response:
    state = state_of(request)
    try:
        body = await read_body(request)
    except WebError as exc:
        return exc.response
    http_request = make_request(
        request.method,
        str(request.url),
        headers=_joined(request.headers.items()),
        params=_joined(request.query.items()),
        route_params=route_values,
        body=body,
    )
    binding = None
    if info.client_binding_name:
        try:
            address = state.hubs.binding_address(info) if state.hubs is not None else None
        except HubAddressError as exc:
            # The app's binding is wrong, not the request: a server error that says what to fix.
            logger.error("Function '%s' was not run: %s", info.function_name, exc)
            return error_response(500, f"Function '{info.function_name}' was not run: {exc}")
        origin = own_origin(request, state.config.host, state.config.port)
        binding = client_binding_json(origin, state.config, info, address, state.link_code, links=state.links)
    try:
        with invocation(info.function_name, HTTP_REASON) as inv:
            response = await run_http(
                info, http_request, client_binding_json=binding, executor=state.executor, invocation_id=inv.id
            )
    except Exception as exc:
        logger.error(
            "Exception while executing function: Functions.%s. Result: Failure\nException: %s: %s",
            info.function_name,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        return web.Response(status=500)
    parts = response_parts(response)
    headers = CIMultiDict(
        (name, value) for name, value in parts.headers if name.lower() not in _DROPPED_RESPONSE_HEADERS
    )
    return web.Response(status=parts.status, body=parts.body, headers=headers)


def _joined(items: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    """Repeated names joined with commas, as the Functions host hands them to the worker."""
    out: dict[str, str] = {}
    lowered: dict[str, str] = {}
    for name, value in items:
        key = lowered.setdefault(name.lower(), name)
        out[key] = f"{out[key]},{value}" if key in out else value
    return out
