"""The app's registry seen through the core's :class:`~durable_ext.core.transitions.Catalog`."""

from __future__ import annotations

from functools import partial

from durable_ext.core.episode import Invoke
from durable_ext.core.kinds import DurableKind
from durable_ext.functions.invoke import call_orchestrator
from durable_ext.functions.registry import Registry
from durable_ext.functions.sessions import SdkOrchestrator, supports_sessions


class RegistryCatalog:
    def __init__(self, registry: Registry, default_version: str | None) -> None:
        self.registry = registry
        self.default_version = default_version

    def orchestrator(self, name: str) -> Invoke | None:
        info = self.registry.orchestrator(name)
        if info is None:
            return None
        if supports_sessions(info.user_function):
            return SdkOrchestrator(info.user_function)  # the same call, and extended sessions
        return partial(call_orchestrator, info)

    def has_activity(self, name: str) -> bool:
        return self.registry.activity(name) is not None

    def has_entity(self, name: str) -> bool:
        return self.registry.entity(name) is not None

    def names(self, kind: DurableKind) -> list[str]:
        return {
            DurableKind.ACTIVITY: self.registry.activity_names,
            DurableKind.ORCHESTRATOR: self.registry.orchestrator_names,
            DurableKind.ENTITY: self.registry.entity_names,
        }[kind]()
