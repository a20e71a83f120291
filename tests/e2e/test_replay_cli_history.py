"""The replayer on a history saved with the CLI (``durable-ext get-history --json``), as a user checks a
code change against histories of a deployed app: the real host ran the instance, the installed command
wrote its history, the test kit replays it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import azure.durable_functions as df

from durable_ext.testing import Replayer

APP = Path(__file__).resolve().parents[1] / "testing" / "apps" / "harness_app"
DURABLE_EXT = Path(sys.executable).with_name("durable-ext")


def greet_renamed_second_call(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("hello", "Tokyo")
    second = yield context.call_activity("goodbye", "Seattle")
    return [first, second]


def cli(*args: str, app_dir: Path) -> str:
    result = subprocess.run(
        [str(DURABLE_EXT), *args, "--app-dir", str(app_dir)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def test_a_history_saved_by_get_history_json_replays_and_reports_a_change(host_factory, tmp_path):
    host = host_factory(APP)
    cli("start-new", "--function-name", "greet", "--id", "g1", app_dir=host.app_dir)
    assert host.wait("g1")["output"] == ["Hello Tokyo!", "Hello Seattle!"]
    saved = tmp_path / "g1.json"
    saved.write_text(cli("get-history", "--id", "g1", "--json", app_dir=host.app_dir))
    assert json.loads(saved.read_text())[0]["EventType"] == "ExecutionStarted"

    same = Replayer.from_app(host.app_dir).replay(saved)
    assert same.ok and same.output == ["Hello Tokyo!", "Hello Seattle!"], same.non_determinism

    changed = Replayer({"greet": greet_renamed_second_call}).replay(saved)
    assert not changed.ok
    assert "instead scheduled an activity task named 'goodbye'" in changed.non_determinism
