"""``pykue worker MODULE[:ATTR]``: run the handlers registered on a module's Queue, in
this process or, with ``--processes P``, in P worker processes under one parent.

With several processes each child is ``python -m pykue.cli ... worker MODULE:ATTR``
started in a session of its own, so a terminal's Ctrl-C reaches only the parent,
which forwards each SIGINT/SIGTERM to every child exactly once: the first stops them
gracefully, a second forces them. If a child dies on its own, the others are stopped
too and the parent exits 1.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import importlib
import os
import signal
import sys

import click

from ..keys import Keys
from ..queue import Queue
from ..sync import Queue as SyncQueue
from . import options as params
from .options import Options
from .runtime import PROG, StopSignals, opened, run, say

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


# -- one worker process -----------------------------------------------------------------


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


# -- several processes -----------------------------------------------------------------


def die_with_parent() -> None:
    """In a child before exec (Linux): get SIGTERM if the parent dies, even by SIGKILL,
    so no worker is left running on its own."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(child_args: list[str], processes: int) -> int:
    """Run ``processes`` copies of ``pykue <child_args>``; return 0 if all stopped cleanly."""
    return asyncio.run(_supervise([sys.executable, "-m", "pykue.cli", *child_args], processes))


async def _supervise(command: list[str], processes: int) -> int:
    loop = asyncio.get_running_loop()
    children: list[asyncio.subprocess.Process] = []
    stopping = False

    def forward(sig: signal.Signals) -> None:
        nonlocal stopping
        stopping = True
        # a hang-up (terminal or ssh session closed) stops the workers gracefully
        sent = signal.SIGTERM if sig == signal.SIGHUP else sig
        for child in children:
            if child.returncode is None:
                child.send_signal(sent)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, forward, sig)
    try:
        for _ in range(processes):
            child = await asyncio.create_subprocess_exec(
                *command, start_new_session=True, preexec_fn=die_with_parent
            )
            children.append(child)
            if stopping:  # a signal came while the others were starting
                child.send_signal(signal.SIGTERM)
        pids = ", ".join(str(child.pid) for child in children)
        say(
            f"{PROG}: started {processes} worker processes ({pids}); Ctrl-C stops them all",
            err=True,
        )
        waits = {asyncio.ensure_future(child.wait()): child for child in children}
        pending = set(waits)
        failed = False
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                code = task.result()
                if code != 0:
                    failed = True
                    if not stopping:
                        say(
                            f"{PROG}: error: worker process {waits[task].pid} exited with code "
                            f"{code}; stopping the others",
                            err=True,
                        )
                        forward(signal.SIGTERM)
        return 1 if failed else 0
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        for child in children:  # only if the parent itself failed half-way
            if child.returncode is None:
                child.kill()
                await child.wait()


# -- the command ------------------------------------------------------------------------


@click.command(short_help="Process jobs with a module's Queue handlers.")
@click.argument("target", metavar="MODULE[:ATTR]")
@click.option(
    "--concurrency",
    metavar="N",
    callback=params.concurrency,
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
    callback=params.seconds_from("shutdown timeout", 0),
    default="10.0",
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
