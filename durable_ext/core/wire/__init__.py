"""Every JSON shape the runtime shares with DurableTask storage and the Durable Functions SDK.

The rest of the package works with the typed records of :mod:`core.events`, :mod:`core.actions`
and :mod:`core.messages`; the dicts live here, one module per conversation:

- :mod:`.history` — history events as DTFx stores them, and the date-time formats;
- :mod:`.orchestration` — the orchestration-trigger JSON sent to the SDK, the ``OrchestratorState``
  it returns, its action lists;
- :mod:`.entities` — entity request and response messages, the SDK's entity batch and its result;
- :mod:`.activities` — a failed activity's details, the built-in HTTP activity's request and response.

The history names are re-exported here (``from durable_ext.core.wire import dumps_event``).
"""

from durable_ext.core.wire.history import (
    DATETIME_FORMAT,
    dumps_event,
    event_from_dict,
    event_to_dict,
    format_datetime,
    format_datetime_seconds,
    loads_event,
    parse_datetime,
)

__all__ = [
    "DATETIME_FORMAT",
    "dumps_event",
    "event_from_dict",
    "event_to_dict",
    "format_datetime",
    "format_datetime_seconds",
    "loads_event",
    "parse_datetime",
]
