"""What worker mode lets the Python worker report to the Functions host.

The worker indexes a v2 app by calling its ``get_functions()`` once and sends each function's raw
bindings to the host (``azure_functions_worker/loader.py`` ``index_function_app``,
``process_indexed_function``). The host puts a function whose binding type no extension registered
(``orchestrationTrigger``, ``durableClient`` … without the .NET Durable extension) in error and skips it
(``FunctionDescriptorProvider.VerifyResolvedBindings``). So what is reported is rewritten:

* orchestrator, activity and entity functions are left out: durable_ext's dispatcher runs them;
* a function with a ``durableClient`` binding loses that binding, and its callable gets a signature
  without the client parameter — the worker checks that parameters and bindings match one to one
  (``functions.py`` ``validate_function_params``) — while the SDK's client middleware still receives
  the binding JSON, now supplied by durable_ext at each call;
* one HTTP function, :data:`WEBHOOK_FUNCTION_NAME`, serves the built-in HTTP API. Its route cannot
  start with ``runtime`` or ``admin`` (the host refuses those: ``ScriptHost.ValidateHttpFunction``).

This relies on private attributes of ``azure.functions`` ``Function`` (``_func``, ``_bindings``); the
worker-mode tests run the real worker against the pinned azure-functions versions to catch a change.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from durable_ext.functions.http import ResponseParts

#: Binding types only the .NET Durable extension can bind; none of them is ever reported.
DURABLE_BINDING_TYPES = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger", "durableClient"})
WEBHOOK_FUNCTION_NAME = "durable_ext_webhooks"
#: The catch-all route parameter of the webhook function.
WEBHOOK_PATH_PARAMETER = "path"
_WEBHOOK_METHODS = ("GET", "POST", "DELETE")


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """An HTTP request as the host handed it to a function: the full public URL and the raw body."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


#: ``(function_name, origin or None) -> client binding JSON`` for a function's durableClient parameter.
ClientBindingSource = Callable[[str, str | None], Awaitable[str]]
WebhookHandler = Callable[[IncomingRequest], Awaitable[ResponseParts]]


def rewrite_functions(
    functions: Iterable[Any],
    *,
    client_binding: ClientBindingSource,
    webhook_handler: WebhookHandler,
    webhook_route: str,
    webhook_auth_level: str,
) -> list[Any]:
    """The ``Function`` objects to report; mutates the client functions among ``functions`` in place.

    ``webhook_auth_level`` is an ``azure.functions.AuthLevel`` name (``ANONYMOUS``, ``FUNCTION``, ``ADMIN``).
    """
    reported = []
    for function in functions:
        if function.get_trigger().type in DURABLE_BINDING_TYPES:
            continue
        client = next((b for b in function.get_bindings() if b.type == "durableClient"), None)
        if client is not None:
            _supply_client(function, client, client_binding)
        reported.append(function)
    reported.append(_webhook_function(webhook_route, webhook_auth_level, webhook_handler))
    return reported


def _supply_client(function: Any, client: Any, client_binding: ClientBindingSource) -> None:
    """Drop the durableClient binding; the callable fills that parameter itself (signature without it)."""
    middleware = function.get_user_function()
    name = function.get_function_name()
    trigger_name = function.get_trigger().name
    signature = inspect.signature(middleware)
    kept = [p for p in signature.parameters.values() if p.name != client.name]

    @functools.wraps(middleware)
    async def with_client(*args: Any, **kwargs: Any) -> Any:
        kwargs[client.name] = await client_binding(name, _origin_of(kwargs.get(trigger_name)))
        result = middleware(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    with_client.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    annotations = dict(getattr(with_client, "__annotations__", {}))
    annotations.pop(client.name, None)
    with_client.__annotations__ = annotations
    function._func = with_client
    function._bindings = [b for b in function.get_bindings() if b is not client]


def _origin_of(trigger_value: Any) -> str | None:
    """``scheme://host[:port]`` of an HTTP trigger's request, None for other triggers."""
    url = getattr(trigger_value, "url", None)
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _webhook_function(route: str, auth_level: str, handler: WebhookHandler) -> Any:
    app = func.FunctionApp(http_auth_level=func.AuthLevel[auth_level])

    @app.function_name(WEBHOOK_FUNCTION_NAME)
    @app.route(route=route, methods=list(_WEBHOOK_METHODS))
    async def durable_ext_webhooks(req: func.HttpRequest) -> func.HttpResponse:
        parts = await handler(IncomingRequest(req.method, req.url, tuple(req.headers.items()), req.get_body() or b""))
        headers = dict(parts.headers)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        mimetype = content_type.split(";")[0].strip() if content_type else None
        return func.HttpResponse(parts.body, status_code=parts.status, headers=headers, mimetype=mimetype)

    return app.get_functions()[0]
