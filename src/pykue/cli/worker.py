"""``pykue worker MODULE[:ATTR]``: run the handlers registered on a module's Queue."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import os
import sys

import click

from ..keys import Keys
from ..queue import Queue
from ..sync import Queue as SyncQueue
from .base import PROG, Options, StopSignals, opened, run, say
from .supervisor import supervise


def load_queue(target: str, options: Options) -> Queue:
    """Import MODULE (the current directory first) and return the Queue at ATTR.

    The global --url/--prefix are exported as REDIS_URL/PYKUE_PREFIX before the import
    (so a module-level ``Queue()`` follows them) and applied to the Queue found.
    """
    module_name, _, attr = target.partition(":")
    attr = attr or "queue"
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise click.BadParameter(f"{target!r} is not MODULE[:ATTR]", param_hint="MODULE[:ATTR]")
    if not all(part.isidentifier() for part in attr.split(".")):
        raise click.BadParameter(f"{attr!r} is not an attribute name", param_hint="MODULE[:ATTR]")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if options.url is not None:
        os.environ["REDIS_URL"] = options.url
    if options.prefix is not None:
        os.environ["PYKUE_PREFIX"] = options.prefix
    try:
        found: object = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise click.UsageError(
                f"cannot import {module_name!r}: no module named {exc.name!r} "
                f"(looked in {cwd} and on sys.path)"
            ) from None
        raise click.UsageError(f"cannot import {module_name!r}: {exc}") from None
    except Exception as exc:
        raise click.UsageError(
            f"cannot import {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    for part in attr.split("."):
        if not hasattr(found, part):
            raise click.UsageError(f"module {module_name!r} has no attribute {attr!r}")
        found = getattr(found, part)
    if isinstance(found, SyncQueue):
        raise click.UsageError(
            f"{module_name}:{attr} is a pykue.sync.Queue: give its asyncio queue, "
            f"{module_name}:{attr}.queue, with the handlers registered on it"
        )
    if not isinstance(found, Queue):
        kind = type(found)
        raise click.UsageError(
            f"{module_name}:{attr} is a {kind.__module__}.{kind.__qualname__}, not a pykue.Queue"
        )
    if not found.handlers:
        raise click.UsageError(
            f"{module_name}:{attr} has no handlers: register one with queue.process(type, fn)"
        )
    return found


def apply_options(queue: Queue, options: Options, concurrency: int | None) -> None:
    """Point ``queue`` at the --url/--prefix given and override every concurrency."""
    if options.url is not None or options.prefix is not None:
        url = options.url if options.url is not None else queue.settings.url
        prefix = options.prefix if options.prefix is not None else queue.settings.prefix
        queue.settings = dataclasses.replace(queue.settings, url=url, prefix=prefix)
        queue.keys = Keys(prefix)
    if concurrency is not None:
        queue.handlers = {name: (fn, concurrency) for name, (fn, _) in queue.handlers.items()}


async def run_worker(queue: Queue, shutdown_timeout: float) -> None:
    """Process until SIGINT/SIGTERM, then let running jobs finish for ``shutdown_timeout``."""
    stopping: list[asyncio.Task[None]] = []

    def stop() -> None:
        say(
            f"{PROG}: stopping worker {os.getpid()}: running jobs get {shutdown_timeout:g} s "
            "(Ctrl-C again to force)",
            err=True,
        )
        stopping.append(asyncio.ensure_future(queue.shutdown(shutdown_timeout)))

    async with opened(queue):
        with StopSignals(stop, "forced stop: unfinished jobs run again once their lease ends"):
            types = ", ".join(
                f"{name} (concurrency {c})" for name, (_, c) in queue.handlers.items()
            )
            say(f"{PROG}: worker {os.getpid()} ready: {types}; Ctrl-C to stop", err=True)
            await queue.run(handle_signals=False)
            if stopping:
                await stopping[0]
    say(f"{PROG}: worker {os.getpid()} stopped", err=True)


@click.command(short_help="Process jobs with a module's Queue handlers.")
@click.argument("target", metavar="MODULE[:ATTR]")
@click.option(
    "--concurrency",
    metavar="N",
    type=click.IntRange(min=1),
    help="Jobs run at once per type, overriding each handler's own.",
)
@click.option(
    "--processes",
    metavar="P",
    type=click.IntRange(min=1, max=256),
    default=1,
    show_default=True,
    help="Worker processes to start (each runs every handler).",
)
@click.option(
    "--shutdown-timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds running jobs get to finish after Ctrl-C; the rest go back to the queue.",
)
@click.pass_obj
def worker(
    options: Options,
    target: str,
    concurrency: int | None,
    processes: int,
    shutdown_timeout: float,
) -> None:
    """Process jobs with the handlers registered on the pykue Queue at MODULE:ATTR.

    MODULE is imported from the current directory or sys.path; ATTR defaults to
    'queue'. Example, with tasks.py holding `queue = Queue()` and
    `@queue.process("email")` handlers:

        pykue worker tasks:queue --processes 4

    SIGINT/SIGTERM (Ctrl-C) stop gracefully; a second one stops at once.
    """
    queue = load_queue(target, options)
    if processes > 1:
        args = [target, "--shutdown-timeout", repr(shutdown_timeout)]
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        code = supervise([*options.args(), "worker", *args], processes)
        click.get_current_context().exit(code)
    apply_options(queue, options, concurrency)
    run(run_worker(queue, shutdown_timeout))
