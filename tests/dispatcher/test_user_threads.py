"""functions.threads.UserThreads: the threads user code runs on, and run_in's hand-off to them."""

from __future__ import annotations

import asyncio
import threading

import pytest

from durable_ext.functions.threads import UserThreads, run_in


def test_results_and_exceptions_come_back_to_the_awaiting_coroutine():
    pool = UserThreads(2)

    def boom():
        raise ValueError("boom")

    def stop():
        raise StopIteration("done")

    async def scenario():
        assert await run_in(pool, lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ValueError, match="boom"):
            await run_in(pool, boom)
        with pytest.raises(RuntimeError, match="StopIteration"):  # a future cannot carry StopIteration
            await run_in(pool, stop)
        # Any other executor (or None, the loop's default) still works through run_in_executor.
        assert await run_in(None, lambda: "default") == "default"
        # And the pool serves plain run_in_executor callers (the web layer's) through submit.
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: "submitted")

    try:
        assert asyncio.run(scenario()) == "submitted"
    finally:
        pool.shutdown()


def test_a_blocked_thread_does_not_hold_up_the_others_and_threads_stay_within_the_limit():
    pool = UserThreads(3)
    release = threading.Event()

    async def scenario():
        blocked = run_in(pool, release.wait, 30)
        done = [await run_in(pool, lambda i=i: i * i) for i in range(20)]
        assert done == [i * i for i in range(20)]
        many = await asyncio.gather(*(run_in(pool, lambda i=i: i) for i in range(50)))
        assert many == list(range(50))
        release.set()
        assert await blocked is True

    try:
        asyncio.run(scenario())
        assert len(pool._threads) <= 3
    finally:
        release.set()
        pool.shutdown()


def test_a_call_whose_waiter_gave_up_does_not_break_the_pool():
    # functionTimeout cancels the await; the thread finishes later and its result is dropped.
    pool = UserThreads(1)
    release = threading.Event()

    async def scenario():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await run_in(pool, release.wait, 30)
        release.set()
        assert await run_in(pool, lambda: "next") == "next"

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        pool.shutdown()


def test_shutdown_joins_the_threads_and_refuses_new_work():
    pool = UserThreads(2)

    async def scenario():
        await asyncio.gather(run_in(pool, lambda: 1), run_in(pool, lambda: 2))

    asyncio.run(scenario())
    threads = list(pool._threads)
    pool.shutdown(wait=True)
    assert threads and not any(t.is_alive() for t in threads)
    with pytest.raises(RuntimeError):
        pool.submit(lambda: 1)
