from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.hostproc import ROOT, HostProcess, copy_app


@pytest.fixture
def host_factory(tmp_path):
    """``host_factory(app_dir_or_sample_name, **kw)`` → a started HostProcess on a copy of the app."""
    started: list[HostProcess] = []

    def make(app: str | Path, *, env=None, copy=True) -> HostProcess:
        source = Path(app) if Path(app).is_absolute() else ROOT / app
        app_dir = copy_app(source, tmp_path / source.name) if copy else source
        host = HostProcess(app_dir, env=env)
        started.append(host)
        return host.start()

    yield make
    for host in started:
        host.kill()
