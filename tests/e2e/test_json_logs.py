"""``DURABLE_EXT_LOG_FORMAT=json``: the real host writes one JSON object per line, and every line
about a function run names the instance and the function."""

from __future__ import annotations

import json


def test_json_log_lines_name_the_instance_and_function(host_factory):
    host = host_factory("samples/function_chaining", env={"DURABLE_EXT_LOG_FORMAT": "json"})
    instance_id = host.start_orchestration("hello_orchestrator")["id"]
    assert host.wait(instance_id)["runtimeStatus"] == "Completed"
    host.stop()
    lines = [line for line in host.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON, the banner included
    assert sum("Functions:" in r["message"] for r in records) == 1  # the banner, once (several processes)
    about = [r for r in records if r.get("instance_id") == instance_id]
    executing = [r for r in about if r["message"].startswith("Executing 'Functions.")]
    assert {r["function_name"] for r in executing} == {"hello_orchestrator", "say_hello"}
    assert all(r["invocation_id"] for r in executing)
    done = [r for r in about if r["message"].startswith(f"Orchestration '{instance_id}'")]
    assert done and done[0]["function_name"] == "hello_orchestrator"
