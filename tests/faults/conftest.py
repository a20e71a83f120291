"""The fault suite (``-m faults``): kills, storage faults and disk trouble against the real host."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import host_factory, storage  # noqa: F401 - shared fixtures


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
