# Copyright (c) Microsoft Corporation. All rights reserved.
# Licensed under the MIT License.
from .retrycontext import RetryContext  # isort: skip
from .tracecontext import TraceContext  # isort: skip
from .context import Context
from .meta import (
    check_deferred_bindings_enabled,
    check_input_type_annotation,
    check_output_type_annotation,
    from_incoming_proto,
    get_deferred_raw_bindings,
    has_implicit_output,
    is_trigger_binding,
    load_binding_registry,
    to_outgoing_param_binding,
    to_outgoing_proto,
)
from .out import Out

__all__ = (
    'Out', 'Context',
    'is_trigger_binding',
    'load_binding_registry',
    'check_input_type_annotation', 'check_output_type_annotation',
    'has_implicit_output',
    'from_incoming_proto', 'to_outgoing_proto', 'TraceContext', 'RetryContext',
    'to_outgoing_param_binding', 'check_deferred_bindings_enabled',
    'get_deferred_raw_bindings'
)
