"""``pykue demo``: the seed's notification jobs, then a live trickle, with the dashboard.

Everything runs in one process and one event loop: the dashboard (uvicorn), a
worker for every demo type, the seed's eleven notification jobs (``pykue.demo_jobs``,
which the examples run too) and then a job every 1-2 s. The first Ctrl-C (or
``--duration``) stops it gracefully.

The trickle's jobs show what the dashboard can: progress steps, logs, failures,
retries with backoff and, now and then, a job that fails for good. Whether a job
fails is decided when it is enqueued (``simulate_failures``: how many of its first
attempts fail), so what the dashboard shows follows from the job's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import click

from .. import demo_jobs
from ..config import DEFAULT_PREFIX, redact_url
from ..connection import resolve_url
from ..job import Job
from ..queue import Queue
from . import options as params
from .dashboard import AppFactory, Dashboard, bind, load_create_app, url_of
from .options import Options
from .runtime import PROG, CliError, StopSignals, opened, run, say

SHUTDOWN_TIMEOUT = 5.0


# -- the trickle -----------------------------------------------------------------------


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


def register_trickle(queue: Queue) -> None:
    """Handle every demo job type, two jobs of each at a time."""
    for kind in KINDS:
        queue.process(kind.name, run_demo_job, concurrency=2)


def track_demo_job(job: Job) -> None:
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
        track_demo_job(job)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(1.0, 2.0))


# -- the demo -------------------------------------------------------------------------


async def until(stop: asyncio.Event, work: Awaitable[Any]) -> bool:
    """Run ``work`` until it ends or ``stop`` is set; True if it ended first."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopped):
        pending.cancel()
    await asyncio.gather(task, stopped, return_exceptions=True)
    if task.done() and not task.cancelled():
        task.result()  # an error in the work is the demo's error
        return True
    return False


async def notifications_done(ended: asyncio.Queue[int], worker: asyncio.Task[None]) -> None:
    for _ in demo_jobs.JOBS:
        getting = asyncio.ensure_future(ended.get())
        await asyncio.wait({getting, worker}, return_when=asyncio.FIRST_COMPLETED)
        if not getting.done():
            getting.cancel()
            worker.result()  # the worker died: raise its error
            raise CliError("the demo's worker stopped unexpectedly")


def where_to_look(options: Options, prefix: str, url: str | None) -> None:
    cli = "pykue "
    if options.url is not None:
        cli += f"--url {redact_url(options.url)} "
    if prefix != DEFAULT_PREFIX:
        cli += f"--prefix {prefix} "
    say("")
    say("The notification jobs are done. Demo jobs now arrive every 1-2 s; some fail and")
    say("are retried with backoff, a few fail for good.")
    if url is not None:
        say(f"  Dashboard:  {url}")
    say(f"  CLI:        {cli}stats")
    say(f"              {cli}jobs list --state failed")
    say("  Stop:       Ctrl-C")
    say("")


async def run_demo(
    options: Options,
    sock: socket.socket | None,
    create_app: AppFactory | None,
    duration: float | None,
) -> None:
    settings = options.settings()
    redis_url = await resolve_url(settings)
    queue = Queue(url=redis_url, prefix=settings.prefix)
    demo_jobs.register(queue, say)
    register_trickle(queue)
    stop = asyncio.Event()
    async with opened(queue):
        url = url_of(sock) if sock is not None else None
        web = Dashboard(create_app(queue)) if create_app is not None else None
        served = asyncio.ensure_future(web.serve(sock)) if web and sock else None
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        shown = f", dashboard on {url}" if url else ""
        say(
            f"{PROG}: demo on Redis {redact_url(redis_url)} (queue '{settings.prefix}'){shown}; "
            "Ctrl-C to stop",
            err=True,
        )
        worker: asyncio.Task[None] | None = None
        with StopSignals(stop.set, "forced stop"):
            try:
                ended: asyncio.Queue[int] = asyncio.Queue()
                if await until(stop, demo_jobs.create_jobs(queue, ended, say)):
                    worker = asyncio.ensure_future(queue.run(handle_signals=False))
                    if await until(stop, notifications_done(ended, worker)):
                        where_to_look(options, settings.prefix, url)
                        await trickle(queue, stop)
            finally:
                say(f"{PROG}: stopping the demo", err=True)
                await queue.shutdown(SHUTDOWN_TIMEOUT)
                if worker is not None:
                    await worker
                if web is not None and served is not None:
                    web.stop()
                    await served


@click.command(short_help="Run the notification demo with the dashboard.")
@click.option(
    "--port",
    metavar="PORT",
    type=click.IntRange(0, 65535),
    default=3000,
    show_default=True,
    help="Dashboard port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--dashboard/--no-dashboard", default=True, show_default=True, help="Serve the dashboard."
)
@click.option(
    "--duration",
    metavar="SECONDS",
    callback=params.seconds_from("duration", 0.001),
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.pass_obj
def demo(options: Options, port: int, dashboard: bool, duration: float | None) -> None:
    """See pykue work: the seed's eleven notification jobs on push_notification_code_2
    (two fail: blacklisted numbers), then a demo job every 1-2 s with progress,
    failures and retries, all visible on the dashboard at http://127.0.0.1:PORT.

    Uses REDIS_URL, else 127.0.0.1:6379, else pykue's embedded Redis.
    """
    create_app = load_create_app() if dashboard else None
    sock = bind("127.0.0.1", port) if dashboard else None
    try:
        run(run_demo(options, sock, create_app, duration))
    finally:
        if sock is not None:
            sock.close()
    say(f"{PROG}: demo stopped", err=True)
