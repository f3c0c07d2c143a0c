"""Task 10: ``create_push_notifications_jobs(jobs, queue)``, a reusable job creator.

Every job goes on ``push_notification_code_3`` and logs its creation, progress,
completion and failure. Anything but a list is refused with ``Jobs is not an array``
(the seed's message); every item is checked before any job is saved.
"""

from __future__ import annotations

from typing import Any

from pykue import Job, Queue

QUEUE_NAME = "push_notification_code_3"


def log_events(job: Job) -> None:
    def on_complete(result: Any) -> None:
        print(f"Notification job {job.id} completed", flush=True)

    def on_failed(error: str) -> None:
        print(f"Notification job {job.id} failed: {error}", flush=True)

    def on_progress(percent: int, data: Any) -> None:
        print(f"Notification job {job.id} {percent}% complete", flush=True)

    job.on("complete", on_complete).on("failed", on_failed).on("progress", on_progress)


async def create_push_notifications_jobs(jobs: list[dict[str, Any]], queue: Queue) -> list[Job]:
    if not isinstance(jobs, list):
        raise TypeError("Jobs is not an array")
    created = [queue.create(QUEUE_NAME, data) for data in jobs]  # validates them all first
    for job in created:
        log_events(job)
        await job.save()
        print(f"Notification job created: {job.id}", flush=True)
    return created
