"""Session fixtures and the two test markers.

Markers (declared in pyproject.toml) are applied here, so new test files get them without asking:

* ``e2e`` — every test under ``tests/e2e/`` (they start the real host process);
* ``azurite`` — every test that uses the ``azurite`` fixture, directly or through another fixture,
  and every test parametrized with the ``azure_storage`` provider kind (see ``AZURE_KIND``).

``pytest -m "not e2e and not azurite"`` is the fast subset (no host processes, no emulator).

When Azurite cannot be started (not installed, does not come up) the tests that need it are skipped
with the reason — except in CI (``CI=true``), which installs it: there that is a failure, so a
broken emulator never turns into a green run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

# The test kit users get (durable_ext.testing); its fixtures serve the project's own sample tests.
pytest_plugins = ["durable_ext.testing.pytest_plugin"]

E2E_DIR = Path(__file__).resolve().parent / "e2e"

#: The provider kind whose parametrized tests need the emulator.
AZURE_KIND = "azure_storage"


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() in ("true", "1")


@pytest.fixture(scope="session")
def azurite() -> Iterator[Any]:
    """One Azurite emulator (from node_modules, on disk, loopback, random ports) per test session."""
    from tests.azurite import Azurite

    try:
        emulator = Azurite.start()
    except (RuntimeError, OSError) as exc:
        reason = f"Azurite could not be started: {exc}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the emulator is required in CI)", pytrace=False)
        pytest.skip(reason)
    yield emulator
    emulator.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if path.is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if "azurite" in fixtures or any(value == AZURE_KIND for value in params):
            item.add_marker(pytest.mark.azurite)
