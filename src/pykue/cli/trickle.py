"""The demo's steady trickle: a job every 1-2 s, with progress steps, logs, failures,
retries with backoff and, now and then, a job that fails for good.

Whether a job fails is decided when it is enqueued (``simulate_failures``: how many
of its first attempts fail), so what the dashboard shows follows from the job's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import Any

from ..job import Job
from ..queue import Queue
from .base import say


@dataclass(frozen=True)
class Kind:
    """One demo job type: its steps, how long each takes, how it fails and is retried."""

    name: str
    steps: tuple[str, ...]
    step_seconds: float
    error: str
    attempts: int
    backoff: dict[str, Any] = field(default_factory=dict)

    def data(self, rng: random.Random, n: int) -> dict[str, Any]:
        roll = rng.random()
        failures = 0 if roll < 0.65 else 1 if roll < 0.9 else self.attempts
        return {**subject(self.name, n), "simulate_failures": failures}


def subject(kind: str, n: int) -> dict[str, Any]:
    """What the ``n``-th demo job of ``kind`` works on."""
    if kind == "email.welcome":
        return {"to": f"user{n}@example.com", "template": "welcome"}
    if kind == "image.thumbnail":
        return {"file": f"photos/IMG_{1000 + n}.jpg", "width": 320}
    return {"day": f"2024-05-{1 + n % 28:02d}", "format": "pdf"}


KINDS = (
    Kind(
        "email.welcome",
        ("render template", "connect to SMTP", "send"),
        0.4,
        "SMTP server timed out",
        3,
        {"type": "exponential", "delay": 1.0},
    ),
    Kind(
        "image.thumbnail",
        ("download", "decode", "resize", "upload"),
        0.3,
        "image is corrupt",
        2,
        {"type": "fixed", "delay": 2.0},
    ),
    Kind(
        "report.daily",
        ("query sales", "aggregate", "render PDF", "store", "notify"),
        0.5,
        "database is busy",
        4,
        {"type": "exponential", "delay": 0.5},
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}
PRIORITIES = ("normal", "normal", "normal", "high", "low", "critical")
KEEP_COMPLETE = 1000  # demo jobs kept once complete (remove_on_complete count)


async def run_demo_job(job: Job) -> dict[str, Any]:
    """Walk the kind's steps with progress and log lines; fail as the job's data says."""
    kind = BY_NAME[job.type]
    fail_at = len(kind.steps) // 2 if job.attempts_made < job.data["simulate_failures"] else -1
    for index, step in enumerate(kind.steps):
        await job.log("attempt %d: %s", job.attempts_made + 1, step)
        await asyncio.sleep(kind.step_seconds * random.uniform(0.5, 1.5))
        if index == fail_at:
            raise RuntimeError(kind.error)
        await job.progress(index + 1, len(kind.steps), {"step": step})
    return {"ok": True, "steps": len(kind.steps)}


def register(queue: Queue) -> None:
    for kind in KINDS:
        queue.process(kind.name, run_demo_job, concurrency=2)


def track(job: Job) -> None:
    """Print how a demo job ends, and each failed attempt that will be retried."""
    label = f"Demo job #{job.id} ({job.type})"

    def on_complete(result: Any) -> None:
        say(f"{label} completed")

    def on_attempt(error: str, attempts_made: int) -> None:
        say(
            f"{label} failed attempt {attempts_made} of {job.attempts}: {error}; "
            "retrying after backoff"
        )

    def on_failed(error: str) -> None:
        say(f"{label} failed: {error}")

    job.on("complete", on_complete).on("failed attempt", on_attempt).on("failed", on_failed)


async def trickle(queue: Queue, stop: asyncio.Event) -> None:
    """Enqueue a demo job every 1-2 s until ``stop`` is set."""
    rng = random.Random()
    n = 0
    while not stop.is_set():
        n += 1
        kind = rng.choice(KINDS)
        job = queue.create(
            kind.name,
            kind.data(rng, n),
            priority=rng.choice(PRIORITIES),
            attempts=kind.attempts,
            backoff=kind.backoff,
            ttl=30.0,
            remove_on_complete=KEEP_COMPLETE,
        )
        await job.save()
        track(job)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(1.0, 2.0))
