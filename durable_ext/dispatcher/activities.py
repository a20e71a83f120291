"""Activity work items: run the function, send TaskCompleted / TaskFailed, delete the task.

Activities are at least once: a task whose worker dies is locked again after its lock expires.
While one runs, its lock is renewed so a long activity is not handed to a second worker.
Failures are shaped as the Durable Functions host shapes them (EXT ``Listener/TaskActivityShim.cs``,
``OutOfProcExceptionHelpers.cs``) so that
user code parsing ``e.args[0].split("\\n")[1]`` keeps working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from functools import partial
from typing import TypeVar, cast

from durable_ext import telemetry
from durable_ext.core import events as e
from durable_ext.core.clock import Clock
from durable_ext.core.kinds import DurableKind, unknown_function
from durable_ext.core.messages import ActivityWorkItem, OrchestrationWorkItem, TaskMessage
from durable_ext.core.shim import HTTP_ACTIVITY_NAME
from durable_ext.core.wire.activities import activity_failure_details
from durable_ext.dispatcher.handoff import Receiver
from durable_ext.dispatcher.http_activity import HttpTransport, call_http
from durable_ext.dispatcher.inline import InlineCalls
from durable_ext.dispatcher.locks import hand_back, renewing
from durable_ext.dispatcher.loop import WorkLoop
from durable_ext.dispatcher.timeouts import FunctionTimeouts
from durable_ext.errors import FunctionTimeoutError, LockLostError, ProviderError
from durable_ext.functions.invoke import ActivityFailure, SyncCall, run_activity
from durable_ext.functions.registry import FunctionInfo, Registry
from durable_ext.functions.threads import run_in
from durable_ext.log import invocation, logger
from durable_ext.providers.base import HandsOffWork, Provider, WorkSignal

T = TypeVar("T")


class ActivityDispatcher:
    def __init__(
        self,
        provider: Provider,
        registry: Registry,
        clock: Clock,
        executor: Executor,
        *,
        concurrency: int,
        worker_id: str,
        http: HttpTransport,
        lock_timeout: timedelta = timedelta(minutes=5),
        timeouts: FunctionTimeouts | None = None,
        inline: InlineCalls | None = None,
    ) -> None:
        """``http`` sends the requests of the built-in ``call_http`` activity. ``inline`` decides
        which calls of plain ``def`` activities run on the loop's thread (``dispatcher.inline``; its
        ``alongside`` loops include this one's); None: every one runs on ``executor``."""
        self.provider = provider
        self.registry = registry
        self.clock = clock
        self.executor = executor
        self.worker_id = worker_id
        self.http = http
        self.lock_timeout = lock_timeout
        self.timeouts = timeouts or FunctionTimeouts(None)
        self.inline = inline
        #: Where woken instances go without a fetch (send_orchestrations_to); None: the queue only.
        self.orchestrations: Receiver[OrchestrationWorkItem] | None = None
        self.continue_inline: Callable[[ActivityWorkItem, TaskMessage], Awaitable[bool]] | None = None
        self.loop = WorkLoop(
            WorkSignal.ACTIVITIES,
            provider,
            clock,
            concurrency=concurrency,
            fetch=self._fetch,
            handle=self._handle,
            fetch_many=self._fetch_many if hasattr(provider, "lock_next_activities") else None,
        )

    async def _fetch(self) -> ActivityWorkItem | None:
        return await self.provider.lock_next_activity(
            now=self.clock.now(), lock_timeout=self.lock_timeout, worker_id=self.worker_id
        )

    async def _fetch_many(self, limit: int) -> list[ActivityWorkItem]:
        # A provider that leases several tasks in one call (SQLite) fills several free slots at once.
        return await self.provider.lock_next_activities(  # type: ignore[attr-defined]
            now=self.clock.now(), lock_timeout=self.lock_timeout, worker_id=self.worker_id, limit=limit
        )

    async def _handle(self, item: ActivityWorkItem) -> None:
        scheduled = item.message.event
        assert isinstance(scheduled, e.TaskScheduled)
        what = f"Activity '{scheduled.name}' of '{item.message.instance_id}'"
        timed_out: list[str] = []
        tracing = telemetry.ACTIVE
        renewed = partial(renewing, partial(self._renew, item), self.lock_timeout, what)
        if tracing is not None and scheduled.parent_trace_context is not None:
            with tracing.activity(scheduled, item.message.instance_id, self.provider.hub) as traced:
                result = await self._execute(scheduled, item, timed_out, renewed)
                traced(result)
        else:
            result = await self._execute(scheduled, item, timed_out, renewed)
        response = TaskMessage(item.message.instance_id, result, item.message.execution_id)
        try:
            await self._complete(item, response)
        except LockLostError:
            logger.warning("%s: lock lost; the result was dropped", what)
        except ProviderError as exc:
            await hand_back(partial(self.provider.abandon_activity, item), what, exc)
        if timed_out:
            self.timeouts.runaway(timed_out[0])

    async def _complete(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        """Commit the result: with the episode it wakes, when the orchestration dispatcher can run
        it at once (``continue_inline``); else with its instance locked and handed over (when the
        orchestration loop has room); else queued for whichever worker fetches it."""
        if self.continue_inline is not None and await self.continue_inline(item, response):
            return
        lease = self.orchestrations.lease(1) if self.orchestrations is not None else None
        if lease is None:
            await self.provider.complete_activity(item, response)
            return
        handed: list[OrchestrationWorkItem] = []
        try:
            provider = cast(HandsOffWork, self.provider)  # (send_orchestrations_to made sure it is)
            locked = await provider.complete_activity_locking(item, response, now=self.clock.now(), lease=lease)
            handed = [locked] if locked is not None else []
        finally:
            self.orchestrations.accept(handed, lease)  # type: ignore[union-attr]

    def receiver(self) -> Receiver[ActivityWorkItem]:
        """Where an episode's commit sends the activity tasks it leases for this dispatcher."""
        return Receiver(self.loop, self.worker_id, self.lock_timeout)

    def send_orchestrations_to(
        self,
        receiver: Receiver[OrchestrationWorkItem],
        continue_inline: Callable[[ActivityWorkItem, TaskMessage], Awaitable[bool]] | None = None,
    ) -> None:
        """Lock the instance a result wakes for ``receiver`` in the result's commit, when it has
        room and the provider can (``HandsOffWork``); first, try ``continue_inline`` (the
        orchestration dispatcher's: the woken episode committed with the result, at once)."""
        if isinstance(self.provider, HandsOffWork):
            self.orchestrations = receiver
            self.continue_inline = continue_inline

    async def _execute(
        self,
        scheduled: e.TaskScheduled,
        item: ActivityWorkItem,
        timed_out: list[str],
        renewed: Callable[[], AbstractAsyncContextManager[None]],
    ) -> e.HistoryEvent:
        """Run the activity; ``renewed()`` keeps the task's lock while a call that lets the loop run
        (on a thread, or an HTTP call) is in progress."""
        task_id = scheduled.event_id
        if scheduled.name == HTTP_ACTIVITY_NAME:
            async with renewed():
                return await call_http(scheduled, self.clock.now, self.http)
        info = self.registry.activity(scheduled.name)
        if info is None:
            # The extension's text for a missing activity has this leading space and no list of names.
            message = " " + unknown_function(scheduled.name, DurableKind.ACTIVITY)
            return self._failed(scheduled, message, "")
        instance_id = item.message.instance_id
        with invocation(info.function_name, reason="(null)", instance_id=instance_id) as inv:
            try:
                inline = self._inline_for(info)
                if inline is not None:
                    # No asyncio timeout and no lock renewal: neither could fire while the call holds
                    # the loop (a runaway is the watchdog's job).
                    output = await run_activity(
                        info,
                        scheduled.input,
                        invocation_id=inv.id,
                        call=partial(_on_loop, inline, info.function_name, instance_id),
                    )
                else:
                    async with renewed():
                        output = await self.timeouts.run(
                            info.function_name,
                            inv.id,
                            run_activity(info, scheduled.input, invocation_id=inv.id, call=self._on_thread(info)),
                        )
            except FunctionTimeoutError as exc:
                inv.succeeded = False
                timed_out.append(info.function_name)
                return self._failed(scheduled, " " + str(exc), "")
            except ActivityFailure as failure:
                inv.succeeded = False
                logger.info(
                    "Activity '%s' of '%s' failed: %s", info.function_name, item.message.instance_id, failure.message
                )
                return self._failed(scheduled, " " + failure.message, failure.details)
        return e.TaskCompleted(timestamp=self.clock.now(), task_scheduled_id=task_id, result=output)

    def _inline_for(self, info: FunctionInfo) -> InlineCalls | None:
        """``self.inline`` if this call runs on the loop's thread (``dispatcher.inline``): a plain
        ``def`` proven quick, nothing else in flight; else None."""
        inline = self.inline
        if inline is not None and not info.is_async and inline.allows(info.function_name) and inline.quiet():
            return inline
        return None

    def _on_thread(self, info: FunctionInfo) -> SyncCall:
        inline, executor = self.inline, self.executor
        if inline is None:
            return partial(run_in, executor)
        return lambda call: run_in(executor, inline.timed, info.function_name, call)

    def _failed(self, scheduled: e.TaskScheduled, message: str, stack: str) -> e.TaskFailed:
        # "failed: " + " ValueError: boom" gives the host's double space (EXT ``TaskActivityShim``).
        return e.TaskFailed(
            timestamp=self.clock.now(),
            task_scheduled_id=scheduled.event_id,
            reason=f"Activity function '{scheduled.name}' failed: {message}",
            details=activity_failure_details(message, stack),
        )

    async def _renew(self, item: ActivityWorkItem) -> None:
        await self.provider.renew_activity_lock(item, now=self.clock.now(), lock_timeout=self.lock_timeout)


async def _on_loop(inline: InlineCalls, function_name: str, instance_id: str, call: Callable[[], T]) -> T:
    return inline.run(function_name, instance_id, call)
