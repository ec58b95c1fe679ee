"""Lane: one job at a time, in order, on a shared pool that it never monopolises."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cargohold.registry.lanes import BURST, Lane


async def test_jobs_run_one_at_a_time_in_submission_order() -> None:
    pool = ThreadPoolExecutor(8)
    lane = Lane(pool, asyncio.get_running_loop())
    order: list[int] = []
    running = 0
    overlapped = False
    guard = threading.Lock()

    def job(n: int) -> int:
        nonlocal running, overlapped
        with guard:
            running += 1
            overlapped |= running > 1
        time.sleep(0.001)
        order.append(n)
        with guard:
            running -= 1
        return n * n

    try:
        futures = [lane.submit(lambda n=n: job(n)) for n in range(40)]  # type: ignore[misc]
        assert await asyncio.gather(*futures) == [n * n for n in range(40)]
    finally:
        pool.shutdown()
    assert order == list(range(40))
    assert not overlapped


async def test_an_error_goes_to_its_future_and_later_jobs_still_run() -> None:
    pool = ThreadPoolExecutor(2)
    lane = Lane(pool, asyncio.get_running_loop())

    def boom() -> int:
        raise OSError("disk full")

    try:
        failing = lane.submit(boom)
        after = lane.submit(lambda: 7)
        with pytest.raises(OSError, match="disk full"):
            await failing
        assert await after == 7
    finally:
        pool.shutdown()


async def test_a_lane_gives_its_thread_back_after_a_burst() -> None:
    # One pool thread, held until everything is queued: the lane's first turn, then the other
    # job queued behind it, then the lane's next turn.
    pool = ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()
    lane = Lane(pool, loop)
    release = threading.Event()
    order: list[str] = []
    try:
        blocker = loop.run_in_executor(pool, release.wait)
        jobs = [lane.submit(lambda n=n: order.append(f"lane{n}")) for n in range(BURST + 2)]  # type: ignore[misc]
        other = loop.run_in_executor(pool, lambda: order.append("other"))
        release.set()
        await asyncio.gather(blocker, other, *jobs)
    finally:
        pool.shutdown()
    assert order.index("other") == BURST
    assert [o for o in order if o != "other"] == [f"lane{n}" for n in range(BURST + 2)]


async def test_a_shut_down_pool_fails_the_jobs_instead_of_losing_them() -> None:
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    lane = Lane(pool, asyncio.get_running_loop())
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(lane.submit(lambda: 1), timeout=10)
