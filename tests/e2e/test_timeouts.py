"""Issue #10 finding 1: long and runaway user code.

* An episode longer than the orchestration lock still commits (the lock is renewed while it runs).
* host.json ``functionTimeout`` fails a runaway orchestrator / activity / entity batch with the
  Functions host's message, and the host process that ran it is replaced (its CPU is reclaimed)
  while the supervisor keeps serving on the same port.
* SIGTERM ends the host within a bounded time even while user code spins.
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from durable_ext.config import DEFAULT_WORKER_PROCESSES
from tests.e2e.hostproc import HostProcess, children, is_running, wait_until

pytestmark = pytest.mark.e2e

APP = '''
import time

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def spin(context):
    while True:
        pass


@app.orchestration_trigger(context_name="context")
def slow_episode(context):
    time.sleep(float(context.get_input()))
    return "done"


@app.orchestration_trigger(context_name="context")
def calls_spinning_activity(context):
    try:
        yield context.call_activity("spin_activity", None)
    except Exception as exc:
        return str(exc)
    return "not reached"


@app.orchestration_trigger(context_name="context")
def calls_spinning_entity(context):
    try:
        yield context.call_entity(df.EntityId("spinner", "k"), "go")
    except Exception as exc:
        return str(exc)
    return "not reached"


@app.orchestration_trigger(context_name="context")
def quick_then_spin(context):
    yield context.call_activity("hello", "x")
    if context.get_input() == 1:  # (1 spins, 0 does not)
        while True:
            pass
    return "quick"


@app.orchestration_trigger(context_name="context")
def calls_quick_or_spin(context):
    try:
        return (yield context.call_activity("quick_or_spin", context.get_input()))
    except Exception as exc:
        return str(exc)


@app.activity_trigger(input_name="spin")
def quick_or_spin(spin):
    while spin:  # (1 spins, 0 does not)
        pass
    return "quick"


@app.orchestration_trigger(context_name="context")
def say_hello(context):
    return (yield context.call_activity("hello", "again"))


@app.activity_trigger(input_name="x")
def spin_activity(x):
    while True:
        pass


@app.activity_trigger(input_name="name")
def hello(name):
    return f"Hello {name}"


@app.entity_trigger(context_name="context")
def spinner(context):
    while True:
        pass
'''


def write_app(path: Path, host: dict) -> Path:
    path.mkdir(parents=True)
    (path / "function_app.py").write_text(textwrap.dedent(APP))
    (path / "host.json").write_text(json.dumps({"version": "2.0", **host}))
    return path


def start(host_factory, tmp_path: Path, host: dict, env=None) -> HostProcess:
    return host_factory(write_app(tmp_path / "app", host), copy=False, env=env)


def webhook_start(host: HostProcess, name: str, body=None) -> str:
    return host.start_orchestration(name, body, route="runtime/webhooks/durabletask/orchestrators")["id"]


TIMEOUT = {"functionTimeout": "00:00:05"}


def test_runaway_orchestrator_fails_with_the_timeout_and_its_process_is_replaced(host_factory, tmp_path):
    # One host process, so the one that ran the runaway is known.
    host = start(host_factory, tmp_path, TIMEOUT, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "1"})
    (first_child,) = children(host.proc.pid)
    instance = webhook_start(host, "spin")
    status = host.wait(instance, timeout=120)
    assert status["runtimeStatus"] == "Failed"
    assert "Timeout value of 00:00:05 was exceeded by function: Functions.spin" in status["output"]
    # The process whose thread spun is gone; a new one serves the same port.
    wait_until(lambda: first_child not in children(host.proc.pid), 60, "the timed-out host process to end")
    hello = webhook_start(host, "say_hello")
    assert host.wait(hello, timeout=120)["output"] == "Hello again"
    assert host.proc.poll() is None
    assert "recycling the host process" in host.log()


def _runaway_on_the_loops_thread(
    host_factory, tmp_path: Path, setting: str, orchestrator: str, function: str, quick_runs: int
) -> dict:
    """Prove ``orchestrator`` quick (``quick_runs`` instances with input 0, on one host process whose
    ``setting`` is so high that being quick does not depend on the machine's load), then start one
    with input 1, whose ``function`` spins on the loop's thread. Checks that the watchdog recycled
    that process, that the retry's spinning thread got its process recycled too and that a third one
    serves; returns the spinning instance's status."""
    host = start(host_factory, tmp_path, TIMEOUT, env={"FUNCTIONS_WORKER_PROCESS_COUNT": "1", setting: "60000"})
    (first_child,) = children(host.proc.pid)
    for _ in range(quick_runs):
        assert host.wait(webhook_start(host, orchestrator, 0), timeout=120)["output"] == "quick"
    instance = webhook_start(host, orchestrator, 1)
    status = host.wait(instance, timeout=180)
    assert (
        f"exceeded by function 'Functions.{function}' running on the event loop's thread (instance '{instance}')"
        in host.log()
    )
    assert first_child not in children(host.proc.pid)
    # The retry's thread still spins: that process is recycled too; the third one serves.
    wait_until(lambda: host.log().count("Host started.") >= 3, 60, "the second recycle")
    hello = webhook_start(host, "say_hello")
    assert host.wait(hello, timeout=120)["output"] == "Hello again"
    return status


def test_a_runaway_on_the_event_loops_thread_recycles_the_process_and_fails_on_its_retry(host_factory, tmp_path):
    # An orchestrator proven quick runs its episodes on the loop's thread when nothing else runs
    # (dispatcher.inline). Its spin there stalls the process: the watchdog recycles it at
    # functionTimeout, and the fresh process retries the episode on a user thread, where it times
    # out as any runaway does. (Two instances: four quick episodes.)
    status = _runaway_on_the_loops_thread(
        host_factory, tmp_path, "DURABLE_EXT_INLINE_EPISODE_MS", "quick_then_spin", "quick_then_spin", 2
    )
    assert status["runtimeStatus"] == "Failed"
    assert "Timeout value of 00:00:05 was exceeded by function: Functions.quick_then_spin" in status["output"]


def test_a_runaway_activity_on_the_event_loops_thread_recycles_the_process_and_fails_on_its_retry(
    host_factory, tmp_path
):
    # The same for an activity proven quick (three calls): its spin on the loop's thread is ended by a
    # recycle, and its retry, on a user thread in the fresh process, is the task failure the
    # orchestrator catches.
    status = _runaway_on_the_loops_thread(
        host_factory, tmp_path, "DURABLE_EXT_INLINE_ACTIVITY_MS", "calls_quick_or_spin", "quick_or_spin", 3
    )
    assert status["runtimeStatus"] == "Completed"
    assert "Timeout value of 00:00:05 was exceeded by function: Functions.quick_or_spin" in status["output"]


def test_runaway_activity_is_a_task_failure_the_orchestrator_can_catch(host_factory, tmp_path):
    host = start(host_factory, tmp_path, TIMEOUT)
    instance = webhook_start(host, "calls_spinning_activity")
    status = host.wait(instance, timeout=120)
    assert status["runtimeStatus"] == "Completed"
    assert "Timeout value of 00:00:05 was exceeded by function: Functions.spin_activity" in status["output"]


def test_runaway_entity_operation_fails_the_call(host_factory, tmp_path):
    host = start(host_factory, tmp_path, TIMEOUT)
    instance = webhook_start(host, "calls_spinning_entity")
    status = host.wait(instance, timeout=120)
    assert status["runtimeStatus"] == "Completed"
    assert "Timeout value of 00:00:05 was exceeded by function: Functions.spinner" in status["output"]


def test_an_episode_longer_than_the_lock_commits(host_factory, tmp_path):
    # Before: "lock lost before commit" forever, the instance Pending (12 s episode, 8 s lock).
    host = start(host_factory, tmp_path, {}, env={"DURABLE_EXT_ORCHESTRATION_LOCK_SECONDS": "2"})
    instance = webhook_start(host, "slow_episode", 7)
    status = host.wait(instance, timeout=120)
    assert status["runtimeStatus"] == "Completed" and status["output"] == "done"
    assert "lock lost" not in host.log()


def test_sigterm_ends_the_host_while_user_code_spins(host_factory, tmp_path):
    host = start(host_factory, tmp_path, {"functionTimeout": "-1"})
    hosts = wait_until(
        lambda: len(now := children(host.proc.pid)) == DEFAULT_WORKER_PROCESSES and now, 60, "the host processes"
    )
    webhook_start(host, "spin")
    wait_until(lambda: "Executing 'Functions.spin'" in host.log(), 60, "the runaway to start")
    host.proc.send_signal(signal.SIGTERM)
    try:
        code = host.proc.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the host did not exit after SIGTERM:\n{host.log()[-3000:]}")
    assert code == 0
    assert not any(is_running(child) for child in hosts)
