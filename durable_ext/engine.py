"""The one builder of the runtime's parts: config + registry → provider → client → dispatchers → web app.

Both composition roots use it and nothing else wires these parts: ``host.Host`` (``python -m durable_ext
start``, its own aiohttp server) and ``worker`` (inside the Azure Functions Python worker, a loopback
server for the webhooks). They differ only in what surrounds the engine: where the registry comes from,
which address the web app listens on, and which event loop it all runs on.

Lifecycle: ``await open()`` (hub created, locks of dead local workers taken back, dispatchers built),
``web_app(...)`` any number of times, ``start_dispatchers()``, then ``await close()`` — which lets
running work finish for ``shutdown_grace`` seconds. Work that does not finish is not lost: its locks
are handed back (or, if that fails, expire) and it runs again on the next worker that takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from durable_ext import telemetry
from durable_ext.auth.access import OPEN, AccessPolicy
from durable_ext.client import DurableClient
from durable_ext.config import HostConfig
from durable_ext.core.clock import Clock, SystemClock
from durable_ext.dispatcher.activities import ActivityDispatcher
from durable_ext.dispatcher.catalog import RegistryCatalog
from durable_ext.dispatcher.entities import EntityDispatcher
from durable_ext.dispatcher.inline import InlineCalls
from durable_ext.dispatcher.orchestrations import OrchestrationDispatcher
from durable_ext.dispatcher.sessions import SessionCache
from durable_ext.dispatcher.timeouts import FunctionTimeouts
from durable_ext.dispatcher.workers import current_worker_id, is_dead_local_worker
from durable_ext.functions import speedups
from durable_ext.functions.invoke import close_client_session
from durable_ext.functions.registry import Registry
from durable_ext.functions.threads import UserThreads
from durable_ext.log import logger
from durable_ext.providers.base import HandsOffWork, Provider
from durable_ext.providers.factory import open_provider
from durable_ext.web.app import create_web_app
from durable_ext.web.http_client import AiohttpTransport
from durable_ext.web.links import WEBHOOK_PATH, LinkSettings


class Engine:
    """The parts that run one app against one task hub; see the module docstring for the lifecycle."""

    def __init__(
        self,
        config: HostConfig,
        registry: Registry,
        *,
        clock: Clock | None = None,
        shutdown_grace: float = 5.0,
        timeouts: FunctionTimeouts | None = None,
        owns_client_session: bool = True,
        inline_episodes: InlineCalls | None = None,
        inline_activities: InlineCalls | None = None,
    ) -> None:
        """``timeouts``: host.json functionTimeout and what to do with a runaway (``durable_ext start``
        recycles its process); None: no limit — in worker mode the Functions host owns the process.
        ``inline_episodes`` / ``inline_activities``: which episodes / activity calls may run on the
        loop's thread (``dispatcher.inline``: only a host whose watchdog recycles a stalled process);
        None: none do."""
        self.config = config
        self.timeouts = timeouts or FunctionTimeouts(None)
        self.inline_episodes = inline_episodes
        self.inline_activities = inline_activities
        self.registry = registry
        self.clock = clock or SystemClock()
        self.shutdown_grace = shutdown_grace
        # The SDK client's aiohttp session is one per process, bound to the loop of the app's functions:
        # ours under ``durable_ext start``, the worker's in worker mode (closing it from here would hang).
        self.owns_client_session = owns_client_session
        self.worker_id = current_worker_id()
        self.provider: Provider | None = None
        self.client: DurableClient | None = None
        self.executor: UserThreads | None = None
        self.loops: list = []
        self.tasks: list[asyncio.Task] = []
        self.started_at = time.monotonic()
        self.tracing_owned = False

    async def open(self) -> None:
        """Open the task hub and build the dispatchers (they start with :meth:`start_dispatchers`)."""
        config = self.config
        speedups.install()
        # The one check of the process: tracing on or off stays as decided here (telemetry.ACTIVE).
        self.tracing_owned = telemetry.configure_from_env(service_name=config.app_dir.name or "durable_ext")
        self.provider = await open_provider(config, clock=self.clock)
        released = await self.provider.release_abandoned_locks(is_dead_local_worker)
        if released:
            logger.info("Took back %d work item(s) locked by a process that is no longer running.", released)
        workers = (
            config.max_concurrent_activities + config.max_concurrent_orchestrations + config.max_concurrent_entities
        )
        self.executor = UserThreads(max_workers=min(workers, 256), thread_name_prefix="durable-user")
        catalog = RegistryCatalog(self.registry, config.default_version)
        if not isinstance(self.provider, HandsOffWork):
            # Calls on the loop's thread save a tenth of a millisecond: worth it where work is handed
            # over in-process (SQLite), not where every step waits tens of milliseconds for a queue —
            # there, with two workers, inline episodes made 100 sequential activities 10–40 % slower.
            self.inline_episodes = self.inline_activities = None
        self.client = DurableClient(
            self.provider,
            self.clock,
            default_version=config.default_version,
            orchestrator_names=self.registry.orchestrator_names(),
            entity_names=self.registry.entity_names(),
        )
        orchestrations = OrchestrationDispatcher(
            self.provider,
            catalog,
            self.clock,
            self.executor,
            concurrency=config.max_concurrent_orchestrations,
            worker_id=self.worker_id,
            lock_timeout=config.orchestration_lock_timeout,
            on_commit=self.client.notify,
            sessions=SessionCache.from_settings(config.sessions),
            timeouts=self.timeouts,
            inline=self.inline_episodes,
        )
        activities = ActivityDispatcher(
            self.provider,
            self.registry,
            self.clock,
            self.executor,
            concurrency=config.max_concurrent_activities,
            worker_id=self.worker_id,
            http=AiohttpTransport(),
            lock_timeout=config.activity_lock_timeout,
            timeouts=self.timeouts,
            inline=self.inline_activities,
        )
        entities = EntityDispatcher(
            self.provider,
            self.registry,
            self.clock,
            self.executor,
            concurrency=config.max_concurrent_entities,
            worker_id=self.worker_id,
            max_batch=config.max_entity_batch_size,
            lock_timeout=config.orchestration_lock_timeout,
            timeouts=self.timeouts,
        )
        # A chain of activities runs without a queue poll per step where the hub can (dispatcher.handoff).
        orchestrations.send_activities_to(activities.receiver())
        activities.send_orchestrations_to(orchestrations.receiver(), orchestrations.continue_inline)
        self.client.take_new = orchestrations.take_new
        self.loops = [orchestrations.loop, activities.loop, entities.loop]
        for inline in self.inline_calls():
            # More than one item in flight on any loop (a fan-out, concurrent instances) keeps calls
            # on threads: there they overlap the loop's work.
            for loop in self.loops:
                inline.alongside(loop.in_flight)

    def inline_calls(self) -> list[InlineCalls]:
        """The kinds of calls that may run on the loop's thread (``dispatcher.inline``)."""
        return [inline for inline in (self.inline_episodes, self.inline_activities) if inline is not None]

    def web_app(
        self,
        *,
        serve_functions: bool = True,
        links: LinkSettings | None = None,
        middlewares: Sequence[Any] = (),
        access: AccessPolicy = OPEN,
    ) -> web.Application:
        """The HTTP surface over this engine's client; ``open()`` must have run."""
        assert self.client is not None, "Engine.open() first"
        return create_web_app(
            config=self.config,
            client=self.client,
            registry=self.registry,
            executor=self.executor,
            dispatcher_status=self.status,
            serve_functions=serve_functions,
            links=links or LinkSettings(WEBHOOK_PATH),
            middlewares=middlewares,
            access=access,
        )

    def start_dispatchers(self) -> None:
        """Start the orchestration, activity and entity loops on the running event loop."""
        self.tasks = [asyncio.create_task(loop.run(), name=loop.name) for loop in self.loops]

    def status(self) -> dict:
        """The live part of ``/admin/host/status``: no paths, host name or pid (callers are untrusted)."""
        return {
            "hubName": self.config.hub_name,
            "storageProvider": self.config.storage.kind,
            # A digest of host:pid:start — tells workers apart without naming the machine or process.
            "workerId": hashlib.sha256(self.worker_id.encode("utf-8")).hexdigest()[:16],
            "processUptime": round((time.monotonic() - self.started_at) * 1000),
        }

    async def close(self) -> None:
        """Stop taking work, let running work finish (``shutdown_grace``), close the hub."""
        if self.client is not None:
            self.client.close()  # long polls answer now instead of holding the shutdown
        for loop in self.loops:
            await loop.stop(self.shutdown_grace)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.owns_client_session:
            await close_client_session()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.provider is not None:
            await self._hand_back_locks(self.provider)
            await self.provider.close()
        if self.tracing_owned:
            telemetry.disable()  # flushes what the exporters still hold

    async def _hand_back_locks(self, provider: Provider) -> None:
        """Unlock what this process still holds (work cancelled after the grace period), so another
        worker takes it now instead of when its locks expire — this process may live on (a worker
        whose host went away). Leased providers hand back in their own ``close()``."""
        try:
            released = await provider.release_abandoned_locks(lambda owner: owner == self.worker_id)
        except Exception as exc:
            logger.warning("Handing back this worker's locks at shutdown failed (they expire instead): %r", exc)
            return
        if released:
            logger.info("Handed back %d unfinished work item(s) at shutdown.", released)
