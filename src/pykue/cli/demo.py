"""``pykue demo``: the seed's notification jobs, then a live trickle, with the dashboard.

Everything runs in one process and one event loop: the dashboard (uvicorn), a
worker for every demo type, the seed's eleven notification jobs and then a job
every 1-2 s. The first Ctrl-C (or ``--duration``) stops it gracefully.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable
from typing import Any

import click

from ..config import DEFAULT_PREFIX, redact_url
from ..connection import resolve_url
from ..queue import Queue
from . import notifications, params, trickle
from .base import PROG, CliError, Options, StopSignals, opened, run, say
from .serve import AppFactory, Dashboard, bind, load_create_app, url_of

SHUTDOWN_TIMEOUT = 5.0


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
    for _ in notifications.JOBS:
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
    notifications.register(queue)
    trickle.register(queue)
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
                if await until(stop, notifications.create_jobs(queue, ended)):
                    worker = asyncio.ensure_future(queue.run(handle_signals=False))
                    if await until(stop, notifications_done(ended, worker)):
                        where_to_look(options, settings.prefix, url)
                        await trickle.trickle(queue, stop)
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
    callback=params.positive_seconds,
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
