"""An in-process web app on 127.0.0.1 with a real SQLite task hub and no dispatcher.

Tests are plain functions that drive coroutines on a per-test event loop (``Harness.run``). With no
dispatcher, instances stay Pending until a test "settles" them by locking and committing an
episode through the provider, as a dispatcher would.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from durable_ext.client import DurableClient
from durable_ext.config import HostConfig, load_config
from durable_ext.core import events as e
from durable_ext.core.clock import SystemClock
from durable_ext.core.messages import InstanceState, OrchestrationCommit
from durable_ext.core.status import RuntimeStatus
from durable_ext.functions.registry import Registry
from durable_ext.web import create_web_app

APP_DIR = Path(__file__).parent / "apps" / "http_app"
HUB = "TestHubName"


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Harness:
    loop: asyncio.AbstractEventLoop
    config: HostConfig
    registry: Registry
    provider: Any  # SqliteProvider
    client: DurableClient
    server: TestServer
    executor: ThreadPoolExecutor
    session: aiohttp.ClientSession | None = None
    closers: list = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    async def http(self, method: str, path: str, **kwargs) -> Reply:
        if self.session is None:
            self.session = aiohttp.ClientSession()
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        async with self.session.request(method, url, allow_redirects=False, **kwargs) as response:
            return Reply(response.status, response.headers, await response.read())

    def call(self, method: str, path: str, **kwargs) -> Reply:
        return self.run(self.http(method, path, **kwargs))

    async def settle(
        self,
        instance_id: str,
        status: RuntimeStatus,
        *,
        output: str | None = None,
        custom_status: str | None = None,
        events: list[e.HistoryEvent] | None = None,
    ) -> None:
        """Run one fake episode for ``instance_id`` (the only instance with work) ending in ``status``."""
        now = datetime.now(UTC)
        item = await self.provider.lock_next_orchestration(
            now=now, lock_timeout=timedelta(minutes=1), worker_id="web-tests"
        )
        assert item is not None and item.instance_id == instance_id, item
        started = next(
            (m.event for _, m in item.messages if isinstance(m.event, e.ExecutionStarted)),
            next((ev for ev in item.history if isinstance(ev, e.ExecutionStarted)), None),
        )
        assert started is not None
        history: list[e.HistoryEvent] = [e.OrchestratorStarted(timestamp=now)]
        if not item.history:
            history.append(started)
        history.extend(events or [])
        if status.is_terminal:
            history.append(e.ExecutionCompleted(timestamp=now, status=status, result=output))
        history.append(e.OrchestratorCompleted(timestamp=now))
        created = item.state.created_time if item.state is not None else now
        state = InstanceState(
            instance_id=instance_id,
            name=started.name,
            runtime_status=status,
            created_time=created,
            last_updated_time=now,
            execution_id=started.execution_id,
            version=started.version,
            input=started.input,
            output=output,
            custom_status=custom_status,
            completed_time=now if status.is_terminal else None,
        )
        await self.provider.complete_orchestration(item, OrchestrationCommit(state=state, new_history=history), now=now)

    async def pending_messages(self, instance_id: str) -> list[e.HistoryEvent]:
        """Lock the instance's inbox, return its events and let the lock go (nothing consumed)."""
        item = await self.provider.lock_next_orchestration(
            now=datetime.now(UTC), lock_timeout=timedelta(minutes=1), worker_id="web-tests"
        )
        assert item is not None and item.instance_id == instance_id
        await self.provider.abandon_orchestration(item)
        return [m.event for _, m in item.messages]

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        await self.server.close()
        await self.provider.close()
        self.executor.shutdown(wait=False)


def start_harness(
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    registry: Registry,
    host_json: dict | None = None,
    *,
    azure_connection: str | None = None,
) -> Harness:
    """With ``azure_connection``, the app's hub (a fresh name) is on Azure Storage there and the
    connection setting ``MyStorage`` names the same account; else SQLite and a second file."""
    app_dir = tmp_path / "app"
    app_dir.mkdir(exist_ok=True)
    values = {"MyStorage": "other.sqlite"}  # the connection the fixture app's "binding" function names
    if azure_connection is not None:
        host_json = host_json or {"version": "2.0"}
        durable = host_json.setdefault("extensions", {}).setdefault("durableTask", {})
        durable["hubName"] = "Web" + uuid.uuid4().hex[:12]
        durable["storageProvider"] = {"type": "AzureStorage"}
        values = {"AzureWebJobsStorage": azure_connection, "MyStorage": azure_connection}
    if host_json is not None:
        (app_dir / "host.json").write_text(json.dumps(host_json))
    (app_dir / "local.settings.json").write_text(json.dumps({"Values": values}))
    config = load_config(app_dir, environ={})

    async def start() -> Harness:
        from durable_ext.providers.factory import create_provider

        provider = create_provider(config)
        await provider.create_hub()
        client = DurableClient(provider, SystemClock(), orchestrator_names=registry.orchestrator_names())
        executor = ThreadPoolExecutor(max_workers=4)
        app = create_web_app(config=config, client=client, registry=registry, executor=executor)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        return Harness(loop, config, registry, provider, client, server, executor)

    return loop.run_until_complete(start())
