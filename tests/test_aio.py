"""cancel_all ends tasks even when one swallows its first cancellation."""

from __future__ import annotations

import asyncio

from pykue.aio import cancel_all


async def test_cancel_all_cancels_again_until_the_task_ends() -> None:
    swallowed = 0
    started = asyncio.Event()

    async def stubborn() -> None:
        nonlocal swallowed
        started.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # as a client library that turns a cancel into a timeout

    task = asyncio.create_task(stubborn())
    await started.wait()
    await cancel_all([task], every=0.01)
    assert task.cancelled()
    assert swallowed == 1


async def test_cancel_all_retrieves_failures_and_ignores_finished_tasks() -> None:
    async def boom() -> None:
        raise ValueError("already failed")

    failed = asyncio.create_task(boom())
    finished = asyncio.create_task(asyncio.sleep(0))
    await asyncio.wait({failed, finished})
    await cancel_all([failed, finished])
    assert isinstance(failed.exception(), ValueError)
    assert finished.result() is None
