"""An OpenAPI 3.0 description of the built-in HTTP API (``GET …/durabletask/openapi.json``).

Served behind the same access rules as the API itself (the durable system key when keys are
required). It describes what ``web.webhooks`` and ``web.entities`` accept — paths, methods,
query parameters, the continuation header and JSON bodies — so tools (and the fault suite's
fuzz run) can generate requests from it. Waiting starts are described with bounds low enough for
generated requests to end quickly; the API itself accepts up to ``params.MAX_WAIT_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from durable_ext import __version__
from durable_ext.web.links import WEBHOOK_PATH

_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_DATE = {"type": "string", "format": "date-time"}
_ANY_JSON: dict[str, Any] = {}
_STATUSES = ["Pending", "Running", "Completed", "ContinuedAsNew", "Failed", "Terminated", "Suspended"]


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


_TOKEN = {"name": "x-ms-continuation-token", "in": "header", "required": False, "schema": _STRING}
_REASON = _query("reason", _STRING)
_WAIT = [
    _query("timeout", {"type": "number", "minimum": 0, "maximum": 5}),
    _query("pollingInterval", {"type": "number", "minimum": 0, "maximum": 5}),
]
_JSON_BODY = {"required": False, "content": {"application/json": {"schema": _ANY_JSON}}}


def _responses(*codes: int) -> dict[str, Any]:
    descriptions = {
        200: "OK",
        202: "Accepted",
        400: "Bad request",
        401: "Key missing or wrong",
        403: "Cross-site request",
        404: "Not found",
        410: "Gone",
        413: "Body too large",
    }
    return {str(code): {"description": descriptions[code]} for code in (*codes, 400, 401, 403)}


def _operation(op_id: str, codes: tuple[int, ...], params: list[dict[str, Any]], body: bool = False) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "parameters": params, "responses": _responses(*codes)}
    if body:
        operation["requestBody"] = _JSON_BODY
    return operation


def _lifecycle(op_id: str) -> dict[str, Any]:
    return {"post": _operation(op_id, (202, 404, 410), [_path("instanceId"), _REASON])}


def openapi_document() -> dict[str, Any]:
    """The document; paths are relative to the server URL ``/runtime/webhooks/durabletask``."""
    start = _operation(
        "startOrchestration",
        (200, 202, 404, 413),
        [_path("functionName"), *_WAIT, _query("version", _STRING)],
        body=True,
    )
    start_with_id = _operation(
        "startOrchestrationWithId",
        (200, 202, 404, 413),
        [_path("functionName"), _path("instanceId"), *_WAIT, _query("version", _STRING)],
        body=True,
    )
    listing = [
        _query("createdTimeFrom", _DATE),
        _query("createdTimeTo", _DATE),
        _query("runtimeStatus", {"type": "string", "enum": _STATUSES}),
        _query("instanceIdPrefix", _STRING),
        _query("top", {"type": "integer"}),
        _query("showInput", _BOOLEAN),
        _TOKEN,
    ]
    entity_listing = [
        _query("top", {"type": "integer"}),
        _query("fetchState", _BOOLEAN),
        _query("lastOperationTimeFrom", _DATE),
        _query("lastOperationTimeTo", _DATE),
        _TOKEN,
    ]
    entity = [_path("entityName"), _path("entityKey")]
    paths = {
        "/orchestrators/{functionName}": {"post": start},
        "/orchestrators/{functionName}/{instanceId}": {"post": start_with_id},
        "/instances": {
            "get": _operation("listInstances", (200,), listing),
            "delete": _operation(
                "purgeInstances",
                (200, 404),
                [
                    _query("createdTimeFrom", _DATE),
                    _query("createdTimeTo", _DATE),
                    _query("runtimeStatus", {"type": "string", "enum": _STATUSES}),
                ],
            ),
        },
        "/instances/{instanceId}": {
            "get": _operation(
                "getInstance",
                (200, 202, 404),
                [
                    _path("instanceId"),
                    _query("showHistory", _BOOLEAN),
                    _query("showHistoryOutput", _BOOLEAN),
                    _query("showInput", _BOOLEAN),
                ],
            ),
            "delete": _operation("purgeInstance", (200, 404), [_path("instanceId")]),
        },
        "/instances/{instanceId}/raiseEvent/{eventName}": {
            "post": _operation("raiseEvent", (202, 404, 410), [_path("instanceId"), _path("eventName")], body=True)
        },
        "/instances/{instanceId}/terminate": _lifecycle("terminate"),
        "/instances/{instanceId}/suspend": _lifecycle("suspend"),
        "/instances/{instanceId}/resume": _lifecycle("resume"),
        "/instances/{instanceId}/rewind": _lifecycle("rewind"),
        "/instances/{instanceId}/restart": {
            "post": _operation(
                "restart", (200, 202), [_path("instanceId"), _query("restartWithNewInstanceId", _BOOLEAN), *_WAIT]
            )
        },
        "/entities": {"get": _operation("listEntities", (200,), entity_listing)},
        "/entities/{entityName}": {
            "get": _operation("listEntitiesByName", (200,), [_path("entityName"), *entity_listing])
        },
        "/entities/{entityName}/{entityKey}": {
            "get": _operation("readEntity", (200, 404), entity),
            "post": _operation("signalEntity", (202, 413), [*entity, _query("op", _STRING)], body=True),
            "delete": _operation("deleteEntity", (202,), entity),
        },
        "/openapi.json": {"get": _operation("openApiDocument", (200,), [])},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Durable Functions HTTP API (durable_ext)", "version": __version__},
        "servers": [{"url": WEBHOOK_PATH}],
        "components": {
            "securitySchemes": {
                "functionsKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "code": {"type": "apiKey", "in": "query", "name": "code"},
            }
        },
        "security": [{"functionsKey": []}, {"code": []}],
        "paths": paths,
    }
