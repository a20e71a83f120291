"""Worker mode on the other Python versions the Functions host runs.

* **3.12**: the same vendored 4.x worker as the other worker-mode tests (which run on this venv's 3.11),
  started with a Python 3.12 interpreter (``.venv312``), as the host starts it for a 3.12 app.
* **3.13+**: the host runs ``proxy_worker`` over the ``azure-functions-runtime`` library from PyPI
  instead of the 4.x worker. ``proxy313.py`` stands in for the forwarder (not on PyPI); indexing,
  validation and invocation are the library's (``.venv313``).

``scripts/setup.sh --dev`` creates both venvs from the interpreters it finds and fails under CI when one
is missing; so does this test, naming the venv.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from durable_ext.functions.reported import DURABLE_BINDING_TYPES
from tests.e2e.hostproc import ROOT, copy_app
from tests.worker_mode import workerbuild
from tests.worker_mode.harness import WorkerHost
from tests.worker_mode.test_samples import SAMPLES, top_level
from tests.worker_mode.test_worker import APP, assert_reported_metadata

# Twenty-two worker processes: with the end-to-end tests, out of the fast subset.
pytestmark = pytest.mark.e2e
PROXY = ROOT / "tests" / "worker_mode" / "proxy313.py"


def _python(venv: str) -> Path:
    python = ROOT / venv / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run `bash scripts/setup.sh --dev` on a machine with that Python")
    return python


def _launcher(version: str) -> list[str]:
    if version == "3.12":
        return [str(_python(".venv312")), str(workerbuild.worker_dir() / "worker.py")]
    return [str(_python(".venv313")), str(PROXY), str(workerbuild.worker_dir())]


VERSIONS = ["3.12", "3.13"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("app", [*sorted(SAMPLES), "."])
def test_every_sample_on_other_python_versions(tmp_path, protos, version, app):
    worker = WorkerHost(copy_app(ROOT / app, tmp_path / "app"), protos, _launcher(version))
    try:
        worker.start()
        assert worker.indexed, worker.metadata.result.exception.message
        for function in worker.host.functions.values():
            assert not {b["type"] for b in function.bindings} & DURABLE_BINDING_TYPES, function.bindings
        if version == "3.12":
            assert "python version 3.12" in worker.host.rpc_log_text()
        SAMPLES.get(app, top_level)(worker)
    finally:
        worker.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_the_entry_module_imports_the_app_once(tmp_path, protos, version):
    worker = WorkerHost(copy_app(APP, tmp_path / "app"), protos, _launcher(version))
    try:
        worker.start()
        assert_reported_metadata(worker, {"starter", "plain", "tick"})
        done = worker.wait(worker.start_orchestration("greeter", route="api/start")["id"])
        assert done["output"] == "Hello world!"
        assert (worker.app_dir / "imports.log").read_text().split() == [str(worker.host.proc.pid)]
    finally:
        worker.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_killed_worker_is_replaced_without_loss(worker_factory, tmp_path, version):
    """Two workers of this version on one SQLite hub, one SIGKILLed mid-run and replaced."""
    env = {"CRASHY_JOURNAL": str(tmp_path / "journal.txt"), "CRASHY_SLEEP": "0.05"}
    launcher = _launcher(version)
    first = worker_factory("tests/fixtures/apps/crashy", env=env, worker_launcher=launcher)
    second = worker_factory(env=env, app_dir=first.app_dir, worker_launcher=launcher)
    ids = [(first if i % 2 else second).start_orchestration("fan_out", {"count": 6})["id"] for i in range(6)]
    deadline = time.monotonic() + 120
    while "Executing 'Functions.work'" not in first.host.rpc_log_text():  # mid-run: the victim runs activities
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.05)
    first.kill()
    replacement = worker_factory(env=env, app_dir=first.app_dir, worker_launcher=launcher)
    for instance_id in ids:
        done = replacement.wait(instance_id, timeout=180)
        assert done["runtimeStatus"] == "Completed" and done["output"] == sum(i * i for i in range(6)), done
