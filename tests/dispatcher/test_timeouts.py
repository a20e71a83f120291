"""dispatcher.timeouts.FunctionTimeouts.run: the result in time, FunctionTimeoutError past the
limit (the work is cancelled), and a function's own TimeoutError is not mistaken for the limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from durable_ext.dispatcher.timeouts import FunctionTimeouts
from durable_ext.errors import FunctionTimeoutError


async def _value() -> str:
    await asyncio.sleep(0)
    return "done"


def test_in_time_and_unlimited():
    assert asyncio.run(FunctionTimeouts(timedelta(seconds=30)).run("f", "id", _value())) == "done"
    assert asyncio.run(FunctionTimeouts(None).run("f", "id", _value())) == "done"


def test_past_the_limit_the_work_is_cancelled_and_the_host_error_raised():
    cancelled = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def scenario() -> None:
        with pytest.raises(
            FunctionTimeoutError, match=r"Timeout value of 00:00:00 was exceeded by function: Functions\.f"
        ):
            await FunctionTimeouts(timedelta(seconds=0.05)).run("f", "id", forever())
        # an executor future (a sync function's thread) is given up on the same way
        loop = asyncio.get_running_loop()
        with pytest.raises(FunctionTimeoutError):
            await FunctionTimeouts(timedelta(seconds=0.05)).run("g", "id", loop.create_future())

    asyncio.run(scenario())
    assert cancelled == [True]


def test_the_functions_own_timeout_error_passes_through():
    async def raises() -> None:
        raise TimeoutError("the function's own")

    with pytest.raises(TimeoutError, match="the function's own"):
        asyncio.run(FunctionTimeouts(timedelta(seconds=30)).run("f", "id", raises()))
