"""Fixtures of the web tests: a per-test event loop, the fixture app's registry, a running harness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from azure.durable_functions.models.utils import http_utils

from durable_ext.functions.loader import load_app
from durable_ext.functions.registry import Registry
from tests.web.harness import APP_DIR, Harness, start_harness


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    # The SDK keeps one module-global aiohttp session; it must not outlive its loop.
    loop.run_until_complete(http_utils._close_session())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_app(APP_DIR)


@pytest.fixture
def harness(loop, tmp_path, registry) -> Iterator[Harness]:
    h = start_harness(loop, tmp_path, registry)
    yield h
    loop.run_until_complete(h.close())
