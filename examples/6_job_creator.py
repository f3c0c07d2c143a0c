"""Task 6: put one notification job on ``push_notification_code``.

Prints the job's id, then waits for it to end (run 6_job_processor.py to process it;
Ctrl-C stops waiting). Each run stores a new job, so the id grows.
"""

from __future__ import annotations

import asyncio
import contextlib

from pykue import Queue

JOB_DATA = {"phoneNumber": "4153518780", "message": "This is the code to verify your account"}


async def main() -> None:
    queue = Queue()
    ended = asyncio.Event()
    try:
        job = queue.create("push_notification_code", JOB_DATA)

        def report(outcome: str) -> None:
            print(f"Notification job {outcome}", flush=True)
            ended.set()

        job.on("complete", lambda result: report("completed"))
        job.on("failed", lambda error: report("failed"))
        await job.save()
        print(f"Notification job created: {job.id}", flush=True)
        await ended.wait()
    finally:
        await queue.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
