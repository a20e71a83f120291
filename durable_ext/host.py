"""The composition root of ``python -m durable_ext start``: load the app, build the engine, serve HTTP.

``Host.run`` loads ``function_app.py``, has :class:`~durable_ext.engine.Engine` (the one builder of
provider, client, dispatchers and web app, shared with worker mode) open the task hub, serves the web
app on the configured address, dispatches work, and on SIGINT/SIGTERM stops taking work, lets running
work finish (briefly), and closes the hub. Work that does not finish is not lost: its locks expire and
it runs again on the next start.

An invocation that outlives host.json ``functionTimeout`` is failed durably and then the host
*recycles*: it stops the same way and ``run`` returns ``RECYCLE_EXIT_CODE``, so that the process
ends — the only way to reclaim a runaway thread — and its supervisor starts a fresh one
(``durable_ext.supervisor``, ``dispatcher.timeouts``). ``run`` never waits for user code: the
caller ends the process with ``os._exit`` (threads stuck in user code would block a normal exit),
and a stop that hangs is cut short by a timer thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from datetime import timedelta

from aiohttp import web

from durable_ext import __version__
from durable_ext.auth import AccessPolicy, AuthMode, load_keys, resolve_access
from durable_ext.auth.access import AUTH_SETTING, is_loopback
from durable_ext.config import HostConfig, export_values
from durable_ext.core.clock import Clock
from durable_ext.dispatcher.inline import InlineCalls
from durable_ext.dispatcher.timeouts import RECYCLE_EXIT_CODE, FunctionTimeouts, LoopWatchdog
from durable_ext.engine import Engine
from durable_ext.functions import replay_safe
from durable_ext.functions.invoke import use_client_session
from durable_ext.functions.loader import load_app
from durable_ext.functions.registry import FunctionKind
from durable_ext.log import ContextFilter, flush_console, json_console, logger
from durable_ext.providers.factory import describe_storage
from durable_ext.supervisor import HOST_CPU_ENV, host_slot
from durable_ext.web.links import WEBHOOK_PATH
from durable_ext.web.local_rpc import LocalFirstSession, local_addresses
from durable_ext.web.monitor import MONITOR_ROUTE


class Host:
    def __init__(
        self,
        config: HostConfig,
        *,
        clock: Clock | None = None,
        shutdown_grace: float = 5.0,
        auth_mode: AuthMode | None = None,
        listen_socket: socket.socket | None = None,
    ) -> None:
        """``listen_socket``: an already listening socket to serve on (the supervisor's) instead of
        binding ``config.host:config.port``."""
        self.config = config
        self.listen_socket = listen_socket
        self.exit_code = 0
        self._stop_event: asyncio.Event | None = None
        self.timeouts = FunctionTimeouts(config.function_timeout, on_runaway=self.recycle)
        self.watchdog: LoopWatchdog | None = None
        self._replay_filter: replay_safe.ReplaySafeFilter | None = None
        self._context_filter: ContextFilter | None = None
        self.auth_mode = auth_mode
        self.access_line = ""
        self.clock = clock
        self.shutdown_grace = shutdown_grace
        self.engine: Engine | None = None
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        config = self.config
        export_values(config)
        registry = load_app(config.app_dir)
        # After the app's import, so handlers it configured there are covered too.
        self._replay_filter = replay_safe.install()
        self._context_filter = ContextFilter()
        for handler in logging.getLogger().handlers:
            handler.addFilter(self._context_filter)  # instance_id / function_name on the app's own records
        self.engine = Engine(
            config,
            registry,
            clock=self.clock,
            shutdown_grace=self.shutdown_grace,
            timeouts=self.timeouts,
            inline_episodes=_inline_calls("Orchestrator", config.inline_episode_limit, config),
            inline_activities=_inline_calls("Activity", config.inline_activity_limit, config),
        )
        await self.engine.open()
        access = self._access_policy()
        # Requests still running at shutdown get shutdown_grace seconds, not aiohttp's 60.
        app = self.engine.web_app(access=access)
        self.runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.shutdown_grace,
        )
        await self.runner.setup()
        site: web.BaseSite
        if self.listen_socket is not None:
            # The supervisor owns the listening socket: it stays open (connections queue) across recycles.
            site = web.SockSite(self.runner, self.listen_socket)
        else:
            site = web.TCPSite(self.runner, config.host, config.port, reuse_address=True)
        await site.start()
        # The app's own client calls to this API skip the loopback round trip (web.local_rpc).
        use_client_session(LocalFirstSession(app, local_addresses(a[:2] for a in self.runner.addresses)))
        if config.function_timeout is not None:
            # A last resort with a wide margin: a loaded machine must never look like a blocked loop.
            margin = config.function_timeout * 2 + timedelta(seconds=30)
            self.watchdog = LoopWatchdog(
                asyncio.get_running_loop(),
                margin,
                inline=self.engine.inline_calls(),
                episode_limit=config.function_timeout,
            )
            self.watchdog.start()
        slot, processes = host_slot()
        if slot == 0:  # the same for every process of a supervisor: printed once
            self._print_banner(processes)
        self.engine.start_dispatchers()
        if slot == 0:
            logger.info("Host started. Task hub '%s' is ready.", config.hub_name)
        else:
            logger.info("Host process %d of %d started.", slot + 1, processes)

    def _access_policy(self) -> AccessPolicy:
        """Keys (loaded or generated only when required), Host and Origin rules; sets the startup line."""
        config = self.config
        assert self.engine is not None
        settings = {**config.values, **os.environ}
        mode = self.auth_mode or AuthMode.parse(settings.get(AUTH_SETTING), AUTH_SETTING)
        keys = None
        if mode is AuthMode.ON or (mode is AuthMode.AUTO and not is_loopback(config.host)):
            http_names = [
                info.function_name for info in self.engine.registry.functions if info.kind is FunctionKind.HTTP
            ]
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

    def recycle(self, function_name: str) -> None:
        """A timed-out invocation's thread still runs: end this process (after a normal stop) so that
        its CPU is reclaimed; ``run`` returns ``RECYCLE_EXIT_CODE``."""
        if self.exit_code == RECYCLE_EXIT_CODE:
            return
        logger.warning(
            "Function 'Functions.%s' exceeded functionTimeout and its code is still running: "
            "recycling the host process to stop it.",
            function_name,
        )
        self.exit_code = RECYCLE_EXIT_CODE
        if self._stop_event is not None:
            self._stop_event.set()

    async def stop(self) -> None:
        logger.info("Stopping host...")
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.engine is not None and self.engine.client is not None:
            self.engine.client.close()  # long polls answer now instead of holding the shutdown
        if self.runner is not None:
            await self.runner.cleanup()
        if self.engine is not None:
            await self.engine.close()
        logger.info("Host stopped.")
        # The filters are process-wide: a host run inside another program (a test) must not leave them.
        if self._replay_filter is not None:
            replay_safe.uninstall(self._replay_filter)
        if self._context_filter is not None:
            for handler in logging.getLogger().handlers:
                handler.removeFilter(self._context_filter)

    async def run(self) -> int:
        """Start, serve until SIGINT/SIGTERM (or a recycle), stop; the process exit status.

        Stopping is bounded: past ``shutdown_grace`` + 10 s a timer thread ends the process, whatever
        user code or storage is doing.
        """
        stop = self._stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            deadline = _exit_after(self.shutdown_grace + 10.0, self.exit_code)
            try:
                await self.stop()
            finally:
                deadline.cancel()
        return self.exit_code

    def _print_banner(self, processes: int = 1) -> None:
        config = self.config
        assert self.engine is not None
        lines = [
            f"durable_ext {__version__} — Azure Durable Functions for Python, no .NET host needed",
            f"Task hub: {config.hub_name} ({describe_storage(config)})",
            "",
            "Functions:",
            "",
        ]
        base = f"http://{_display_host(config.host)}:{config.port}"
        prefix = f"/{config.route_prefix}" if config.route_prefix else ""
        for info in self.engine.registry.functions:
            if info.kind is FunctionKind.HTTP:
                methods = ",".join(info.methods) if info.methods else "GET,POST,PUT,DELETE,HEAD,PATCH,OPTIONS"
                lines.append(f"        {info.function_name}: [{methods}] {base}{prefix}/{info.route}")
            else:
                lines.append(f"        {info.function_name}: {info.trigger_type or info.kind.value}")
            lines.append("")
        lines.append(self.access_line)
        lines.append(f"Monitor: {base}{WEBHOOK_PATH}/{MONITOR_ROUTE}")
        if processes > 1:
            where = ", each bound to one CPU" if os.environ.get(HOST_CPU_ENV) else ""
            lines.append(f"Host processes: {processes} on this port{where} (FUNCTIONS_WORKER_PROCESS_COUNT).")
        lines.append("")
        if json_console():
            logger.info("\n".join(lines).strip())  # one JSON record, not lines of text among them
            return
        for line in lines:
            print(line, flush=True)


def _exit_after(seconds: float, code: int) -> threading.Timer:
    """End the process after ``seconds`` unless it has ended by then (a stop that hangs)."""

    def expire() -> None:
        logger.error("Host did not stop within %.0fs; exiting.", seconds)
        flush_console()
        os._exit(code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def _display_host(host: str) -> str:
    return "localhost" if host in ("127.0.0.1", "0.0.0.0", "::1", "::") else host


def _inline_calls(kind: str, limit: timedelta, config: HostConfig) -> InlineCalls | None:
    """Calls of ``kind`` on the loop's thread (``dispatcher.inline``), only where the watchdog
    recycles a process they stall (a functionTimeout), and unless the limit turns them off."""
    if config.function_timeout is None or limit <= timedelta(0):
        return None
    return InlineCalls(kind, limit.total_seconds())
