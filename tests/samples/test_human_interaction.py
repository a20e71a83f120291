"""samples/human_interaction under the test kit: approvals, 72-hour time-outs, the app's own routes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.core.status import RuntimeStatus
from durable_ext.testing import HarnessError

APP = Path(__file__).resolve().parents[2] / "samples" / "human_interaction"
START = datetime(2030, 1, 1, tzinfo=UTC)
HOURS_72 = 72 * 3600


def test_approval_before_the_timeout(durable_env):
    env = durable_env(APP, start_time=START)
    instance_id = env.start_new("approval_workflow", {"timeout_seconds": HOURS_72})
    env.skip_time(timedelta(hours=71))
    assert env.get_status(instance_id).runtime_status is RuntimeStatus.Running
    env.raise_event(instance_id, "Approval", True)
    status = env.wait_for_completion(instance_id)
    assert status.output == {"approved": True}
    assert env.now() - START == timedelta(hours=71)


def test_no_approval_times_out_after_72_hours(durable_env):
    env = durable_env(APP, start_time=START)
    instance_id = env.start_new("approval_workflow", {"timeout_seconds": HOURS_72})
    status = env.wait_for_completion(instance_id)
    assert status.output == "timed out"
    assert env.now() - START == timedelta(hours=72)


def test_without_time_skipping_the_wait_reports_the_pending_timer(durable_env):
    env = durable_env(APP, start_time=START)
    instance_id = env.start_new("approval_workflow", {"timeout_seconds": HOURS_72})
    with pytest.raises(HarnessError, match="timer due at 2030-01-04T00:00:00"):
        env.wait_for_completion(instance_id, skip_time=False)


def test_approval_through_the_apps_http_routes(durable_env):
    env = durable_env(APP, start_time=START)
    started = env.http("POST", "/api/orchestrators/approval_workflow", json={"timeout_seconds": HOURS_72})
    assert started.status == 202
    instance_id = started.json()["id"]
    env.wait_for_idle()
    approved = env.http("POST", f"/api/approve/{instance_id}")
    assert approved.status == 202
    # The SDK client JSON-encodes event data a second time, so the route delivers the string "true".
    assert env.wait_for_completion(instance_id).output == {"approved": "true"}
    assert env.now() == START
