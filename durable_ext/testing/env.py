"""An app's ``function_app.py`` running in-process on a temporary SQLite hub, with virtual time.

:class:`AsyncTestEnv` builds its parts with the host's own :class:`~durable_ext.engine.Engine` —
config, loader, provider, the orchestration / activity / entity dispatchers (extended sessions
included) and the client — minus the HTTP server and the forever-running loops: a
:class:`~durable_ext.testing.driver.Driver` runs the engine's dispatcher loops' work whenever the
test waits on the environment, and the clock is a
:class:`~durable_ext.testing.clock.VirtualClock` that only moves when a wait skips time.

Reads (status, history, entity state) first let everything runnable run, without moving the
clock, so what a test sees never depends on timing. :class:`TestEnv` is the same API for plain
(synchronous) pytest tests: it owns an event loop and runs each call to completion on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from durable_ext.client import DurableClient
from durable_ext.config import StorageKind, load_config
from durable_ext.core import events as e
from durable_ext.core.messages import InstanceState
from durable_ext.core.status import RuntimeStatus
from durable_ext.engine import Engine
from durable_ext.functions import replay_safe
from durable_ext.functions.invoke import encode_activity_output
from durable_ext.functions.loader import load_app
from durable_ext.functions.stubs import activity_stub, orchestrator_stub
from durable_ext.testing.clock import VirtualClock
from durable_ext.testing.driver import Driver, HarnessError
from durable_ext.web.status_payload import history_events, parse_token

T = TypeVar("T")

# Locks never expire under a test: virtual time only moves when nothing runs, and nothing else
# competes for the hub; a generous timeout keeps a skipped day from expiring a lock regardless.
_LOCK_TIMEOUT = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class OrchestrationStatus:
    """An instance's status with its JSON values decoded (``input``, ``output``, ``custom_status``).

    A Failed instance's ``output`` is the failure message. ``state`` is the raw record.
    """

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime
    last_updated_time: datetime
    state: InstanceState

    @classmethod
    def of(cls, state: InstanceState) -> OrchestrationStatus:
        return cls(
            instance_id=state.instance_id,
            name=state.name,
            runtime_status=state.runtime_status,
            input=_decode_input(state.input),
            output=parse_token(state.output),
            custom_status=parse_token(state.custom_status),
            created_time=state.created_time,
            last_updated_time=state.last_updated_time,
            state=state,
        )


def _decode_input(text: str | None) -> Any:
    """An instance's input: starts through the SDK client store its JSON text as a JSON string."""
    value = parse_token(text)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class AsyncTestEnv:
    """One app on one temporary task hub. Create it with :meth:`start` (an async context manager)."""

    def __init__(self, engine: Engine, clock: VirtualClock, *, settle_timeout: float) -> None:
        assert engine.provider is not None and engine.client is not None and engine.executor is not None
        self.engine = engine
        self.config = engine.config
        self.registry = engine.registry
        self.clock = clock
        self.settle_timeout = settle_timeout
        self.provider = engine.provider
        self.executor = engine.executor
        self.client = engine.client
        # The engine's own dispatcher loops, run by the driver instead of forever.
        self.driver = Driver(engine.loops)
        self._http: Any = None  # InProcessHttp, started on first use

    # -- life cycle ----------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        app_dir: str | Path,
        *,
        start_time: datetime | None = None,
        activities: dict[str, Callable[[Any], Any]] | None = None,
        orchestrators: dict[str, Callable[[Any], Any]] | None = None,
        settle_timeout: float = 60.0,
        replay_safe_logs: bool = True,
    ) -> AsyncIterator[AsyncTestEnv]:
        """Load ``<app_dir>/function_app.py`` on a fresh SQLite hub in a temporary directory.

        ``activities`` / ``orchestrators`` map durable names to stubs (see :meth:`mock_activity`).
        ``start_time`` is the virtual clock's start (default: now). ``settle_timeout`` is the wall
        time a wait allows running user code before it reports the code as blocked. With
        ``replay_safe_logs`` (the default, as in the host) records orchestrator code logs while
        replaying are dropped by the handlers present at start (pytest's ``caplog`` among them). The app's
        host.json and local.settings.json are read as the host reads them, but the hub is always a
        new SQLite file (whatever storage host.json names), deleted on exit with everything in it.
        """
        workdir = Path(tempfile.mkdtemp(prefix="durable-ext-test-"))
        config = load_config(app_dir)
        config = replace(
            config,
            storage=replace(config.storage, kind=StorageKind.SQLITE, sqlite_path=workdir / "taskhub.sqlite"),
            host="127.0.0.1",
            port=0,
            orchestration_lock_timeout=_LOCK_TIMEOUT,
            activity_lock_timeout=_LOCK_TIMEOUT,
        )
        added = [name for name in config.values if name not in os.environ]
        for name in added:  # what `start` does with local.settings.json Values (export_values)
            os.environ[name] = config.values[name]
        env: AsyncTestEnv | None = None
        replay_filter = replay_safe.install(drop_replays=replay_safe_logs)
        try:
            registry = load_app(config.app_dir)
            clock = VirtualClock(start_time)
            # The host's own builder: same provider, client, dispatchers (extended sessions included).
            engine = Engine(config, registry, clock=clock)
            await engine.open()
            env = cls(engine, clock, settle_timeout=settle_timeout)
            for name, stub in (activities or {}).items():
                env.mock_activity(name, stub)
            for name, stub in (orchestrators or {}).items():
                env.mock_orchestrator(name, stub)
            env.driver.start()
            yield env
        finally:
            if env is not None:
                await env._close()
            replay_safe.uninstall(replay_filter)
            for name in added:
                os.environ.pop(name, None)
            shutil.rmtree(workdir, ignore_errors=True)

    async def _close(self) -> None:
        await self.driver.stop()
        if self._http is not None:
            await self._http.close()
        await self.engine.close()

    def _new_client(self) -> DurableClient:
        return DurableClient(
            self.provider,
            self.clock,
            default_version=self.config.default_version,
            orchestrator_names=self.registry.orchestrator_names(),
            entity_names=self.registry.entity_names(),
        )

    # -- stubs ---------------------------------------------------------------------------------

    def mock_activity(self, name: str, stub: Callable[[Any], Any]) -> None:
        """From now on, calls of activity ``name`` run ``stub(input)`` (sync or async) instead.

        The stub gets the decoded input and its return value is the activity's result; an exception
        it raises fails the activity as the real one would (so retries and error handling run).
        """
        self.registry.override(activity_stub(name, stub, self.registry.activity(name)))

    def mock_orchestrator(self, name: str, stub: Callable[[Any], Any]) -> None:
        """From now on, orchestrator ``name`` (e.g. a sub-orchestration) completes with ``stub(input)``."""
        existing = self.registry.orchestrator(name)
        self.registry.override(orchestrator_stub(name, stub, existing))
        if existing is None:
            self.client = self._new_client()  # the client resolves names against the app's orchestrators

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The virtual time: what ``context.current_utc_datetime`` reads in the next episode."""
        return self.clock.now()

    async def wait_for_idle(self) -> None:
        """Run everything that can run now; the clock does not move."""
        await self.driver.settle(self.settle_timeout)

    async def skip_time(self, delta: timedelta) -> None:
        """Move the clock ``delta`` forward, firing each timer that falls due on the way, in order."""
        target = self.clock.now() + delta
        await self.wait_for_idle()
        while True:
            due = await self.provider.next_visible_time(self.clock.now())
            if due is None or due > target:
                break
            self.clock.advance_to(due)
            await self.wait_for_idle()
        self.clock.advance_to(target)
        await self.wait_for_idle()

    # -- orchestrations ------------------------------------------------------------------------

    async def start_new(
        self, name: str, input: Any = None, *, instance_id: str | None = None, start_at: datetime | None = None
    ) -> str:
        """Schedule orchestrator ``name`` with ``input`` (any JSON-serialisable value); returns the instance id.

        Nothing runs until the test waits on the environment (any wait or read).
        """
        self._check_orchestrator(name)
        # As the SDK client's start_new stores it: its df_dumps text, sent as a JSON string (so a
        # string input reaches get_input() intact; see the SDK's DurableOrchestrationClient.start_new).
        text = None if input is None else json.dumps(encode_activity_output(input))
        return await self.client.start_new(name, instance_id, text, start_at=start_at)

    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Deliver external event ``event_name`` with ``data`` (any JSON-serialisable value)."""
        await self.wait_for_idle()
        await self.client.raise_event(instance_id, event_name, encode_activity_output(data))

    async def terminate(self, instance_id: str, reason: str | None = None) -> None:
        await self.wait_for_idle()
        await self.client.terminate(instance_id, reason)

    async def suspend(self, instance_id: str, reason: str | None = None) -> None:
        await self.wait_for_idle()
        await self.client.suspend(instance_id, reason)

    async def resume(self, instance_id: str, reason: str | None = None) -> None:
        await self.wait_for_idle()
        await self.client.resume(instance_id, reason)

    async def get_status(self, instance_id: str) -> OrchestrationStatus:
        """The instance's status once everything runnable has run. KeyError if there is no such instance."""
        await self.wait_for_idle()
        return OrchestrationStatus.of(await self._state(instance_id))

    async def get_history(self, instance_id: str) -> list[e.HistoryEvent]:
        """The current execution's history events (typed records), once everything runnable has run."""
        await self.wait_for_idle()
        return await self.client.get_history(instance_id)

    async def get_history_json(self, instance_id: str) -> list[dict[str, Any]]:
        """The ``historyEvents`` array of the status API (``showHistory=true&showHistoryOutput=true``)."""
        return history_events(await self.get_history(instance_id), show_input=True, show_output=True)

    async def wait_for_completion(
        self, instance_id: str, *, skip_time: bool = True, max_timers: int = 10_000
    ) -> OrchestrationStatus:
        """Run until the instance is Completed, Failed or Terminated; returns its status.

        With ``skip_time`` (the default), whenever nothing is runnable the clock jumps to the next
        timer that is due (a durable timer, a retry's back-off, a delayed start), so waits of hours or
        days pass at once. Raises :class:`HarnessError` when the instance can make no more progress on
        its own — it waits for an external event, or (``skip_time=False``) for a timer — or after
        ``max_timers`` jumps (an eternal orchestration).
        """
        jumps = 0
        while True:
            await self.wait_for_idle()
            state = await self._state(instance_id)
            if state.runtime_status.is_terminal:
                return OrchestrationStatus.of(state)
            due = await self.provider.next_visible_time(self.clock.now())
            if due is None or not skip_time:
                waiting = f"a timer due at {due.isoformat()} (skip_time is off)" if due else "an external event"
                raise HarnessError(
                    f"instance {instance_id!r} ({state.name}) is {state.runtime_status.value} and cannot finish on "
                    f"its own: nothing is runnable and it waits for {waiting}. "
                    f"Custom status: {state.custom_status}"
                )
            jumps += 1
            if jumps > max_timers:
                raise HarnessError(
                    f"instance {instance_id!r} was still {state.runtime_status.value} after {max_timers} timer jumps "
                    f"(virtual time {self.clock.now().isoformat()}); is it an eternal orchestration?"
                )
            self.clock.advance_to(due)

    # -- entities ------------------------------------------------------------------------------

    async def signal_entity(self, name: str, key: str, operation: str, input: Any = None) -> None:
        """Queue operation ``operation`` for entity ``@name@key`` (created on first use)."""
        text = None if input is None else encode_activity_output(input)
        await self.client.signal_entity(name, key, operation, text)

    async def read_entity(self, name: str, key: str) -> Any:
        """The entity's state once everything runnable has run; None if it does not exist."""
        await self.wait_for_idle()
        state = await self.client.read_entity(name, key)
        return None if state is None else parse_token(state.input)

    # -- HTTP functions ------------------------------------------------------------------------

    async def http(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the app's HTTP functions (or the built-in API) in-process; returns an ``HttpReply``.

        ``path`` is the URL path with its query (``/api/orchestrators/monitor``); ``kwargs`` go to
        ``aiohttp.ClientSession.request`` (``json=``, ``data=``, ``headers=``). The request reaches
        the same aiohttp application the host serves, over a Unix socket in the hub's temporary
        directory (no TCP port); the durable client binding talks to it the same way. Work the
        starter schedules runs when the test next waits on the environment.
        """
        if self._http is None:
            from durable_ext.testing.http import InProcessHttp

            assert self.config.storage.sqlite_path is not None
            self._http = InProcessHttp(self, self.config.storage.sqlite_path.parent / "http.sock")
            await self._http.start()
        return await self._http.request(method, path, **kwargs)

    # -- helpers -------------------------------------------------------------------------------

    async def _state(self, instance_id: str) -> InstanceState:
        state = await self.client.get_status(instance_id)
        if state is None:
            raise KeyError(f"no instance with id {instance_id!r}")
        return state

    def _check_orchestrator(self, name: str) -> None:
        if self.registry.orchestrator(name) is None:
            known = ", ".join(self.registry.orchestrator_names()) or "none"
            raise KeyError(f"the app has no orchestrator named {name!r} (it has: {known})")


class TestEnv:
    """:class:`AsyncTestEnv` for synchronous tests: each method runs to completion on a private loop.

    Between calls nothing runs at all, so a test fully controls when work happens.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, env: AsyncTestEnv, loop: asyncio.AbstractEventLoop) -> None:
        self.env = env
        self._loop = loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    @property
    def clock(self) -> VirtualClock:
        return self.env.clock

    def now(self) -> datetime:
        return self.env.now()

    def mock_activity(self, name: str, stub: Callable[[Any], Any]) -> None:
        self.env.mock_activity(name, stub)

    def mock_orchestrator(self, name: str, stub: Callable[[Any], Any]) -> None:
        self.env.mock_orchestrator(name, stub)

    def wait_for_idle(self) -> None:
        self._run(self.env.wait_for_idle())

    def skip_time(self, delta: timedelta) -> None:
        self._run(self.env.skip_time(delta))

    def start_new(
        self, name: str, input: Any = None, *, instance_id: str | None = None, start_at: datetime | None = None
    ) -> str:
        return self._run(self.env.start_new(name, input, instance_id=instance_id, start_at=start_at))

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        self._run(self.env.raise_event(instance_id, event_name, data))

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        self._run(self.env.terminate(instance_id, reason))

    def suspend(self, instance_id: str, reason: str | None = None) -> None:
        self._run(self.env.suspend(instance_id, reason))

    def resume(self, instance_id: str, reason: str | None = None) -> None:
        self._run(self.env.resume(instance_id, reason))

    def get_status(self, instance_id: str) -> OrchestrationStatus:
        return self._run(self.env.get_status(instance_id))

    def get_history(self, instance_id: str) -> list[e.HistoryEvent]:
        return self._run(self.env.get_history(instance_id))

    def get_history_json(self, instance_id: str) -> list[dict[str, Any]]:
        return self._run(self.env.get_history_json(instance_id))

    def wait_for_completion(
        self, instance_id: str, *, skip_time: bool = True, max_timers: int = 10_000
    ) -> OrchestrationStatus:
        return self._run(self.env.wait_for_completion(instance_id, skip_time=skip_time, max_timers=max_timers))

    def signal_entity(self, name: str, key: str, operation: str, input: Any = None) -> None:
        self._run(self.env.signal_entity(name, key, operation, input))

    def read_entity(self, name: str, key: str) -> Any:
        return self._run(self.env.read_entity(name, key))

    def http(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._run(self.env.http(method, path, **kwargs))


@contextlib.contextmanager
def run_app(app_dir: str | Path, **options: Any) -> Iterator[TestEnv]:
    """``with run_app("path/to/app") as env:`` — :meth:`AsyncTestEnv.start` for synchronous code.

    Takes the same keyword options. Must not be called from a running event loop (use
    ``AsyncTestEnv.start`` there).
    """
    loop = asyncio.new_event_loop()
    manager = AsyncTestEnv.start(app_dir, **options)
    try:
        env = loop.run_until_complete(manager.__aenter__())
        try:
            yield TestEnv(env, loop)
        except BaseException as exc:
            if not loop.run_until_complete(manager.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            loop.run_until_complete(manager.__aexit__(None, None, None))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
