"""Task 9: process ``push_notification_code_2`` two jobs at a time, with progress;
two blacklisted numbers fail. Runs until Ctrl-C."""

from __future__ import annotations

import asyncio

from pykue import Job, Queue

QUEUE_NAME = "push_notification_code_2"
BLACKLISTED = ["4153518780", "4153518781"]


async def send_notification(phone_number: str, message: str, job: Job) -> None:
    await job.progress(0, 100)
    if phone_number in BLACKLISTED:
        raise ValueError(f"Phone number {phone_number} is blacklisted")  # fails the job
    await job.progress(50, 100)
    print(f"Sending notification to {phone_number}, with message: {message}", flush=True)


async def process(job: Job) -> None:
    await send_notification(job.data["phoneNumber"], job.data["message"], job)


def register(queue: Queue) -> None:
    queue.process(QUEUE_NAME, process, concurrency=2)


async def main() -> None:
    queue = Queue()
    register(queue)
    try:
        await queue.run()
    finally:
        await queue.close()


if __name__ == "__main__":
    asyncio.run(main())
