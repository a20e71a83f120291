"""Worker mode on Python 3.13+, where the host runs ``proxy_worker`` over the ``azure-functions-runtime``
library from PyPI instead of the 4.x worker. ``proxy313.py`` stands in for the forwarder (not on PyPI);
indexing, validation and invocation are the library's. Needs ``.venv313`` (``scripts/setup.sh --dev``
creates it from a Python 3.13 interpreter and fails when there is none)."""

from __future__ import annotations

import pytest

from tests.e2e.hostproc import ROOT, copy_app
from tests.worker_mode import workerbuild
from tests.worker_mode.harness import WorkerHost
from tests.worker_mode.test_samples import chaining, counter_entity
from tests.worker_mode.test_worker import assert_reported_metadata

PYTHON313 = ROOT / ".venv313" / "bin" / "python"
PROXY = ROOT / "tests" / "worker_mode" / "proxy313.py"


@pytest.fixture
def launcher313() -> list[str]:
    if not PYTHON313.exists():
        pytest.fail(f"{PYTHON313} is missing: run `bash scripts/setup.sh --dev` on a machine with Python 3.13")
    return [str(PYTHON313), str(PROXY), str(workerbuild.worker_dir())]


@pytest.mark.parametrize(("app", "scenario", "reported"), [
    ("samples/function_chaining", chaining, {"http_start"}),
    ("samples/counter_entity", counter_entity, {"http_start", "add_to_counter", "read_counter"}),
])  # fmt: skip
def test_sample_on_the_python_313_runtime(tmp_path, protos, launcher313, app, scenario, reported):
    worker = WorkerHost(copy_app(ROOT / app, tmp_path / "app"), protos, launcher313)
    try:
        worker.start()
        assert_reported_metadata(worker, reported)
        scenario(worker)
    finally:
        worker.close()
