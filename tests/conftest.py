from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def azurite() -> Iterator[Any]:
    """One Azurite emulator (from node_modules, in memory, loopback, random ports) per test session."""
    from tests.azurite import Azurite

    emulator = Azurite.start()
    yield emulator
    emulator.stop()
