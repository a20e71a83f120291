"""pytest plugin: the ``durable_env`` fixture.

Installed packages register it through the ``pytest11`` entry point; a project that runs from a
checkout enables it with ``pytest_plugins = ["durable_ext.testing.pytest_plugin"]`` in its
``conftest.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from durable_ext.testing.env import TestEnv, run_app


@pytest.fixture
def durable_env() -> Iterator[Callable[..., TestEnv]]:
    """A factory: ``env = durable_env("path/to/app", activities={...})`` → a started :class:`TestEnv`.

    Takes :func:`durable_ext.testing.run_app`'s options. Every environment the test opened is
    closed (and its temporary hub deleted) when the test ends.
    """
    with contextlib.ExitStack() as stack:

        def open_env(app_dir: str | Path, **options: Any) -> TestEnv:
            return stack.enter_context(run_app(app_dir, **options))

        yield open_env
