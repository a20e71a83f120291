"""Test kit for Durable Functions apps: run ``function_app.py`` in-process, skip time, stub, replay.

* :func:`run_app` / :class:`AsyncTestEnv` — the app on a temporary SQLite hub, a client to start
  orchestrations, raise events, wait, read status, history and entities; HTTP functions in-process.
* Time skipping — the clock is virtual; ``wait_for_completion`` jumps it to the next due timer
  whenever nothing else can run, so a day-long monitor finishes in milliseconds.
* Stubs — ``mock_activity`` / ``mock_orchestrator`` replace named functions for one environment.
* :class:`Replayer` — replay orchestrator code against a saved history (typed events, the task
  hub's event dicts or the status API's ``historyEvents``) and report non-determinism.
* The pytest plugin (``durable_ext.testing.pytest_plugin``) provides the ``durable_env`` fixture.

Not here yet: OpenTelemetry traces (a later step of the same issue).
"""

from durable_ext.testing.clock import VirtualClock
from durable_ext.testing.driver import HarnessError
from durable_ext.testing.env import AsyncTestEnv, OrchestrationStatus, TestEnv, run_app
from durable_ext.testing.http import HttpReply
from durable_ext.testing.replay import NonDeterminismError, Replayer, ReplayResult, replay_history

__all__ = [
    "AsyncTestEnv",
    "HarnessError",
    "HttpReply",
    "NonDeterminismError",
    "OrchestrationStatus",
    "ReplayResult",
    "Replayer",
    "TestEnv",
    "VirtualClock",
    "replay_history",
    "run_app",
]
