"""The composition root: config → provider → registry → dispatchers → web server.

Nothing else in the package wires parts together. ``Host.run`` is what ``python -m durable_ext
start`` does: load the app, open the task hub, serve HTTP, dispatch work, and on SIGINT/SIGTERM
stop taking work, let running work finish (briefly), and close the hub. Work that does not
finish is not lost: its locks expire and it runs again on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from durable_ext import __version__
from durable_ext.auth import AccessPolicy, AuthMode, load_keys, resolve_access
from durable_ext.auth.access import AUTH_SETTING, is_loopback
from durable_ext.client import DurableClient
from durable_ext.config import HostConfig, export_values
from durable_ext.core.clock import Clock, SystemClock
from durable_ext.dispatcher.activities import ActivityDispatcher
from durable_ext.dispatcher.catalog import RegistryCatalog
from durable_ext.dispatcher.entities import EntityDispatcher
from durable_ext.dispatcher.orchestrations import OrchestrationDispatcher
from durable_ext.dispatcher.sessions import SessionCache
from durable_ext.dispatcher.workers import current_worker_id, is_dead_local_worker
from durable_ext.functions import replay_safe, speedups
from durable_ext.functions.invoke import close_client_session
from durable_ext.functions.loader import load_app
from durable_ext.functions.registry import FunctionKind, Registry
from durable_ext.log import logger
from durable_ext.providers.base import Provider
from durable_ext.providers.factory import create_provider, describe_storage
from durable_ext.web.app import create_web_app
from durable_ext.web.links import WEBHOOK_PATH
from durable_ext.web.monitor import MONITOR_ROUTE


class Host:
    def __init__(
        self,
        config: HostConfig,
        *,
        clock: Clock | None = None,
        shutdown_grace: float = 5.0,
        auth_mode: AuthMode | None = None,
    ) -> None:
        self.config = config
        self.auth_mode = auth_mode
        self.access_line = ""
        self.clock = clock or SystemClock()
        self.shutdown_grace = shutdown_grace
        self.worker_id = current_worker_id()
        self.registry: Registry | None = None
        self.provider: Provider | None = None
        self.client: DurableClient | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.runner: web.AppRunner | None = None
        self.loops: list = []
        self.tasks: list[asyncio.Task] = []
        self.started_at = time.monotonic()

    async def start(self) -> None:
        config = self.config
        export_values(config)
        self.registry = load_app(config.app_dir)
        speedups.install()
        # After the app's import, so handlers it configured there are covered too.
        replay_safe.install()
        self.provider = create_provider(config)
        await self.provider.create_hub()
        released = await self.provider.release_abandoned_locks(is_dead_local_worker)
        if released:
            logger.info("Took back %d work item(s) locked by a process that is no longer running.", released)
        workers = (
            config.max_concurrent_activities + config.max_concurrent_orchestrations + config.max_concurrent_entities
        )
        self.executor = ThreadPoolExecutor(max_workers=min(workers, 256), thread_name_prefix="durable-user")
        catalog = RegistryCatalog(self.registry, config.default_version)
        self.client = DurableClient(
            self.provider,
            self.clock,
            default_version=config.default_version,
            orchestrator_names=self.registry.orchestrator_names(),
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
        )
        activities = ActivityDispatcher(
            self.provider,
            self.registry,
            self.clock,
            self.executor,
            concurrency=config.max_concurrent_activities,
            worker_id=self.worker_id,
            lock_timeout=config.activity_lock_timeout,
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
        )
        self.loops = [orchestrations.loop, activities.loop, entities.loop]
        access = self._access_policy()
        app = create_web_app(
            config=config,
            client=self.client,
            registry=self.registry,
            executor=self.executor,
            dispatcher_status=self.status,
            access=access,
        )
        # Requests still running at shutdown get shutdown_grace seconds, not aiohttp's 60.
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=self.shutdown_grace)
        await self.runner.setup()
        site = web.TCPSite(self.runner, config.host, config.port, reuse_address=True)
        await site.start()
        self._print_banner()
        self.tasks = [asyncio.create_task(loop.run(), name=loop.name) for loop in self.loops]
        logger.info("Host started. Task hub '%s' is ready.", config.hub_name)

    def _access_policy(self) -> AccessPolicy:
        """Keys (loaded or generated only when required), Host and Origin rules; sets the startup line."""
        config = self.config
        assert self.registry is not None
        settings = {**config.values, **os.environ}
        mode = self.auth_mode or AuthMode.parse(settings.get(AUTH_SETTING), AUTH_SETTING)
        keys = None
        if mode is AuthMode.ON or (mode is AuthMode.AUTO and not is_loopback(config.host)):
            http_names = [info.function_name for info in self.registry.functions if info.kind is FunctionKind.HTTP]
            keys, where = load_keys(config.app_dir, settings, http_names)
            reason = "requested" if mode is AuthMode.ON else f"bound to {config.host}, beyond loopback"
            self.access_line = (
                f"HTTP keys: required ({reason}) — x-functions-key header or code= query; "
                f"master, function and durabletask_extension system keys in {where}."
            )
        elif mode is AuthMode.OFF:
            self.access_line = f"HTTP keys: NOT checked ({AUTH_SETTING}=off / --auth off), bound to {config.host}."
        else:
            self.access_line = (
                f"HTTP keys: not checked — bound to loopback {config.host}, as func start does "
                f"({AUTH_SETTING}=on or --auth on requires them)."
            )
        return resolve_access(
            bind_host=config.host, settings=settings, cors_origins=config.cors_origins, mode=mode, keys=keys
        )

    def status(self) -> dict:
        """The live part of ``/admin/host/status``: no paths, host name or pid (callers are untrusted)."""
        return {
            "hubName": self.config.hub_name,
            "storageProvider": self.config.storage.kind,
            # A digest of host:pid:start — tells workers apart without naming the machine or process.
            "workerId": hashlib.sha256(self.worker_id.encode("utf-8")).hexdigest()[:16],
            "processUptime": round((time.monotonic() - self.started_at) * 1000),
        }

    async def stop(self) -> None:
        logger.info("Stopping host...")
        if self.client is not None:
            self.client.close()  # long polls answer now instead of holding the shutdown
        for loop in self.loops:
            await loop.stop(self.shutdown_grace)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.runner is not None:
            await self.runner.cleanup()
        await close_client_session()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.provider is not None:
            await self.provider.close()
        logger.info("Host stopped.")

    async def run(self) -> None:
        """Start, serve until SIGINT/SIGTERM, stop."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    def _print_banner(self) -> None:
        config, registry = self.config, self.registry
        assert registry is not None
        lines = [
            f"durable_ext {__version__} — Azure Durable Functions for Python, no .NET host needed",
            f"Task hub: {config.hub_name} ({describe_storage(config)})",
            "",
            "Functions:",
            "",
        ]
        base = f"http://{_display_host(config.host)}:{config.port}"
        prefix = f"/{config.route_prefix}" if config.route_prefix else ""
        for info in registry.functions:
            if info.kind is FunctionKind.HTTP:
                methods = ",".join(info.methods) if info.methods else "GET,POST,PUT,DELETE,HEAD,PATCH,OPTIONS"
                lines.append(f"        {info.function_name}: [{methods}] {base}{prefix}/{info.route}")
            else:
                lines.append(f"        {info.function_name}: {info.trigger_type or info.kind.value}")
            lines.append("")
        lines.append(self.access_line)
        lines.append(f"Monitor: {base}{WEBHOOK_PATH}/{MONITOR_ROUTE}")
        lines.append("")
        for line in lines:
            print(line, flush=True)


def _display_host(host: str) -> str:
    return "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "::") else host
