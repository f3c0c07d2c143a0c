"""Task 10's main: one job through create_push_notifications_jobs, then wait for it
to end (nothing processes push_notification_code_3 here; Ctrl-C stops waiting)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib

from pykue import JobFailed, Queue

job_module = importlib.import_module("8_job")

LIST = [{"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"}]


async def main() -> None:
    queue = Queue()
    try:
        jobs = await job_module.create_push_notifications_jobs(LIST, queue)
        for job in jobs:
            with contextlib.suppress(JobFailed):  # its failed listener printed it
                await job.wait()
    finally:
        await queue.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
