"""Query-string and body parsing for the built-in HTTP API.

Parameter names are matched case-insensitively, as ASP.NET's query collection does. Booleans, ints
and time spans that do not parse fall back to their default (the extension uses ``TryParse``);
dates and statuses that do not parse are a 400, so a typo never widens a query or a purge.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire import parse_datetime
from durable_ext.web.responses import WebError, bad_request, invalid_json, too_large

Query = CIMultiDictProxy[str]


def query_of(request: web.Request) -> Query:
    return CIMultiDictProxy(CIMultiDict(request.query))


def get_bool(query: Query, name: str, default: bool) -> bool:
    value = (query.get(name) or "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return default


def get_int(query: Query, name: str, default: int) -> int:
    try:
        return int((query.get(name) or "").strip())
    except ValueError:
        return default


#: The largest page a list request gets, whatever ``top`` asks for (the continuation token pages on).
MAX_PAGE_SIZE = 1000


def get_page_size(query: Query, name: str, default: int) -> int:
    """``top``: 1..MAX_PAGE_SIZE; absent, non-numeric or not positive → ``default``; larger → the cap."""
    size = get_int(query, name, default)
    return default if size <= 0 else min(size, MAX_PAGE_SIZE)


#: The longest ``timeout`` a start-and-wait request may ask for (seconds); longer is a 400, as is
#: a value .NET's ``TimeSpan`` could not hold (the extension fails those too).
MAX_WAIT_SECONDS = 3600.0


def get_seconds(query: Query, name: str) -> float | None:
    """A number of seconds in 0..MAX_WAIT_SECONDS; None when absent or not a number (the
    extension's ``TryParse``); raises WebError(400) for a negative, infinite or larger number."""
    text = (query.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not 0 <= value <= MAX_WAIT_SECONDS:  # also false for NaN
        raise WebError(
            bad_request(f"The '{name}' parameter must be a number of seconds between 0 and {MAX_WAIT_SECONDS:g}.")
        )
    return value


def get_date(query: Query, name: str) -> datetime | None:
    """An ISO-8601 date (UTC when no offset is given); raises WebError(400) for garbage."""
    text = query.get(name)
    if text is None or not text.strip():
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        pass
    # An unencoded "+01:00" offset arrives as " 01:00": a form-encoded "+" is a space.
    try:
        return parse_datetime(text.strip().replace(" ", "+"))
    except ValueError:
        raise WebError(
            bad_request(f"The value '{text}' of the '{name}' parameter is not a valid ISO-8601 date and time.")
        ) from None


def get_statuses(query: Query, name: str) -> frozenset[RuntimeStatus] | None:
    """A comma-separated list of runtime statuses (the parameter may repeat); None when absent."""
    names = [part.strip() for value in query.getall(name, []) for part in value.split(",") if part.strip()]
    if not names:
        return None
    try:
        return frozenset(RuntimeStatus.parse(n) for n in names)
    except ValueError as exc:
        raise WebError(bad_request(f"Invalid '{name}' parameter: {exc}.")) from None


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise WebError(too_large()) from None


def parse_json(body: bytes) -> Any:
    """The JSON value of a request body; raises WebError(400 "Invalid JSON content"), also for
    JSON whose ``\\uXXXX`` escapes spell a lone surrogate (not Unicode text: it could be stored
    but not sent back as UTF-8)."""
    try:
        value = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WebError(invalid_json(exc)) from None
    if b"\\u" in body:
        ensure_unicode(value)
    return value


def ensure_unicode(value: Any) -> None:
    """Raise WebError(400) when a string in ``value`` (a parsed JSON value) holds a lone surrogate."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WebError(
            invalid_json(
                ValueError(f"The JSON content holds a lone surrogate at position {exc.start}: not Unicode text.")
            )
        ) from None


async def read_json_text(request: web.Request) -> str | None:
    """``json.dumps(json.loads(body))`` of an optional JSON body; None when the body is empty."""
    body = await read_body(request)
    if not body.strip():
        return None
    return json.dumps(parse_json(body))
