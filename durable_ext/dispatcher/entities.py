"""Entity episodes: lock an entity with queued operations, run them as one batch, commit once.

Operations on one entity never run concurrently (the instance lock) and run in arrival order;
the new state, the consumed operations and the responses to callers commit atomically, so a
signal is applied exactly once even across a kill -9.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from datetime import timedelta
from functools import partial

from durable_ext.core.clock import Clock
from durable_ext.core.entities import EntityReport, parse_entity_id, process_entity_batch
from durable_ext.core.messages import OrchestrationWorkItem
from durable_ext.dispatcher.loop import WorkLoop
from durable_ext.errors import LockLostError
from durable_ext.functions.invoke import call_entity
from durable_ext.functions.registry import Registry
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
    ) -> None:
        self.provider = provider
        self.registry = registry
        self.clock = clock
        self.executor = executor
        self.worker_id = worker_id
        self.lock_timeout = lock_timeout
        self.max_batch = max_batch
        self.loop = WorkLoop(
            WorkSignal.ENTITIES, provider, clock, concurrency=concurrency, fetch=self._fetch, handle=self._handle
        )

    async def _fetch(self) -> OrchestrationWorkItem | None:
        return await self.provider.lock_next_orchestration(
            now=self.clock.now(), lock_timeout=self.lock_timeout, worker_id=self.worker_id, entities=True
        )

    async def _handle(self, item: OrchestrationWorkItem) -> None:
        # maxEntityOperationBatchSize: operations past the limit stay queued for the next batch
        # (only the messages left in the work item are consumed by the commit).
        del item.messages[self.max_batch :]
        parsed = parse_entity_id(item.instance_id)
        info = self.registry.entity(parsed[0]) if parsed else None
        invoke = partial(call_entity, info) if info is not None else None
        loop = asyncio.get_running_loop()
        with invocation(info.function_name if info else item.instance_id, instance_id=item.instance_id) as inv:
            report: EntityReport = await loop.run_in_executor(
                self.executor,
                partial(
                    process_entity_batch,
                    item,
                    now=self.clock.now(),
                    invoke=invoke,
                    known_names=self.registry.entity_names(),
                ),
            )
            inv.succeeded = report.error is None
        if report.error:
            logger.error("Entity '%s': %s", item.instance_id, report.error)
        for note in report.notes:
            logger.warning("Entity '%s': %s", item.instance_id, note)
        try:
            await self.provider.complete_orchestration(item, report.commit, now=self.clock.now())
        except LockLostError:
            logger.warning("Entity '%s': lock lost before commit; the batch will run again", item.instance_id)
