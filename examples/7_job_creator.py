"""Task 8: eleven notification jobs on ``push_notification_code_2``, with their
progress, completion and failure printed as they happen. Waits until all have ended
(run 7_job_processor.py to process them; Ctrl-C stops waiting).

The jobs and their event lines are written once, in ``pykue.demo_jobs`` (``pykue demo``
runs the same ones): ``create_jobs`` saves each job after ``job.on(...)`` listeners
print its progress and end.
"""

from __future__ import annotations

import asyncio
import contextlib

from pykue import Queue
from pykue.demo_jobs import JOBS, create_jobs


async def main() -> None:
    queue = Queue()
    ended: asyncio.Queue[int] = asyncio.Queue()
    try:
        await create_jobs(queue, ended)
        for _ in JOBS:
            await ended.get()
    finally:
        await queue.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
