"""Several worker processes under one parent (``pykue worker --processes P``).

Each child is ``python -m pykue.cli ... worker MODULE:ATTR`` started in a session
of its own, so a terminal's Ctrl-C reaches only the parent, which forwards each
SIGINT/SIGTERM to every child exactly once: the first stops them gracefully, a
second forces them. If a child dies on its own, the others are stopped too and
the parent exits 1.
"""

from __future__ import annotations

import asyncio
import ctypes
import signal
import sys

from .base import PROG, say

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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
