"""Azure Functions (ASP.NET) route templates → matchers.

Supported: literal segments (matched case-insensitively, as ASP.NET does), ``{name}``, ``{name?}``
(optional last segments), ``{name=default}``, ``{*rest}`` / ``{**rest}`` catch-alls, several
parameters in one segment (``{name}.{ext}``), and the inline constraints ``int``, ``long``,
``alpha``, ``bool``, ``guid``, ``decimal``/``double``/``float``, ``datetime``, ``minlength(n)``,
``maxlength(n)``, ``length(n)``/``length(a,b)``, ``min(n)``, ``max(n)``, ``range(a,b)`` and
``regex(expr)`` (without braces inside ``expr``). Unknown constraints are ignored with a warning.

When several templates match a path, the most specific one wins, segment by segment (literal,
then constrained parameter, then parameter, then optional, then catch-all), as ASP.NET orders
routes by precedence; ties go to the function registered first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from durable_ext.log import logger

_PARAMETER = re.compile(r"\{([^{}]*)\}")
_CONSTRAINT = re.compile(r"([A-Za-z]+)(?:\((.*)\))?$")
_GUID = r"(?:[0-9A-Fa-f]{32}|\{?[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}?)"
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
# Constraints expressed as a regex for the value.
_REGEX_CONSTRAINTS = {
    "int": r"-?[0-9]+",
    "long": r"-?[0-9]+",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])",
    "guid": _GUID,
    "decimal": _NUMBER,
    "double": _NUMBER,
    "float": _NUMBER,
}
# Segment kinds, most specific first (ASP.NET route precedence).
_LITERAL, _CONSTRAINED, _PLAIN, _OPTIONAL, _CATCH_ALL = range(5)

Check = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    group: str
    optional: bool
    catch_all: bool
    default: str | None
    regex: str
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class RouteTemplate:
    """One compiled route template; ``path`` is matched against the raw (percent-encoded) path."""

    template: str
    pattern: re.Pattern[str]
    parameters: tuple[_Parameter, ...]
    precedence: tuple[int, ...]

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Decoded route values by parameter name, or None when the path does not match."""
        found = self.pattern.fullmatch(raw_path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for param in self.parameters:
            raw = found.group(param.group)
            if raw is None or raw == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            value = unquote(raw)
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values


def compile_route(route: str, prefix: str = "") -> RouteTemplate:
    """Compile ``/<prefix>/<route>``; raises ValueError for a malformed template."""
    segments = [s for s in route.strip("/").split("/") if s != ""] if route.strip("/") else []
    regex = [re.escape("/" + prefix.strip("/")) if prefix.strip("/") else ""]
    parameters: list[_Parameter] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        parts = _split_segment(segment)
        params = [p for p in parts if isinstance(p, _Parameter)]
        if len(parts) == 1 and params:
            param = params[0]
            param = _rename(param, f"g{len(parameters)}")
            parameters.append(param)
            if param.optional or param.catch_all or param.default is not None:
                if param.catch_all and index != len(segments) - 1:
                    raise ValueError(f"a catch-all parameter must be the last segment of route '{route}'")
                regex.append(f"(?:/(?P<{param.group}>{param.regex}))?")
                precedence.append(_CATCH_ALL if param.catch_all else _OPTIONAL)
            else:
                regex.append(f"/(?P<{param.group}>{param.regex})")
                precedence.append(_CONSTRAINED if param.checks or param.regex != "[^/]+" else _PLAIN)
            continue
        pieces = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(re.escape(part))
                continue
            if part.catch_all:
                raise ValueError(f"a catch-all parameter cannot share a segment in route '{route}'")
            part = _rename(part, f"g{len(parameters)}")
            parameters.append(part)
            # Greedy, so the last parameter gets the shortest text (ASP.NET matches right to left).
            pieces.append(f"(?P<{part.group}>{part.regex})")
        regex.append("/" + "".join(pieces))
        precedence.append(_LITERAL if not params else _CONSTRAINED)
    pattern = re.compile("".join(regex) + "/?", re.IGNORECASE)
    return RouteTemplate(route, pattern, tuple(parameters), tuple(precedence))


def sort_by_precedence(templates: Sequence[RouteTemplate]) -> list[int]:
    """Indices of ``templates`` in matching order (stable for equal precedence)."""
    # A template that ends earlier is more specific: tuples compare shorter-first on a common prefix.
    return sorted(range(len(templates)), key=lambda i: (templates[i].precedence, i))


def _split_segment(segment: str) -> list[str | _Parameter]:
    parts: list[str | _Parameter] = []
    position = 0
    for found in _PARAMETER.finditer(segment):
        if found.start() > position:
            parts.append(segment[position : found.start()])
        parts.append(_parse_parameter(found.group(1), segment))
        position = found.end()
    if position < len(segment):
        parts.append(segment[position:])
    for part in parts:
        if isinstance(part, str) and ("{" in part or "}" in part):
            raise ValueError(f"unbalanced brace in route segment '{segment}'")
    return parts


def _parse_parameter(text: str, segment: str) -> _Parameter:
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    default = None
    if "=" in text:
        text, default = text.split("=", 1)
    optional = text.endswith("?")
    text = text.rstrip("?")
    name, *constraints = text.split(":")
    if not name:
        raise ValueError(f"route parameter without a name in segment '{segment}'")
    regex = ".*" if catch_all else "[^/]+"
    checks: list[Check] = []
    for constraint in constraints:
        found = _CONSTRAINT.match(constraint)
        kind, argument = (found.group(1).lower(), found.group(2)) if found else ("", None)
        if kind in _REGEX_CONSTRAINTS and not catch_all:
            regex = _REGEX_CONSTRAINTS[kind]
        elif kind and (check := _value_check(kind, argument)) is not None:
            checks.append(check)
        else:
            logger.warning("Route constraint '%s' of parameter '%s' is not supported; it is ignored.", constraint, name)
    return _Parameter(name, "", optional, catch_all, default, regex, tuple(checks))


def _value_check(kind: str, argument: str | None) -> Check | None:
    args = [a.strip() for a in argument.split(",")] if argument else []
    try:
        if kind == "regex" and argument:
            compiled = re.compile(argument, re.IGNORECASE)
            return lambda v: compiled.search(v) is not None
        if kind == "datetime":
            return _is_datetime
        if kind in ("minlength", "maxlength", "length", "min", "max", "range"):
            numbers = [int(a) for a in args]
    except (ValueError, re.error):
        return None
    if kind == "minlength" and len(numbers) == 1:
        return lambda v: len(v) >= numbers[0]
    if kind == "maxlength" and len(numbers) == 1:
        return lambda v: len(v) <= numbers[0]
    if kind == "length" and len(numbers) in (1, 2):
        low, high = numbers[0], numbers[-1]
        return lambda v: low <= len(v) <= high
    if kind in ("min", "max", "range") and len(numbers) == (2 if kind == "range" else 1):
        lowest = numbers[0] if kind != "max" else None
        highest = numbers[-1] if kind != "min" else None
        return lambda v: _int_between(v, lowest, highest)
    return None


def _int_between(value: str, low: int | None, high: int | None) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return (low is None or number >= low) and (high is None or number <= high)


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _rename(param: _Parameter, group: str) -> _Parameter:
    return _Parameter(param.name, group, param.optional, param.catch_all, param.default, param.regex, param.checks)
