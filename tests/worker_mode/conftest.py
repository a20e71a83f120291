"""Fixtures for worker mode: the vendored Python worker (protos compiled once) driven by the mock host."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_AZURE_ENV
from tests.e2e.hostproc import ROOT, copy_app, use_azure_storage
from tests.worker_mode import workerbuild
from tests.worker_mode.harness import WorkerHost


@pytest.fixture(scope="session")
def protos() -> Any:
    return workerbuild.protos_module()


@pytest.fixture(scope="session")
def launcher() -> list[str]:
    """How the host starts the Python 3.11/3.12 worker: ``python worker.py <args>``."""
    return [sys.executable, str(workerbuild.worker_dir() / "worker.py")]


@pytest.fixture(params=["sqlite", "azure_storage"])
def storage(request) -> str | None:
    """None for SQLite, else an Azurite connection string."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("azurite").connection_string


@pytest.fixture
def worker_factory(tmp_path, protos, launcher):
    """``worker_factory(app, storage=None, env=None, app_dir=None, host_keys=None)`` → a started WorkerHost on
    a copy of the app (``host_keys``: the keys the mock host checks, as in Azure; ``worker_launcher``: another
    worker than the vendored one under this interpreter).

    Several workers may share one ``app_dir`` (one hub, several worker processes).
    """
    started: list[WorkerHost] = []

    def make(
        app: str | Path = ".",
        *,
        storage: str | None = None,
        env=None,
        app_dir: Path | None = None,
        start=True,
        host_keys=None,
        worker_launcher=None,
    ):
        if app_dir is None:
            source = Path(app) if Path(app).is_absolute() else ROOT / app
            app_dir = copy_app(source, tmp_path / f"app{len(started)}")
            if storage:
                use_azure_storage(app_dir, storage)
        env = {**(FAST_AZURE_ENV if storage else {}), **(env or {})}
        worker = WorkerHost(app_dir, protos, worker_launcher or launcher, env=env, host_keys=host_keys)
        started.append(worker)
        return worker.start() if start else worker

    yield make
    for worker in started:
        worker.close()
