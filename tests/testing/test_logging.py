"""Replay-safe logging: orchestrator records are emitted once, not once per replaying episode."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

APP = Path(__file__).parent / "apps" / "harness_app"


def chatty_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "harness_app"]


def test_orchestrator_records_are_emitted_once(durable_env, caplog):
    caplog.set_level(logging.INFO)
    env = durable_env(APP)
    instance_id = env.start_new("chatty")
    env.wait_for_completion(instance_id)
    assert chatty_lines(caplog) == ["chatty: starting", "chatty: got Hello Tokyo!", "chatty: done with Hello Seattle!"]
    record = next(r for r in caplog.records if r.name == "harness_app")
    assert (record.instance_id, record.function_name) == (instance_id, "chatty")


def test_the_setting_turns_it_off(durable_env, caplog, tmp_path):
    caplog.set_level(logging.INFO)
    # Without extended sessions every episode replays from the start (with them, as in the host by
    # default, the orchestrator is resumed, not replayed, while its session lives).
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    (app / "host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"durableTask": {"extendedSessionsEnabled": False}}})
    )
    env = durable_env(app, replay_safe_logs=False)
    env.wait_for_completion(env.start_new("chatty"))
    lines = chatty_lines(caplog)
    assert lines.count("chatty: starting") == 3  # one per episode: start, after each activity
    assert lines.count("chatty: got Hello Tokyo!") == 2


def test_records_outside_orchestrations_pass_untouched(durable_env, caplog):
    caplog.set_level(logging.INFO)
    durable_env(APP)
    logging.getLogger("harness_app").warning("plain record")
    record = next(r for r in caplog.records if r.getMessage() == "plain record")
    assert not hasattr(record, "instance_id")
