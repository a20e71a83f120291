from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.hostproc import ROOT, HostProcess, copy_app, use_azure_storage

#: Lease and polling timings short enough that Azure Storage failover tests finish in seconds.
FAST_AZURE_ENV = {
    "DURABLE_EXT_AZURE_LEASE_SECONDS": "6",
    "DURABLE_EXT_AZURE_RENEW_SECONDS": "2",
    "DURABLE_EXT_AZURE_MAX_POLL_SECONDS": "0.5",
}


@pytest.fixture(params=["sqlite", "azure_storage"])
def storage(request) -> str | None:
    """Run a test on each task hub provider: None for SQLite, else an Azurite connection string."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("azurite").connection_string


@pytest.fixture
def host_factory(tmp_path):
    """``host_factory(app, storage=None, **kw)`` → a started HostProcess on a copy of the app.

    ``storage`` (an Azure Storage connection string) switches the copy to the Azure Storage provider.
    """
    started: list[HostProcess] = []
    copies: dict[str, Path] = {}

    def make(app: str | Path, *, env=None, storage: str | None = None, copy=True) -> HostProcess:
        source = Path(app) if Path(app).is_absolute() else ROOT / app
        if copy:
            key = str(source)
            app_dir = copies.get(key)
            if app_dir is None:
                app_dir = copies[key] = copy_app(source, tmp_path / f"app{len(copies)}")
                if storage:
                    use_azure_storage(app_dir, storage)
        else:
            app_dir = source
        host = HostProcess(app_dir, env={**(FAST_AZURE_ENV if storage else {}), **(env or {})})
        started.append(host)
        return host.start()

    yield make
    for host in started:
        host.kill()
