"""samples/monitor under the test kit: day-long polling intervals run in milliseconds of wall time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from durable_ext.core import events as e
from durable_ext.core.status import RuntimeStatus

APP = Path(__file__).resolve().parents[2] / "samples" / "monitor"
START = datetime(2030, 1, 1, tzinfo=UTC)
DAY = 24 * 3600


def test_monitor_polls_daily_until_the_job_is_done(durable_env):
    env = durable_env(APP, start_time=START)
    instance_id = env.start_new(
        "monitor", {"job_id": "job-9", "polls": 4, "interval_seconds": DAY, "expiry_seconds": 30 * DAY}
    )
    status = env.wait_for_completion(instance_id)
    assert status.runtime_status is RuntimeStatus.Completed
    assert status.output == {"job_id": "job-9", "iterations": 4, "status": "done"}
    assert env.now() - START == timedelta(days=3)  # three waits of 24 h between four checks
    fires = [ev.fire_at for ev in env.get_history(instance_id) if isinstance(ev, e.TimerFired)]
    assert fires == [START + timedelta(days=d) for d in (1, 2, 3)]


def test_monitor_expires_when_the_job_never_finishes(durable_env):
    env = durable_env(APP, start_time=START, activities={"check_status": lambda check: "running"})
    instance_id = env.start_new("monitor", {"interval_seconds": DAY, "expiry_seconds": 2 * DAY})
    status = env.wait_for_completion(instance_id)
    assert status.output == {"job_id": "job-1", "iterations": 2, "status": "expired"}


def test_monitor_custom_status_shows_the_iteration_while_waiting(durable_env):
    env = durable_env(APP, start_time=START, activities={"check_status": lambda check: "running"})
    instance_id = env.start_new("monitor", {"interval_seconds": DAY, "expiry_seconds": 10 * DAY})
    assert env.get_status(instance_id).custom_status == {"iteration": 0}
    env.skip_time(timedelta(days=1))
    assert env.get_status(instance_id).custom_status == {"iteration": 1}
    env.skip_time(timedelta(hours=23))
    status = env.get_status(instance_id)
    assert status.custom_status == {"iteration": 1} and status.runtime_status is RuntimeStatus.Running
