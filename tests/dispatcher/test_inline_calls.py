"""dispatcher.inline: which orchestrator episodes and activity calls run on the event loop's thread,
and the watchdog that recycles a process an inline call stalls.

The placement itself (loop thread when alone, user threads under load) is checked on a real host in
``test_calls_run_on_the_loops_thread_only_when_alone_and_proven_quick``; the runaways end to end in
``tests/e2e/test_timeouts.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from datetime import timedelta

import pytest

from durable_ext.config import ConfigError, load_config
from durable_ext.dispatcher.inline import DEFAULT_ACTIVITY_LIMIT, DEFAULT_EPISODE_LIMIT, PROVEN, InlineCalls
from durable_ext.dispatcher.timeouts import RECYCLE_EXIT_CODE, LoopWatchdog
from durable_ext.host import Host
from durable_ext.log import logger
from tests.e2e.hostproc import free_port, use_azure_storage


@pytest.fixture(autouse=True)
def _environment_restored():
    # An in-process Host exports the app's Values into os.environ (as func start does for user
    # code). Left there, the Azurite test's AzureWebJobsStorage won over later tests' own settings:
    # hosts they started talked to Azurite past their fault proxy, or started instead of refusing
    # a malformed connection string.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _episode(clock: FakeClock, seconds: float, result: str = "report"):
    def run() -> str:
        clock.now += seconds
        return result

    return run


def test_a_function_earns_the_loops_thread_with_quick_episodes_and_a_slow_one_resets_the_count():
    clock = FakeClock()
    inline = InlineCalls("Orchestrator", limit=0.005, clock=clock)
    assert not inline.allows("f")  # unknown: user threads
    for _ in range(PROVEN - 1):
        assert inline.timed("f", _episode(clock, 0.001)) == "report"
    assert not inline.allows("f")
    inline.timed("f", _episode(clock, 0.006))  # one slow episode on a thread: start over
    for _ in range(PROVEN - 1):
        inline.timed("f", _episode(clock, 0.001))
    assert not inline.allows("f")
    inline.timed("f", _episode(clock, 0.005))  # at the limit still counts as quick
    assert inline.allows("f")
    assert not inline.allows("g")  # per function


def test_a_slow_episode_on_the_loops_thread_sends_its_function_back_to_threads_for_good(caplog):
    clock = FakeClock()
    inline = InlineCalls("Orchestrator", limit=0.005, clock=clock)
    for _ in range(PROVEN):
        inline.timed("f", _episode(clock, 0.001))
    assert inline.run("f", "i1", _episode(clock, 0.002)) == "report"
    assert inline.allows("f")
    with caplog.at_level(logging.INFO, logger=logger.name):
        inline.run("f", "i1", _episode(clock, 0.050))
    assert not inline.allows("f")
    assert "Orchestrator 'f' took 50 ms on the event loop's thread; it runs on worker threads" in caplog.text
    for _ in range(2 * PROVEN):
        inline.timed("f", _episode(clock, 0.001))
    assert not inline.allows("f")  # for good, in this process


def test_the_process_is_quiet_while_each_loop_has_at_most_one_item_in_flight():
    inline = InlineCalls("Orchestrator")
    assert inline.quiet()
    orchestrations, activities = [1], [1]
    inline.alongside(lambda: orchestrations[0])
    inline.alongside(lambda: activities[0])
    assert inline.quiet()  # the episode itself, and the activity whose result it takes
    activities[0] = 2  # a fan-out's activities: episodes stay on threads
    assert not inline.quiet()
    activities[0], orchestrations[0] = 1, 2  # another instance's episode too
    assert not inline.quiet()


def test_a_call_on_the_loops_thread_does_not_see_the_running_loop():
    # As on a user thread: a plain def that runs a coroutine of its own with asyncio.run still can.
    inline = InlineCalls("Activity")

    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    def activity() -> int:
        with pytest.raises(RuntimeError):
            asyncio.get_running_loop()
        return asyncio.run(double(21))

    async def scenario() -> tuple[int, asyncio.AbstractEventLoop]:
        result = inline.run("activity", "i1", activity)
        return result, asyncio.get_running_loop()  # back for the loop's own code

    result, loop = asyncio.run(scenario())
    assert result == 42 and loop is not None


def test_the_running_inline_episode_is_known_until_it_ends_even_when_it_raises():
    clock = FakeClock()
    inline = InlineCalls("Orchestrator", clock=clock)
    seen = []

    def episode() -> None:
        clock.now += 2.0
        seen.append((inline.running, inline.overdue(1.0), inline.overdue(3.0)))
        raise ValueError("our bug, not the user's")

    with pytest.raises(ValueError):
        inline.run("f", "i1", episode)
    (running, overdue, not_yet), = seen
    assert (running.function_name, running.instance_id) == ("f", "i1")
    assert overdue == running and not_yet is None
    assert inline.running is None and inline.overdue(0) is None


def test_the_watchdog_recycles_the_process_when_an_inline_episode_outlives_the_function_timeout(caplog):
    inline = InlineCalls("Orchestrator")
    exited = threading.Event()
    codes: list[int] = []

    def exit(code: int) -> None:
        codes.append(code)
        exited.set()

    async def scenario() -> None:
        # The loop's own stall limit is an hour: only the episode's limit can fire.
        watchdog = LoopWatchdog(
            asyncio.get_running_loop(),
            timedelta(hours=1),
            exit,
            inline=[InlineCalls("Activity"), inline],
            episode_limit=timedelta(seconds=0.2),
        )
        watchdog.start()
        try:
            # A runaway on the loop's thread: it blocks the loop until the watchdog acts (bounded).
            inline.run("spinner", "i1", lambda: exited.wait(30))
        finally:
            watchdog.stop()

    with caplog.at_level(logging.ERROR, logger=logger.name):
        asyncio.run(scenario())
    assert codes == [RECYCLE_EXIT_CODE]
    assert "exceeded by function 'Functions.spinner' running on the event loop's thread (instance 'i1')" in caplog.text


@pytest.mark.parametrize(
    ("setting", "field", "default"),
    [
        ("DURABLE_EXT_INLINE_EPISODE_MS", "inline_episode_limit", DEFAULT_EPISODE_LIMIT),
        ("DURABLE_EXT_INLINE_ACTIVITY_MS", "inline_activity_limit", DEFAULT_ACTIVITY_LIMIT),
    ],
)
def test_the_app_settings_set_the_limits_or_turn_inline_calls_off(tmp_path, setting, field, default):
    def limit(value: str | None) -> timedelta:
        environ = {} if value is None else {setting: value}
        return getattr(load_config(tmp_path, environ=environ), field)

    assert limit(None) == timedelta(seconds=default)
    assert limit("20") == timedelta(milliseconds=20)
    assert limit("0") == timedelta(0)
    for bad in ("fast", "-1", "nan", "1e9"):
        with pytest.raises(ConfigError, match=setting):
            limit(bad)


APP = '''
import threading

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def where(context):
    first = threading.current_thread().name
    activity = yield context.call_activity("hello", "x")
    return [first, threading.current_thread().name, activity]


@app.activity_trigger(input_name="name")
def hello(name):
    return threading.current_thread().name
'''

#: Limits no call reaches on a loaded machine: being quick is then certain, placement is not timing.
NEVER_SLOW = {"DURABLE_EXT_INLINE_EPISODE_MS": "60000", "DURABLE_EXT_INLINE_ACTIVITY_MS": "60000"}


def test_calls_run_on_the_loops_thread_only_when_alone_and_proven_quick(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(APP)
    (app / "host.json").write_text(json.dumps({"version": "2.0"}))
    config = load_config(app, port=free_port(), environ=NEVER_SLOW)

    async def scenario() -> tuple[list, list]:
        host = Host(config)
        await host.start()
        try:
            client = host.engine.client

            async def run(instance_id: str) -> list[str]:
                await client.start_new("where", instance_id)
                state = await client.wait_for_completion(instance_id, timeout=60, interval=1)
                assert state.runtime_status.value == "Completed", state
                return json.loads(state.output)

            one_by_one = [await run(f"seq-{i}") for i in range(PROVEN + 2)]
            together = await asyncio.gather(*(run(f"par-{i}") for i in range(8)))
            return one_by_one, together
        finally:
            await host.stop()

    one_by_one, together = asyncio.run(scenario())
    loop_thread = threading.current_thread().name  # asyncio.run's loop runs here
    episodes = [name for first, second, _ in one_by_one for name in (first, second)]
    # Each instance's two episodes ran replaying little (a first episode, a session continued); the
    # first PROVEN of them on user threads, every one after on the loop's thread.
    assert all(name != loop_thread for name in episodes[:PROVEN]), one_by_one
    assert all(name == loop_thread for name in episodes[PROVEN:]), one_by_one
    # The same for the activity's calls, one per instance.
    activities = [activity for _, _, activity in one_by_one]
    assert all(name != loop_thread for name in activities[:PROVEN]), one_by_one
    assert all(name == loop_thread for name in activities[PROVEN:]), one_by_one
    # Started together (all eight in flight from one iteration of the loop on), the first episodes
    # were not alone — but for the very first one's, decided before the others started: they ran
    # on user threads.
    assert sum(first == loop_thread for first, _, _ in together) <= 1, together


def _sequential_call_threads(config, instances: int = PROVEN + 2) -> list[list[str]]:
    """Run ``where`` ``instances`` times, one after the other, on a host in this process; each
    instance's episodes' and activity's thread names. Asserts the host runs no calls inline at all."""

    async def scenario() -> list:
        host = Host(config)
        await host.start()
        try:
            assert host.engine.inline_calls() == []
            client = host.engine.client
            outputs = []
            for i in range(instances):
                await client.start_new("where", f"i{i}")
                state = await client.wait_for_completion(f"i{i}", timeout=60, interval=0.1)
                assert state.runtime_status.value == "Completed", state
                outputs.append(json.loads(state.output))
            return outputs
        finally:
            await host.stop()

    return asyncio.run(scenario())


def _app(tmp_path, host: dict):
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text(APP)
    (app / "host.json").write_text(json.dumps({"version": "2.0", **host}))
    return app


def test_on_azure_storage_every_call_runs_on_a_user_thread(tmp_path, azurite):
    # Each step waits for a queue there: 0.1 ms saved buys nothing, and with two workers it cost.
    app = _app(tmp_path, {})
    use_azure_storage(app, azurite.connection_string)
    config = load_config(app, port=free_port(), environ=NEVER_SLOW)
    outputs = _sequential_call_threads(config)
    assert all(name != threading.current_thread().name for names in outputs for name in names), outputs


def test_without_a_function_timeout_every_call_runs_on_a_user_thread(tmp_path):
    app = _app(tmp_path, {"functionTimeout": "-1"})
    config = load_config(app, port=free_port(), environ=NEVER_SLOW)
    outputs = _sequential_call_threads(config)
    assert all(name != threading.current_thread().name for names in outputs for name in names), outputs
