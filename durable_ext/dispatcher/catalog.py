"""The app's registry seen through the core's :class:`~durable_ext.core.transitions.Catalog`."""

from __future__ import annotations

from functools import partial

from durable_ext.core.episode import Invoke
from durable_ext.core.kinds import DurableKind
from durable_ext.functions.invoke import call_orchestrator
from durable_ext.functions.registry import FunctionInfo, Registry
from durable_ext.functions.sessions import SdkOrchestrator, supports_sessions


class RegistryCatalog:
    def __init__(self, registry: Registry, default_version: str | None) -> None:
        self.registry = registry
        self.default_version = default_version
        # Asked for every episode: the answer is kept per registration (Registry.override replaces it).
        self._invokes: dict[str, tuple[FunctionInfo, Invoke]] = {}

    def orchestrator(self, name: str) -> Invoke | None:
        info = self.registry.orchestrator(name)
        if info is None:
            return None
        known = self._invokes.get(name)
        if known is not None and known[0] is info:
            return known[1]
        invoke: Invoke
        if supports_sessions(info.user_function):
            invoke = SdkOrchestrator(info.user_function, info.durable_name)  # the same call, and extended sessions
        else:
            invoke = partial(call_orchestrator, info)
        self._invokes[name] = (info, invoke)
        return invoke

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
