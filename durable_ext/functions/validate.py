"""Refuse a function whose Python signature does not match its bindings, as the Python worker does.

The Functions Python worker checks every indexed function before it serves any
(``azure_functions_worker/functions.py``: ``validate_binding_direction``, ``is_context_required``,
``validate_function_params``, ``get_function_return_type``) and fails the load with
``FunctionLoadError("cannot load the <name> function: …")``. An app that loads here must load there,
so the same rules apply:

* no ``inout`` binding; a ``$return`` binding has direction ``out``;
* a ``context`` parameter that no binding fills is the invocation context and, when annotated, must be
  annotated ``azure.functions.Context``;
* every other parameter names a binding and every binding other than ``$return`` names a parameter;
* an ``out`` binding is annotated ``func.Out[T]`` (or not at all), an ``in`` binding is not;
* annotations are types, and a binding's converter (``azure.functions.get_binding_registry()``) accepts
  the annotated type; ``str``/``bytes`` annotations go through the generic binding;
* an explicit ``$return`` annotation is a type the return binding's converter accepts.

Deferred (SDK-type) bindings of ``azurefunctions-extensions-*`` are not recognised here; such an
annotation is checked like any other.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import azure.functions as func
from azure.functions.decorators.core import BindingDirection

from durable_ext.errors import AppLoadError

_RETURN = "$return"


def check_function(function: Any) -> None:
    """Raise AppLoadError naming the function and parameter if the worker would refuse it."""
    name: str = function.get_function_name()
    user_function = function.get_user_function()
    try:
        params = dict(inspect.signature(user_function).parameters)
        annotations = typing.get_type_hints(user_function)
    except Exception as exc:  # the worker's indexing fails the same way on these
        raise _error(name, f"its signature cannot be read: {type(exc).__name__}: {exc}") from exc

    bound: dict[str, Any] = {}
    return_binding = None
    for binding in function.get_bindings():
        direction = _direction(binding)
        if direction is BindingDirection.INOUT:
            raise _error(name, '"inout" bindings are not supported')
        if binding.name == _RETURN:
            if direction is not BindingDirection.OUT:
                raise _error(name, '"$return" binding must have direction set to "out"')
            return_binding = binding
        else:
            bound[binding.name] = binding

    if "context" in params and "context" not in bound:
        params.pop("context")
        annotation = annotations.get("context")
        if "context" in annotations and (not isinstance(annotation, type) or annotation.__name__ != "Context"):
            raise _error(
                name, f'the "context" parameter is expected to be of type azure.functions.Context, got {annotation!r}'
            )

    extra = set(params) - set(bound)
    if extra:
        raise _error(name, f"the following parameters are declared in Python but not in its bindings: {_names(extra)}")
    missing = set(bound) - set(params)
    if missing:
        raise _error(name, f"the following parameters are declared in its bindings but not in Python: {_names(missing)}")

    for parameter in params:
        _check_parameter(name, parameter, bound[parameter], annotations)
    if return_binding is not None and "return" in annotations:
        _check_return(name, return_binding, annotations["return"])


def _check_parameter(name: str, parameter: str, binding: Any, annotations: dict[str, Any]) -> None:
    if parameter not in annotations:
        return
    annotation = annotations[parameter]
    is_out_annotation = _is_out(annotation)
    is_out_binding = _direction(binding) is BindingDirection.OUT
    pytype = annotation
    if is_out_annotation:
        args = typing.get_args(annotation)
        if len(args) != 1:
            raise _error(name, f"binding {parameter} has invalid Out annotation {annotation!r}")
        pytype = args[0]
    if not isinstance(pytype, type) and typing.get_origin(pytype) is None:
        raise _error(name, f"binding {parameter} has invalid non-type annotation {annotation!r}")
    if is_out_binding and not is_out_annotation:
        raise _error(
            name,
            f'binding {parameter} is declared to have the "out" direction, but its annotation in Python is not '
            "a subclass of azure.functions.Out",
        )
    if is_out_annotation and not is_out_binding:
        raise _error(
            name,
            f'binding {parameter} is declared to have the "in" direction, but its annotation is '
            "azure.functions.Out in Python",
        )
    binding_type = str(binding.type)
    converter = _converter(binding_type, pytype)
    check = converter.check_output_type_annotation if is_out_binding else converter.check_input_type_annotation
    if not _accepts(check, pytype):
        raise _error(
            name,
            f'type of {parameter} binding "{binding_type}" does not match its Python annotation '
            f'"{getattr(pytype, "__name__", pytype)}"',
        )


def _check_return(name: str, binding: Any, annotation: Any) -> None:
    if _is_out(annotation):
        raise _error(name, "return annotation should not be azure.functions.Out")
    if not isinstance(annotation, type):
        raise _error(name, f"has invalid non-type return annotation {annotation!r}")
    binding_type = str(binding.type)
    if not _accepts(_converter(binding_type, None).check_output_type_annotation, annotation):
        raise _error(
            name, f'Python return annotation "{annotation.__name__}" does not match binding type "{binding_type}"'
        )


class _Generic:
    """The worker's ``GenericBinding``: str and bytes in, str/bytes/bytearray out."""

    @staticmethod
    def check_input_type_annotation(pytype: type) -> bool:
        return isinstance(pytype, type) and issubclass(pytype, str | bytes)

    @staticmethod
    def check_output_type_annotation(pytype: type) -> bool:
        return isinstance(pytype, type) and issubclass(pytype, str | bytes | bytearray)


def _converter(binding_type: str, pytype: Any) -> Any:
    registry = func.get_binding_registry()
    converter = registry.get(binding_type) if registry is not None else None
    if converter is None:
        return _Generic
    # A plain str/bytes parameter of a binding without implicit output goes through the generic binding.
    if pytype in (str, bytes) and not getattr(converter, "has_implicit_output", lambda: False)():
        return _Generic
    return converter


def _accepts(check: Any, pytype: Any) -> bool:
    try:
        return bool(check(pytype))
    except TypeError:  # issubclass on a generic alias; the converters that take those handle it themselves
        return False


def _is_out(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    target = origin if origin is not None else annotation
    return isinstance(target, type) and target.__name__ == "Out"


def _direction(binding: Any) -> BindingDirection:
    direction = getattr(binding, "direction", BindingDirection.IN)
    try:
        return BindingDirection(direction)
    except ValueError:
        return BindingDirection.IN


def _names(names: set[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names))


def _error(function_name: str, message: str) -> AppLoadError:
    return AppLoadError(f"cannot load the {function_name} function: {message}")
