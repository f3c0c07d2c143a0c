"""The notification jobs of tasks 8-9 end to end in one process (what `make run` shows).

7_job_creator.py enqueues the eleven jobs and prints their events; 7_job_processor.py's
handler processes them two at a time in this same process; two blacklisted numbers
fail. Run it with ``make run``, or ``python examples/notifications_demo.py [REDIS_URL]``.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

from pykue import Queue

creator = importlib.import_module("7_job_creator")
processor = importlib.import_module("7_job_processor")


async def main(url: str | None) -> None:
    queue = Queue(url=url)
    ended: asyncio.Queue[int] = asyncio.Queue()
    try:
        await creator.create_jobs(queue, ended)
        processor.register(queue)
        worker = asyncio.create_task(queue.run())
        for _ in creator.JOBS:
            await ended.get()
        await queue.shutdown()
        await worker
    finally:
        await queue.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
