"""A host started and stopped in a process leaves the logging handlers as it found them.

``Host.start`` puts the replay-safe filter (which drops logs of replaying orchestrator code) and the
context filter on the root logger's handlers. Left there after ``stop`` they outlived the host: in
a test session the capture handler pytest reuses for every test kept dropping replayed records, so
a later test of replayed logging failed depending on which tests ran before it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from durable_ext.config import load_config
from durable_ext.host import Host
from tests.e2e.hostproc import free_port

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "function_chaining"


def test_stop_takes_off_the_filters_start_put_on_the_handlers(tmp_path):
    app = tmp_path / "app"
    shutil.copytree(SAMPLE, app)
    handler = logging.NullHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        config = load_config(app, port=free_port(), environ={})

        async def start_and_stop() -> list[logging.Filter]:
            host = Host(config)
            await host.start()
            try:
                return list(handler.filters)
            finally:
                await host.stop()

        during = asyncio.run(start_and_stop())
        assert {type(f).__name__ for f in during} == {"ReplaySafeFilter", "ContextFilter"}
        assert handler.filters == []
    finally:
        root.removeHandler(handler)
