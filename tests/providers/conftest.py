"""Fixtures of the provider contract suite: one event loop per test, a store per provider kind.

Every contract test takes ``provider`` (a fresh hub in a fresh store, closed afterwards) and
``run`` (runs a coroutine on the test's loop). Tests that need a second provider on the same store
(another hub, another "process", a reopen) ask ``store.open(hub)``.

To run the suite against another provider, add its kind to ``STORE_KINDS`` and a branch to
``Store.open``; nothing else changes.

``store.clock`` is the clock the store's providers are given. SQLite runs on a virtual clock
standing years away from the wall clock, so a time the provider read from the wall clock instead
of its clock or its caller's ``now`` fails the suite; Azure Storage's queues keep real time, so it
runs on the system clock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from durable_ext.core.clock import Clock, SystemClock
from durable_ext.providers.base import Provider
from durable_ext.testing.clock import VirtualClock

T = TypeVar("T")

STORE_KINDS = ["sqlite", "azure_storage"]
#: Where the SQLite store's virtual clock starts: far from any wall clock the suite runs under.
VIRTUAL_START = datetime(2041, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def new_hub_name() -> str:
    """A hub name valid for every provider (letters and digits, starts with a letter)."""
    return "hub" + uuid.uuid4().hex[:12]


class Store:
    """One backing store (a SQLite file, a storage account …) that providers are opened on."""

    def __init__(
        self, kind: str, tmp_path: Path, loop: asyncio.AbstractEventLoop, connection_string: str | None = None
    ) -> None:
        self.kind = kind
        self.connection_string = connection_string
        self.tmp_path = tmp_path
        self.loop = loop
        self.clock: Clock = VirtualClock(VIRTUAL_START) if kind == "sqlite" else SystemClock()
        self.opened: list[Provider] = []

    def open(self, hub: str | None = None, *, create: bool = True) -> Provider:
        """A new provider object on this store (``create_hub`` already run unless ``create=False``)."""
        hub = hub or new_hub_name()
        if self.kind == "sqlite":
            from durable_ext.providers.sqlite import SqliteProvider

            provider: Provider = SqliteProvider(self.tmp_path / "store" / "taskhub.sqlite", hub, clock=self.clock)
        elif self.kind == "azure_storage":
            from tests.azurite import azure_provider

            assert self.connection_string is not None
            # One worker identity per store: a second provider on a hub is this worker restarted.
            provider = azure_provider(self.connection_string, hub, worker_id=f"store-{id(self):x}")
        else:  # pragma: no cover - a kind listed in STORE_KINDS without a branch here
            raise AssertionError(f"unknown provider kind {self.kind!r}")
        self.opened.append(provider)
        if create:
            self.loop.run_until_complete(provider.create_hub())
        return provider

    def close(self, provider: Provider) -> None:
        self.opened.remove(provider)
        self.loop.run_until_complete(provider.close())

    def close_all(self) -> None:
        while self.opened:
            self.close(self.opened[-1])


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


@pytest.fixture
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Coroutine[Any, Any, T]], T]:
    """``run(coro)`` → its result, on this test's loop (providers may bind to one loop)."""
    return loop.run_until_complete


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, loop: asyncio.AbstractEventLoop) -> Iterator[Store]:
    connection = request.getfixturevalue("azurite").connection_string if request.param == "azure_storage" else None
    store = Store(request.param, tmp_path, loop, connection)
    yield store
    store.close_all()


@pytest.fixture
def provider(store: Store) -> Provider:
    """A fresh provider on a fresh hub; closed by ``store`` at teardown."""
    return store.open()


@pytest.fixture
def hubs(azurite, run):
    """``hubs.open(hub=None, **settings)`` → Azure Storage providers on the session's Azurite,
    closed after the test (for the Azure-only tests beside the contract suite)."""
    from tests.azurite import AzureHubs

    opened = AzureHubs(azurite.connection_string, run)
    yield opened
    opened.close_all()
