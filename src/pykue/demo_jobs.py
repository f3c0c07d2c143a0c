"""The seed's notification jobs (tasks 8 and 9), written once for the examples and
``pykue demo``.

The creator side enqueues eleven jobs on ``push_notification_code_2`` and prints
their events; the processor side sends them two at a time and fails the two
blacklisted numbers. The printed lines are the seed transcript's.
examples/7_job_creator.py, examples/7_job_processor.py and
examples/notifications_demo.py run them as scripts; ``pykue demo`` runs them in its
own process. Nothing here needs an extra, so the examples run on a producer's
install (redis, hiredis, orjson).

Each function takes ``say``, how a line is printed: the examples print and flush,
the CLI echoes through click.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .job import Job
from .queue import Queue

Say = Callable[[str], None]

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


def print_line(text: str) -> None:
    """Print ``text`` at once: the examples' output is often a pipe read line by line."""
    print(text, flush=True)


def track(job: Job, ended: asyncio.Queue[int], say: Say = print_line) -> None:
    """Print the job's events the way the seed's creator logs them; put its id on
    ``ended`` once it completed or failed."""

    def on_complete(result: Any) -> None:
        say(f"Notification job #{job.id} completed")
        ended.put_nowait(job.job_id)

    def on_failed(error: str) -> None:
        say(f"Notification job #{job.id} failed: {error}")
        ended.put_nowait(job.job_id)

    def on_progress(percent: int, data: Any) -> None:
        say(f"Notification job #{job.id} {percent}% complete")

    job.on("complete", on_complete).on("failed", on_failed).on("progress", on_progress)


async def create_jobs(queue: Queue, ended: asyncio.Queue[int], say: Say = print_line) -> None:
    """Task 8: save the eleven jobs, printing each id; their ends are put on ``ended``."""
    for data in JOBS:
        job = queue.create(QUEUE_NAME, data)
        track(job, ended, say)
        await job.save()
        say(f"Notification job created: {job.id}")


async def send_notification(
    phone_number: str, message: str, job: Job, say: Say = print_line
) -> None:
    """Task 9: progress 0, fail a blacklisted number, else progress 50 and send."""
    await job.progress(0, 100)
    if phone_number in BLACKLISTED:
        raise ValueError(f"Phone number {phone_number} is blacklisted")  # fails the job
    await job.progress(50, 100)
    say(f"Sending notification to {phone_number}, with message: {message}")


def register(queue: Queue, say: Say = print_line) -> None:
    """Task 9's processor: ``send_notification`` for ``QUEUE_NAME``, two jobs at a time."""

    async def process(job: Job) -> None:
        await send_notification(job.data["phoneNumber"], job.data["message"], job, say)

    queue.process(QUEUE_NAME, process, concurrency=2)
