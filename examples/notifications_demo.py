"""The notification jobs of tasks 8-9 end to end in one process (what `make run` shows).

The creator side of 7_job_creator.py enqueues the eleven jobs and prints their events;
the handler of 7_job_processor.py processes them two at a time in this same process;
two blacklisted numbers fail. Both come from ``pykue.demo_jobs``. Run it with
``python examples/notifications_demo.py [REDIS_URL]``.
"""

from __future__ import annotations

import asyncio
import sys

from pykue import Queue
from pykue.demo_jobs import JOBS, create_jobs, register


async def main(url: str | None) -> None:
    queue = Queue(url=url)
    ended: asyncio.Queue[int] = asyncio.Queue()
    try:
        await create_jobs(queue, ended)
        register(queue)
        worker = asyncio.create_task(queue.run())
        for _ in JOBS:
            await ended.get()
        await queue.shutdown()
        await worker
    finally:
        await queue.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
