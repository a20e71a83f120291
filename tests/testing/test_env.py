"""The test kit on the samples and a fixture app: every pattern runs in-process, timers skipped."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus
from durable_ext.testing import HarnessError, run_app

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
APP = Path(__file__).parent / "apps" / "harness_app"
START = datetime(2030, 1, 1, tzinfo=UTC)


def test_function_chaining_runs_three_activities_in_order(durable_env):
    env = durable_env(SAMPLES / "function_chaining")
    instance_id = env.start_new("hello_orchestrator")
    status = env.wait_for_completion(instance_id)
    assert status.runtime_status is RuntimeStatus.Completed
    assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    scheduled = [ev.input for ev in env.get_history(instance_id) if isinstance(ev, e.TaskScheduled)]
    assert scheduled == ['"Tokyo"', '"Seattle"', '"London"']


def test_fan_out_fan_in_sums_every_branch(durable_env):
    env = durable_env(SAMPLES / "fan_out_fan_in")
    instance_id = env.start_new("fan_out_fan_in", 20)
    status = env.wait_for_completion(instance_id)
    assert status.runtime_status is RuntimeStatus.Completed
    assert status.output == sum(i * i for i in range(20))
    history = env.get_history(instance_id)
    squares = [ev for ev in history if isinstance(ev, e.TaskScheduled) and ev.name == "square"]
    assert len(squares) == 20


def test_async_http_api_through_the_apps_own_http_starter(durable_env):
    env = durable_env(SAMPLES / "async_http_api", activities={"slow_work": lambda job: f"stubbed: {job}"})
    reply = env.http("POST", "/api/orchestrators/slow_orchestrator", json="report")
    assert reply.status == 202
    links = reply.json()
    status = env.wait_for_completion(links["id"])
    assert status.output == "stubbed: report"
    polled = env.http("GET", links["statusQueryGetUri"])
    assert polled.status == 200
    assert polled.json()["runtimeStatus"] == "Completed"
    assert polled.json()["output"] == "stubbed: report"


def test_async_http_api_wait_route_answers_with_the_output(durable_env):
    env = durable_env(SAMPLES / "async_http_api", activities={"slow_work": lambda job: f"stubbed: {job}"})
    reply = env.http("POST", "/api/orchestrators_wait/slow_orchestrator?timeout=60000", json="now")
    assert reply.status == 200
    assert reply.text == "stubbed: now"  # the SDK answers a string output as plain text


def test_sub_orchestrations_and_a_stubbed_child(durable_env):
    env = durable_env(SAMPLES / "sub_orchestrations")
    real = env.wait_for_completion(env.start_new("parent", instance_id="p1"))
    assert real.output == ["Hello Seattle!", "Hello London!"]
    assert env.get_status("p1-child2").output == "Hello London!"

    env.mock_orchestrator("child", lambda city: f"stub child for {city}")
    stubbed = env.wait_for_completion(env.start_new("parent"))
    assert stubbed.output == ["stub child for Seattle", "stub child for London"]


def test_retries_with_hourly_backoff_take_virtual_hours_not_real_ones(durable_env):
    calls: list[str] = []

    def unreliable(payload):
        calls.append(payload)
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)} failed")
        return f"ok after {len(calls)} attempts"

    env = durable_env(APP, start_time=START, activities={"unreliable": unreliable})
    began = time.monotonic()
    status = env.wait_for_completion(env.start_new("hourly_retry", "job"))
    assert status.output == "ok after 3 attempts"
    assert calls == ["job", "job", "job"]
    assert env.now() - START == timedelta(hours=2)  # two back-offs of one hour each, skipped
    assert time.monotonic() - began < 30  # nowhere near two hours (a loose bound: a loaded CI box)


def test_retries_give_up_after_the_last_attempt(durable_env):
    def unreliable(payload):
        raise ConnectionError("still down")

    env = durable_env(APP, start_time=START, activities={"unreliable": unreliable})
    status = env.wait_for_completion(env.start_new("hourly_retry", "job"))
    assert "still down" in status.output["gave_up"]
    assert env.now() - START == timedelta(hours=3)
    timers = [ev for ev in env.get_history(status.instance_id) if isinstance(ev, e.TimerCreated)]
    # The SDK also schedules a timer due at once after the last failed attempt (RetryAbleTask).
    assert sorted({t.fire_at - START for t in timers}) == [timedelta(hours=h) for h in (1, 2, 3)]


def test_current_utc_datetime_follows_the_virtual_clock(durable_env):
    env = durable_env(APP, start_time=START)
    status = env.wait_for_completion(env.start_new("clock_reader"))
    seen = [datetime.fromisoformat(text) for text in status.output]
    assert seen == [START, START + timedelta(hours=1), START + timedelta(hours=1, days=30)]


def test_skip_time_fires_timers_that_fall_due_and_no_others(durable_env):
    env = durable_env(APP, start_time=START)
    instance_id = env.start_new("clock_reader")
    env.skip_time(timedelta(hours=2))
    assert env.get_status(instance_id).runtime_status is RuntimeStatus.Running
    fired = [ev for ev in env.get_history(instance_id) if isinstance(ev, e.TimerFired)]
    assert len(fired) == 1
    env.skip_time(timedelta(days=30))
    assert env.get_status(instance_id).runtime_status is RuntimeStatus.Completed


def test_waiting_for_an_event_that_never_comes_is_reported_not_hung(durable_env):
    env = durable_env(APP)
    instance_id = env.start_new("wait_for_go")
    with pytest.raises(HarnessError, match="external event"):
        env.wait_for_completion(instance_id)
    env.raise_event(instance_id, "go", {"n": 1})
    assert env.wait_for_completion(instance_id).output == {"got": {"n": 1}}


def test_a_failing_stub_fails_the_activity_as_real_code_would(durable_env):
    def debit(order):
        raise ValueError("card declined")

    env = durable_env(SAMPLES / "function_chaining", activities={"debit": debit})
    status = env.wait_for_completion(env.start_new("chaining_with_compensation", {"amount": 10}))
    assert status.output["status"] == "compensated"
    assert "card declined" in status.output["error"]


def test_entities_signal_read_and_call_from_an_orchestration(durable_env):
    env = durable_env(SAMPLES / "counter_entity")
    env.signal_entity("Counter", "k1", "add", 5)
    env.signal_entity("Counter", "k1", "add", 7)
    assert env.read_entity("Counter", "k1") == 12
    assert env.read_entity("Counter", "missing") is None

    status = env.wait_for_completion(env.start_new("counter_orchestrator", {"key": "k2"}))
    assert status.output["after_add"] == 15
    assert status.output["value"] == 15
    assert "explode" in status.output["error"]


def test_environments_are_isolated_and_cleaned_up():
    with run_app(APP) as env:
        instance_id = env.start_new("wait_for_go", instance_id="same-id")
        hub_file = env.env.config.storage.sqlite_path
        assert hub_file is not None and hub_file.exists()
    assert not hub_file.exists()
    with run_app(APP) as env, pytest.raises(KeyError):
        env.get_status(instance_id)


def test_unknown_orchestrator_names_the_known_ones(durable_env):
    env = durable_env(APP)
    with pytest.raises(KeyError, match="clock_reader"):
        env.start_new("nope")
