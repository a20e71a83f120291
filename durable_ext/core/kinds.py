"""The kinds of durable function the core schedules, and the one message for a name that is none."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class DurableKind(Enum):
    """A function an orchestration can call (``activityTrigger``, ``orchestrationTrigger``,
    ``entityTrigger``); the value is the word the extension's messages use."""

    ORCHESTRATOR = "orchestrator"
    ACTIVITY = "activity"
    ENTITY = "entity"


def unknown_function(name: str, kind: DurableKind, known: Iterable[str] | None = None) -> str:
    """The extension's message for a call to ``name`` that is not a ``kind`` function; with
    ``known``, followed by the names that are (as the extension's ``Additional info``)."""
    text = f"The function '{name}' doesn't exist, is disabled, or is not an {kind.value} function."
    if known is None:
        return text
    listed = ", ".join(f"'{n}'" for n in known)
    return f"{text} Additional info: The following are the known {kind.value} functions: {listed}."
