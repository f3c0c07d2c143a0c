"""The seed's notification jobs, end to end in one process (what `make run` shows).

Eleven jobs go on the ``push_notification_code_2`` queue; a worker with concurrency 2
processes them. The producer side prints what the job creator of the seed prints
(created / N% complete / completed / failed) from per-job events, and the handler
prints what the job processor prints. Two numbers are blacklisted and fail.

Run it with ``make run``, or ``python examples/notifications_demo.py [REDIS_URL]``.
Without a URL, pykue uses REDIS_URL, then 127.0.0.1:6379 if it answers, then its
own embedded redis-server.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pykue import Job, Queue

QUEUE_NAME = "push_notification_code_2"
BLACKLISTED = ("4153518780", "4153518781")
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


async def send_notification(job: Job) -> None:
    phone, message = job.data["phoneNumber"], job.data["message"]
    await job.progress(0, 100)
    if phone in BLACKLISTED:
        raise ValueError(f"Phone number {phone} is blacklisted")
    await job.progress(50, 100)
    print(f"Sending notification to {phone}, with message: {message}", flush=True)


async def main(url: str | None) -> None:
    queue = Queue(url=url)
    remaining = len(JOBS)
    all_done = asyncio.Event()

    def finished() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            all_done.set()

    def track(job: Job) -> None:
        def on_complete(result: Any) -> None:
            print(f"Notification job #{job.id} completed", flush=True)
            finished()

        def on_failed(error: str) -> None:
            print(f"Notification job #{job.id} failed: {error}", flush=True)
            finished()

        def on_progress(percent: int, data: Any) -> None:
            print(f"Notification job #{job.id} {percent}% complete", flush=True)

        job.on("complete", on_complete).on("failed", on_failed).on("progress", on_progress)

    try:
        for data in JOBS:
            job = queue.create(QUEUE_NAME, data)
            track(job)
            await job.save()
            print(f"Notification job created: {job.id}", flush=True)

        queue.process(QUEUE_NAME, send_notification, concurrency=2)
        worker = asyncio.create_task(queue.run())
        await all_done.wait()
        await queue.shutdown()
        await worker
    finally:
        await queue.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
