"""The seed's notification jobs (tasks 8 and 9) for ``pykue demo``.

The creator side enqueues eleven jobs on ``push_notification_code_2`` and prints
their events; the processor side sends them two at a time and fails the two
blacklisted numbers. The lines are the seed transcript's, as in
examples/notifications_demo.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..job import Job
from ..queue import Queue
from .base import say

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


def track(job: Job, ended: asyncio.Queue[int]) -> None:
    """Print the job's events the way the seed's creator logs them."""

    def on_complete(result: Any) -> None:
        say(f"Notification job #{job.id} completed")
        ended.put_nowait(job.job_id)

    def on_failed(error: str) -> None:
        say(f"Notification job #{job.id} failed: {error}")
        ended.put_nowait(job.job_id)

    def on_progress(percent: int, data: Any) -> None:
        say(f"Notification job #{job.id} {percent}% complete")

    job.on("complete", on_complete).on("failed", on_failed).on("progress", on_progress)


async def create_jobs(queue: Queue, ended: asyncio.Queue[int]) -> None:
    """Task 8: save the eleven jobs, printing each id; their ends are put on ``ended``."""
    for data in JOBS:
        job = queue.create(QUEUE_NAME, data)
        track(job, ended)
        await job.save()
        say(f"Notification job created: {job.id}")


async def send_notification(job: Job) -> None:
    """Task 9's handler: progress 0, fail a blacklisted number, else progress 50 and send."""
    phone_number, message = job.data["phoneNumber"], job.data["message"]
    await job.progress(0, 100)
    if phone_number in BLACKLISTED:
        raise ValueError(f"Phone number {phone_number} is blacklisted")
    await job.progress(50, 100)
    say(f"Sending notification to {phone_number}, with message: {message}")


def register(queue: Queue) -> None:
    queue.process(QUEUE_NAME, send_notification, concurrency=2)
