"""Entity episodes: lock an entity with queued operations, run them as one batch, commit once.

Operations on one entity never run concurrently (the instance lock) and run in arrival order;
the new state, the consumed operations and the responses to callers commit atomically, so a
signal is applied exactly once even across a kill -9.
"""

from __future__ import annotations

from concurrent.futures import Executor
from datetime import timedelta
from functools import partial

from durable_ext import telemetry
from durable_ext.core.clock import Clock
from durable_ext.core.entities import EntityReport, parse_entity_id, process_entity_batch
from durable_ext.core.messages import OrchestrationWorkItem
from durable_ext.dispatcher.locks import hand_back, renewing
from durable_ext.dispatcher.loop import WorkLoop
from durable_ext.dispatcher.timeouts import FunctionTimeouts
from durable_ext.errors import FunctionTimeoutError, LockLostError, ProviderError
from durable_ext.functions.invoke import call_entity
from durable_ext.functions.registry import Registry
from durable_ext.functions.threads import run_in
from durable_ext.log import invocation, logger
from durable_ext.providers.base import Provider, WorkSignal


class EntityDispatcher:
    def __init__(
        self,
        provider: Provider,
        registry: Registry,
        clock: Clock,
        executor: Executor,
        *,
        concurrency: int,
        worker_id: str,
        lock_timeout: timedelta = timedelta(minutes=2),
        max_batch: int = 5000,
        timeouts: FunctionTimeouts | None = None,
    ) -> None:
        self.provider = provider
        self.registry = registry
        self.clock = clock
        self.executor = executor
        self.worker_id = worker_id
        self.lock_timeout = lock_timeout
        self.max_batch = max_batch
        self.timeouts = timeouts or FunctionTimeouts(None)
        self.loop = WorkLoop(
            WorkSignal.ENTITIES, provider, clock, concurrency=concurrency, fetch=self._fetch, handle=self._handle
        )

    async def _fetch(self) -> OrchestrationWorkItem | None:
        return await self.provider.lock_next_orchestration(
            now=self.clock.now(), lock_timeout=self.lock_timeout, worker_id=self.worker_id, entities=True
        )

    async def _handle(self, item: OrchestrationWorkItem) -> None:
        renew = partial(self._renew, item)
        started = self.clock.now()
        async with renewing(renew, self.lock_timeout, f"Entity '{item.instance_id}'"):
            report, timed_out = await self._batch(item)
        committed = await self._commit(item, report)
        tracing = telemetry.ACTIVE
        if tracing is not None and committed:
            tracing.entity_batch(item, report.commit, self.provider.hub, started, self.clock.now())
        if timed_out:
            self.timeouts.runaway(timed_out)

    async def _renew(self, item: OrchestrationWorkItem) -> None:
        await self.provider.renew_orchestration_lock(item, now=self.clock.now(), lock_timeout=self.lock_timeout)

    async def _batch(self, item: OrchestrationWorkItem) -> tuple[EntityReport, str | None]:
        """Run the batch; with it, the function name if it outlived functionTimeout."""
        # maxEntityOperationBatchSize: operations past the limit stay queued for the next batch
        # (only the messages left in the work item are consumed by the commit).
        del item.messages[self.max_batch :]
        parsed = parse_entity_id(item.instance_id)
        info = self.registry.entity(parsed[0]) if parsed else None
        invoke = partial(call_entity, info) if info is not None else None
        function_name = info.function_name if info else item.instance_id
        timed_out = None
        batch = partial(process_entity_batch, item, now=self.clock.now(), known_names=self.registry.entity_names())
        with invocation(function_name, instance_id=item.instance_id) as inv:
            try:
                report: EntityReport = await self.timeouts.run(
                    function_name, inv.id, run_in(self.executor, partial(batch, invoke=invoke))
                )
            except FunctionTimeoutError as exc:
                # Every operation of the batch fails with the timeout; the state stays as it was.
                report = batch(invoke=partial(_time_out, str(exc)))
                timed_out = function_name
            inv.succeeded = report.error is None
        if report.error:
            logger.error("Entity '%s': %s", item.instance_id, report.error)
        for note in report.notes:
            logger.warning("Entity '%s': %s", item.instance_id, note)
        return report, timed_out

    async def _commit(self, item: OrchestrationWorkItem, report: EntityReport) -> bool:
        """True if the batch's results were committed."""
        try:
            await self.provider.complete_orchestration(item, report.commit, now=self.clock.now())
        except LockLostError:
            logger.warning("Entity '%s': lock lost before commit; the batch will run again", item.instance_id)
        except ProviderError as exc:
            await hand_back(lambda: self.provider.abandon_orchestration(item), f"Entity '{item.instance_id}'", exc)
        else:
            return True
        return False


def _time_out(message: str, batch_json: str) -> str:
    raise TimeoutError(message)
