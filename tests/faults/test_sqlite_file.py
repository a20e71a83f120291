"""Issue #10 findings 6 and 7 on the SQLite task hub: a hub file deleted or replaced under a running
host, a disk that fills up, a WAL that must not grow for good.

Before: after the file was removed the host kept answering 202 and completing instances into the
unlinked inode, all of it gone at the next start; an activity result that could not be written
stayed locked for the 300 s activity lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import textwrap
import time
from pathlib import Path

import pytest

from durable_ext.config import load_config
from durable_ext.errors import StorageUnavailableError
from durable_ext.host import Host
from durable_ext.log import logger
from durable_ext.providers import sqlite_schema
from durable_ext.providers.sqlite import SqliteProvider
from tests.e2e.hostproc import HostProcess, free_port

#: Starts host processes (and a host in this process): not part of the fast subset.
pytestmark = pytest.mark.e2e

APP = '''
import os

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def say_hello(context):
    return (yield context.call_activity("hello", "hub"))


@app.activity_trigger(input_name="name")
def hello(name):
    return f"Hello {name}"


@app.orchestration_trigger(context_name="context")
def big(context):
    result = yield context.call_activity("big_result", None)
    return len(result)


@app.activity_trigger(input_name="x")
def big_result(x):
    with open(os.environ["RUNS_FILE"], "a") as runs:
        runs.write("run\\n")
    return "x" * 2_000_000
'''

ROUTE = "runtime/webhooks/durabletask/orchestrators"


def write_app(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "function_app.py").write_text(textwrap.dedent(APP))
    (path / "host.json").write_text(json.dumps({"version": "2.0"}))
    return path


def hub_file(app: Path) -> Path:
    return app / ".durable_ext" / "taskhub.sqlite"


def start_and_complete(host: HostProcess) -> str:
    instance = host.start_orchestration("say_hello", route=ROUTE)["id"]
    assert host.wait(instance)["output"] == "Hello hub"
    return instance


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_hub_file_deleted_or_replaced_under_the_host_is_refused_with_503(host_factory, tmp_path, how):
    app = write_app(tmp_path / "app")
    host = host_factory(app, copy=False)
    start_and_complete(host)
    path = hub_file(app)
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        other = tmp_path / "other.sqlite"
        shutil.copy(path, other)
        os.replace(other, path)

    r = host.session.post(host.url(f"{ROUTE}/say_hello"), timeout=30)
    assert r.status_code == 503, (r.status_code, r.text)
    assert str(path) not in r.text  # no internals in the response
    log = host.log()
    assert f"The SQLite task hub file {path} was {how if how == 'deleted' else 'replaced by another file'}" in log
    # Nothing is acknowledged afterwards, status reads included; the host itself stays up.
    assert host.session.post(host.url(f"{ROUTE}/say_hello"), timeout=30).status_code == 503
    assert host.session.get(host.url("runtime/webhooks/durabletask/instances"), timeout=30).status_code == 503
    assert host.proc.poll() is None


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_an_activity_result_that_cannot_be_written_is_handed_back_and_retried_soon(tmp_path, monkeypatch):
    app = write_app(tmp_path / "app")
    runs = tmp_path / "runs.txt"
    monkeypatch.setenv("RUNS_FILE", str(runs))
    config = load_config(app, port=free_port(), environ={})
    lines = _Lines()
    logger.addHandler(lines)

    async def scenario() -> None:
        host = Host(config)
        await host.start()
        try:
            assert host.engine is not None and host.engine.client is not None
            provider = host.engine.provider
            assert isinstance(provider, SqliteProvider)
            pages = await provider._run(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
            # A real SQLITE_FULL: the 2 MB result needs ~500 more pages than the file may grow by.
            await provider._run(lambda conn: conn.execute(f"PRAGMA max_page_count={pages + 100}"))
            instance = await host.engine.client.start_new("big")
            await _until(lambda: runs.exists() and len(runs.read_text().splitlines()) >= 2, 90)
            assert any("could not be written" in line and "database or disk is full" in line for line in lines.lines), lines.lines
            # Space comes back: the next retry commits (well within the 300 s activity lock).
            await provider._run(lambda conn: conn.execute("PRAGMA max_page_count=1073741823"))
            state = await _until_done(host, instance, 90)
            assert state.runtime_status.value == "Completed" and json.loads(state.output) == 2_000_000
        finally:
            await host.stop()

    try:
        asyncio.run(scenario())
    finally:
        logger.removeHandler(lines)


async def _until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


async def _until_done(host: Host, instance: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        assert host.engine is not None and host.engine.provider is not None
        state = await host.engine.provider.get_instance(instance)
        if state is not None and state.runtime_status.is_terminal:
            return state
        assert time.monotonic() < deadline, f"{instance} not done: {state}"
        await asyncio.sleep(0.1)


def test_the_wal_shrinks_back_after_a_burst_of_large_payloads(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_schema, "WAL_SIZE_LIMIT", 1024 * 1024)
    path = tmp_path / "hub.sqlite"
    wal = Path(f"{path}-wal")

    async def scenario() -> tuple[int, int]:
        from durable_ext.core import events as e
        from durable_ext.core.clock import SystemClock
        from durable_ext.core.messages import TaskMessage

        provider = SqliteProvider(path, "Hub")
        await provider.create_hub()
        now = SystemClock().now()

        async def create(i: int, size: int) -> None:
            payload = json.dumps("y" * size)
            started = e.ExecutionStarted(timestamp=now, name="o", instance_id=f"i{i}", execution_id=f"x{i}", input=payload)
            await provider.create_instance(TaskMessage(f"i{i}", started, f"x{i}"), now=now)

        try:
            await create(0, 12_000_000)  # one burst: the WAL grows past 12 MB
            high = wal.stat().st_size
            for i in range(1, 40):  # ~8 MB of ordinary writes: automatic checkpoints reset the WAL
                await create(i, 200_000)
            return high, wal.stat().st_size  # measured while the connection is open
        finally:
            await provider.close()

    high, after = asyncio.run(scenario())
    assert high > 12_000_000
    # Without journal_size_limit the file keeps its high-water size for as long as the host runs.
    assert after < 8_000_000, (high, after)


def test_a_connection_opened_later_does_not_recreate_a_deleted_hub_file(tmp_path):
    # The provider's second connection (its thread's, for large reads) opens on first use: after the
    # file was deleted it created a new, empty hub at the path, and the provider took that for its own.
    path = tmp_path / ".durable_ext" / "taskhub.sqlite"

    async def scenario() -> None:
        provider = SqliteProvider(path, "hubA")
        try:
            await provider.create_hub()  # the event loop's connection: this file is the provider's
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            with pytest.raises(StorageUnavailableError, match="was deleted"):
                await provider.get_history("any")  # a large read: the thread's connection
            assert not path.exists()
        finally:
            await provider.close()

    asyncio.run(scenario())
