"""Task 7: process ``push_notification_code`` jobs until Ctrl-C (a graceful stop)."""

from __future__ import annotations

import asyncio

from pykue import Job, Queue


def send_notification(phone_number: str, message: str) -> None:
    print(f"Sending notification to {phone_number}, with message: {message}", flush=True)


async def process(job: Job) -> None:
    send_notification(job.data["phoneNumber"], job.data["message"])


async def main() -> None:
    queue = Queue()
    queue.process("push_notification_code", process)
    try:
        await queue.run()  # SIGINT/SIGTERM: running jobs finish, then it returns
    finally:
        await queue.close()


if __name__ == "__main__":
    asyncio.run(main())
