"""Instance management over a provider: what the SDK client and the HTTP API call.

Payloads arrive here already as the JSON text the host stores (``ExecutionStarted.Input``,
``EventRaised.Input``, …); the web layer decodes request bodies as the extension does for the SDK's
``DurableOrchestrationClient`` calls (SDK ``models/DurableOrchestrationClient.py``).
Errors are typed so the web layer can map them to status codes: ``NotFoundError`` → 404,
``GoneError`` → 410, ``BadRequestError`` → 400, ``InstanceExistsError`` → 409/500; the web layer
holds no rules of its own about which instance accepts what.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime

from durable_ext import telemetry
from durable_ext.core import events as e
from durable_ext.core.clock import Clock, new_id
from durable_ext.core.entities import OPERATION_EVENT, entity_id
from durable_ext.core.kinds import DurableKind, unknown_function
from durable_ext.core.messages import InstancePage, InstanceQuery, InstanceState, TaskMessage
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire.entities import request_message
from durable_ext.errors import DurableExtError, InstanceExistsError
from durable_ext.providers.base import Provider


class ClientError(DurableExtError):
    """A management request that cannot be done; the message is meant for the caller."""


class BadRequestError(ClientError):
    pass


class NotFoundError(ClientError):
    pass


class GoneError(ClientError):
    """The instance exists but is in a state that no longer accepts the request."""


_BAD_ID_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
MAX_INSTANCE_ID_LENGTH = 256
#: The shortest pause between two status reads of :meth:`DurableClient.wait_for_completion`.
MIN_POLL_INTERVAL = 0.1


def validate_instance_id(instance_id: str) -> None:
    """The extension's instance id rules (EXT ``DurableClient.StartNewAsync``)."""
    if not instance_id:
        raise BadRequestError("Instance ID must not be empty.")
    if instance_id.startswith("@"):
        raise BadRequestError(f"Orchestration instance ID '{instance_id}' must not start with '@'.")
    if _BAD_ID_CHARS.search(instance_id):
        raise BadRequestError(
            f"Orchestration instance ID '{instance_id}' contains invalid characters: "
            "'/', '\\', '#', '?' and control characters are not allowed."
        )
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise BadRequestError(f"Orchestration instance ID must not exceed {MAX_INSTANCE_ID_LENGTH} characters.")


