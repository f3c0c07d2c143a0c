"""Task 8: eleven notification jobs on ``push_notification_code_2``, with their
progress, completion and failure printed as they happen. Waits until all have ended
(run 7_job_processor.py to process them; Ctrl-C stops waiting)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pykue import Job, Queue

QUEUE_NAME = "push_notification_code_2"
JOBS = [
    {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"},
    {"phoneNumber": "4153518781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4153518743", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4153538781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4153118782", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4153718781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4159518782", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4158718781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4153818782", "message": "This is the code 4321 to verify your account"},
    {"phoneNumber": "4154318781", "message": "This is the code 4562 to verify your account"},
    {"phoneNumber": "4151218782", "message": "This is the code 4321 to verify your account"},
]


def track(job: Job, ended: asyncio.Queue[int]) -> None:
    """Print the job's events the way the seed's creator logs them."""

    def on_complete(result: Any) -> None:
        print(f"Notification job #{job.id} completed", flush=True)
        ended.put_nowait(job.job_id)

    def on_failed(error: str) -> None:
        print(f"Notification job #{job.id} failed: {error}", flush=True)
        ended.put_nowait(job.job_id)

    def on_progress(percent: int, data: Any) -> None:
        print(f"Notification job #{job.id} {percent}% complete", flush=True)

    job.on("complete", on_complete).on("failed", on_failed).on("progress", on_progress)


async def create_jobs(queue: Queue, ended: asyncio.Queue[int]) -> None:
    for data in JOBS:
        job = queue.create(QUEUE_NAME, data)
        track(job, ended)
        await job.save()
        print(f"Notification job created: {job.id}", flush=True)


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
