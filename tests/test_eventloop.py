"""The host's event loop polls briefly before it sleeps (durable_ext.eventloop)."""

from __future__ import annotations

import asyncio
import json
import selectors
import socket

import pytest

from durable_ext.config import DEFAULT_IDLE_SPIN, IDLE_SPIN_SETTING, load_config
from durable_ext.errors import ConfigError
from durable_ext.eventloop import SpinningSelector, new_event_loop


class Ticks:
    """A clock that advances ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.reads * self.step


@pytest.fixture
def recorded(monkeypatch):
    """The timeouts the spinning selector hands to the selector it extends."""
    timeouts: list[float | None] = []
    parent = selectors.DefaultSelector.select

    def select(self, timeout=None):
        if isinstance(self, SpinningSelector):  # (not another thread's selector, if one runs)
            timeouts.append(timeout)
        return parent(self, timeout)

    monkeypatch.setattr(selectors.DefaultSelector, "select", select)
    return timeouts


def test_it_polls_until_the_spin_is_over_then_blocks_for_what_is_left_of_the_timeout(recorded):
    clock = Ticks(step=10e-6)
    with SpinningSelector(spin=50e-6, clock=clock) as selector:
        a, b = socket.socketpair()
        with a, b:
            selector.register(a, selectors.EVENT_READ)
            assert selector.select(timeout=0.001) == []
    # Five polls (read at 10, 20 … 60 µs past the start), then the rest of the millisecond.
    assert recorded[:-1] == [0] * 5
    assert recorded[-1] == pytest.approx(0.001 - 50e-6)


def test_ready_work_is_returned_by_the_first_poll(recorded):
    clock = Ticks(step=10e-6)
    with SpinningSelector(spin=1.0, clock=clock) as selector:
        a, b = socket.socketpair()
        with a, b:
            selector.register(a, selectors.EVENT_READ)
            b.send(b"x")
            ready = selector.select(timeout=None)
    assert [key.fileobj for key, _ in ready] == [a]
    assert recorded == [0] and clock.reads == 1


def test_no_spin_when_the_loop_does_not_block_or_spinning_is_off(recorded):
    clock = Ticks(step=10e-6)
    with SpinningSelector(spin=1.0, clock=clock) as selector:
        assert selector.select(timeout=0) == []
    with SpinningSelector(spin=0, clock=clock) as selector:
        assert selector.select(timeout=0.001) == []
    assert recorded == [0, 0.001] and clock.reads == 0


def test_the_hosts_loop_runs_timers_and_sockets_on_it():
    async def echo() -> bytes:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            await asyncio.sleep(0.01)
            await loop.sock_sendall(a, b"ping")
            return await loop.sock_recv(b, 4)

    with asyncio.Runner(loop_factory=lambda: new_event_loop(100e-6)) as runner:
        assert isinstance(runner.get_loop()._selector, SpinningSelector)
        assert runner.run(echo()) == b"ping"
    loop = new_event_loop(0)
    try:
        assert not isinstance(loop._selector, SpinningSelector)
    finally:
        loop.close()


def test_the_app_setting_sets_the_spin_in_microseconds_or_turns_it_off(tmp_path):
    def spin(value: str | None) -> float:
        return load_config(tmp_path, environ={} if value is None else {IDLE_SPIN_SETTING: value}).idle_spin

    assert spin(None) == DEFAULT_IDLE_SPIN == 100e-6
    assert spin("250") == pytest.approx(250e-6)
    assert spin("0") == 0
    for bad in ("fast", "-1", "1.5", "10001"):
        with pytest.raises(ConfigError, match=IDLE_SPIN_SETTING):
            spin(bad)


def test_on_azure_storage_the_loop_does_not_spin_unless_told_to(tmp_path):
    durable = {"storageProvider": {"type": "AzureStorage"}}
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": durable}}))
    environ = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert load_config(tmp_path, environ=environ).idle_spin == 0
    assert load_config(tmp_path, environ={**environ, IDLE_SPIN_SETTING: "100"}).idle_spin == pytest.approx(100e-6)