class DurableClient:
    """``orchestrator_names`` resolves a name case-insensitively to its declared spelling;
    ``entity_names`` (the app's own entities) refuses signals to any other name. Either None: a
    client of another app's hub, whose functions it does not know (no checks, as the extension's
    ``ClientReferencesCurrentApp``)."""

    def __init__(
        self,
        provider: Provider,
        clock: Clock,
        *,
        default_version: str | None = None,
        orchestrator_names: list[str] | None = None,
        entity_names: list[str] | None = None,
    ) -> None:
        self.provider = provider
        self.clock = clock
        self.default_version = default_version
        self._orchestrators = {n.lower(): n for n in orchestrator_names} if orchestrator_names is not None else None
        self._entities = {n.lower(): n for n in entity_names} if entity_names is not None else None
        self._closing: asyncio.Event | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        #: The terminal state a commit of this process handed to an instance's waiters (``notify``);
        #: kept while they wait, so none of them reads it back.
        self._finished: dict[str, InstanceState] = {}
        #: Creates an instance already locked for this process's orchestration loop when it can
        #: (True): the engine sets the dispatcher's ``take_new``; None: every new instance is queued.
        self.take_new: Callable[[TaskMessage, datetime], Awaitable[bool]] | None = None

    def close(self) -> None:
        """Shutdown: every :meth:`wait_for_completion` returns at once with the state it has."""
        self._closing_event().set()
        for events in self._waiters.values():
            for event in events:
                event.set()

    def notify(self, instance_id: str, state: InstanceState | None = None) -> None:
        """The instance's state changed in this process: its waiters read it now, not at their next
        poll — or, given the terminal ``state`` just committed, take it without reading.

        Called on the event loop (the orchestration dispatcher's ``on_commit``, for the commits that
        end an instance). Changes made by other processes reach waiters through the provider's
        ``WorkSignal.watching`` when it relays them, else at the next poll.
        """
        waiters = self._waiters.get(instance_id)
        if not waiters:
            return
        if state is not None and state.runtime_status.is_terminal:
            self._finished[instance_id] = state
        for event in waiters:
            event.set()

    def _closing_event(self) -> asyncio.Event:
        if self._closing is None:
            self._closing = asyncio.Event()
        return self._closing

    # -- orchestrations ------------------------------------------------------------------------

    def resolve_orchestrator(self, name: str) -> str:
        if self._orchestrators is None:
            return name
        resolved = self._orchestrators.get(name.lower())
        if resolved is None:
            raise BadRequestError(unknown_function(name, DurableKind.ORCHESTRATOR, self._orchestrators.values()))
        return resolved

    async def start_new(
        self,
        name: str,
        instance_id: str | None = None,
        input_text: str | None = None,
        *,
        version: str | None = None,
        start_at: datetime | None = None,
        trace_carrier: Mapping[str, str] | None = None,
    ) -> str:
        """Create and schedule an instance; returns its id. ``input_text`` is stored as is.

        With tracing on, the ``create_orchestration`` span is a child of the W3C context in
        ``trace_carrier`` (the request's headers) or else of the current span.
        """
        name = self.resolve_orchestrator(name)
        instance_id = instance_id if instance_id is not None else new_id()
        validate_instance_id(instance_id)
        now = self.clock.now()
        started = e.ExecutionStarted(
            timestamp=now,
            name=name,
            instance_id=instance_id,
            execution_id=new_id(),
            input=input_text,
            version=version if version is not None else self.default_version,
            scheduled_start_time=start_at,
        )
        tracing = telemetry.ACTIVE
        if tracing is not None:
            started = tracing.create_orchestration(started, self.provider.hub, trace_carrier)
        message = TaskMessage(instance_id, started, started.execution_id)
        if start_at is None and self.take_new is not None and await self.take_new(message, now):
            return instance_id  # created, and locked for this process's orchestration loop
        await self.provider.create_instance(message, now=now, visible_at=start_at)
        return instance_id

    async def get_status(self, instance_id: str) -> InstanceState | None:
        return await self.provider.get_instance(instance_id)

    async def get_history(self, instance_id: str) -> list[e.HistoryEvent]:
        return await self.provider.get_history(instance_id)

    async def query(self, query: InstanceQuery) -> InstancePage:
        return await self.provider.query_instances(query)

    async def _existing(self, instance_id: str) -> InstanceState:
        state = await self.provider.get_instance(instance_id)
        if state is None:
            raise NotFoundError(f"No instance with ID '{instance_id}' was found.")
        return state

    async def raise_event(
        self,
        instance_id: str,
        event_name: str,
        data_text: str | None,
        *,
        trace_carrier: Mapping[str, str] | None = None,
    ) -> None:
        if not event_name:
            raise BadRequestError("The event name must not be empty.")
        await self.check_event_target(instance_id)
        await self.send_event(instance_id, event_name, data_text, trace_carrier=trace_carrier)

    async def check_event_target(self, instance_id: str) -> None:
        """``NotFoundError`` unless the instance exists, ``GoneError`` if it can no longer receive
        events. The HTTP API checks this before it reads the request body, as the extension does."""
        state = await self._existing(instance_id)
        if state.runtime_status.is_terminal:
            raise GoneError(
                f"Instance '{instance_id}' is {state.runtime_status.value} and can no longer receive events."
            )

    async def send_event(
        self,
        instance_id: str,
        event_name: str,
        data_text: str | None,
        *,
        trace_carrier: Mapping[str, str] | None = None,
    ) -> None:
        """Queue the event without :meth:`check_event_target` (done already by the caller)."""
        if not event_name:
            raise BadRequestError("The event name must not be empty.")
        event = e.EventRaised(timestamp=self.clock.now(), name=event_name, input=data_text)
        await self.provider.send_message(TaskMessage(instance_id, event))
        tracing = telemetry.ACTIVE
        if tracing is not None:
            tracing.raise_event(instance_id, event_name, self.provider.hub, trace_carrier)

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        state = await self._existing(instance_id)
        if state.runtime_status.is_terminal:
            raise GoneError(f"Instance '{instance_id}' is already {state.runtime_status.value}.")
        event = e.ExecutionTerminated(timestamp=self.clock.now(), input=reason)
        await self.provider.send_message(TaskMessage(instance_id, event))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        state = await self._existing(instance_id)
        if state.runtime_status.is_terminal:
            raise GoneError(f"Instance '{instance_id}' is {state.runtime_status.value} and cannot be suspended.")
        event = e.ExecutionSuspended(timestamp=self.clock.now(), reason=reason)
        await self.provider.send_message(TaskMessage(instance_id, event))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        state = await self._existing(instance_id)
        if state.runtime_status.is_terminal:
            raise GoneError(f"Instance '{instance_id}' is {state.runtime_status.value} and cannot be resumed.")
        event = e.ExecutionResumed(timestamp=self.clock.now(), reason=reason)
        await self.provider.send_message(TaskMessage(instance_id, event))

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        state = await self._existing(instance_id)
        if state.runtime_status is not RuntimeStatus.Failed:
            raise GoneError(
                f"Instance '{instance_id}' is {state.runtime_status.value}; only Failed instances can be rewound."
            )
        event = e.ExecutionRewound(timestamp=self.clock.now(), reason=reason)
        await self.provider.send_message(TaskMessage(instance_id, event))

    async def restart(self, instance_id: str, *, new_instance_id: bool = True) -> str:
        """Start the instance's orchestrator again with its original input. ``NotFoundError`` for an
        unknown instance; ``InstanceExistsError`` to restart a running one in place."""
        state = await self._existing(instance_id)
        history = await self.provider.get_history(instance_id)
        started = next((ev for ev in history if isinstance(ev, e.ExecutionStarted)), None)
        input_text = started.input if started else state.input
        version = started.version if started else state.version
        if not new_instance_id and state.runtime_status.is_running:
            raise InstanceExistsError(
                f"Instance '{instance_id}' is {state.runtime_status.value}; it cannot be restarted in place"
            )
        target = None if new_instance_id else instance_id
        return await self.start_new(state.name, target, input_text, version=version)

    async def purge(self, instance_id: str) -> int:
        return await self.provider.purge_instance(instance_id)

    async def purge_by(self, query: InstanceQuery) -> int:
        return await self.provider.purge_instances(replace(query, continuation_token=None))

    async def wait_for_completion(
        self,
        instance_id: str,
        *,
        timeout: float,
        interval: float,
        abandoned: Callable[[], bool] = lambda: False,
        just_created: bool = False,
    ) -> InstanceState | None:
        """Poll until the instance is terminal, ``timeout`` seconds passed, the caller went away
        (``abandoned()`` is true) or the host is closing; returns the last state read.

        The caller bounds ``timeout`` and ``interval``; polls are at least ``MIN_POLL_INTERVAL``
        apart whatever ``interval`` says, so a waiter costs little however it is configured, and
        :meth:`notify` (a commit in this process) wakes a waiter at once. ``just_created``: the
        caller created the instance and has not yielded to the event loop since: the first read,
        which would say Pending, is skipped (a commit here wakes the waiter, as one of another
        process relayed to it does; one not relayed is seen at the first poll).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        closing = self._closing_event()
        with self.provider.work_signal.watching(instance_id) as wake:
            self._waiters.setdefault(instance_id, set()).add(wake)
            try:
                state: InstanceState | None = None
                known = just_created  # Pending: nothing to read yet
                while True:
                    if not known:
                        wake.clear()
                        state = self._finished.get(instance_id) or await self.provider.get_instance(instance_id)
                        if state is None or state.runtime_status.is_terminal or loop.time() >= deadline:
                            return state
                    known = False
                    if closing.is_set() or abandoned():
                        return state if state is not None else await self.provider.get_instance(instance_id)
                    pause = max(MIN_POLL_INTERVAL, min(interval, deadline - loop.time()))
                    try:
                        async with asyncio.timeout(pause):  # (wait_for would wrap the wait in a task)
                            await wake.wait()
                    except TimeoutError:
                        pass
            finally:
                waiters = self._waiters.get(instance_id)
                if waiters is not None:
                    waiters.discard(wake)
                    if not waiters:
                        del self._waiters[instance_id]
                        self._finished.pop(instance_id, None)

    # -- entities ------------------------------------------------------------------------------

    async def signal_entity(
        self,
        name: str,
        key: str,
        operation: str,
        input_text: str | None,
        *,
        trace_carrier: Mapping[str, str] | None = None,
    ) -> None:
        """Queue a one-way operation for ``@name@key`` (the entity is created on first use).

        With tracing on, the request carries the W3C context of ``trace_carrier`` (request headers)
        or of the current span, so the entity's spans join the caller's trace."""
        if not name or key is None:
            raise BadRequestError("An entity id needs a name and a key.")
        if not operation:
            raise BadRequestError("The operation name must not be empty.")
        # EXT DurableClient.SignalEntityAsync: both are ArgumentExceptions (HTTP 400), refused
        # before anything is queued rather than failing (logged) once the entity runs.
        if _BAD_ID_CHARS.search(key):
            raise BadRequestError(
                f"Entity key '{key}' contains invalid characters: "
                "'/', '\\', '#', '?' and control characters are not allowed."
            )
        if self._entities is not None and name.lower() not in self._entities:
            raise BadRequestError(unknown_function(name, DurableKind.ENTITY, self._entities.values()))
        text = request_message(operation, input_text, new_id(), signal=True)
        tracing = telemetry.ACTIVE
        if tracing is not None:
            text = tracing.entity_request(text, trace_carrier, self.clock.now())
        event = e.EventRaised(timestamp=self.clock.now(), name=OPERATION_EVENT, input=text)
        await self.provider.send_message(TaskMessage(entity_id(name, key), event))

    async def read_entity(self, name: str, key: str) -> InstanceState | None:
        """The entity's row if it exists (its state is ``input``), else None."""
        state = await self.provider.get_instance(entity_id(name, key))
        if state is None or state.runtime_status is not RuntimeStatus.Running:
            return None
        return state

    async def query_entities(self, name: str | None, query: InstanceQuery) -> InstancePage:
        """Existing entities (optionally of one name), one page at a time."""
        prefix = f"@{name.lower()}@" if name else "@"
        page = await self.provider.query_instances(
            replace(
                query, instance_id_prefix=prefix, include_entities=True, statuses=frozenset({RuntimeStatus.Running})
            )
        )
        return page
