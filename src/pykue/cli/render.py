"""How the CLI shows counts and jobs: rich tables for people, JSON for programs.

User text (types, data, errors) is passed to rich as ``Text`` so that brackets in it
are never read as markup.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..job import PRIORITIES, Job
from ..keys import STATES
from .runtime import say

if TYPE_CHECKING:
    from rich.console import Console

PRIORITY_NAMES = {value: name for name, value in PRIORITIES.items()}


def print_json(value: Any) -> None:
    say(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def console() -> Console:
    """A console on stdout; a pipe gets wide lines rather than rich's 80 columns."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def when(ms: int | None) -> str:
    """Milliseconds since the epoch as local time, or '-'."""
    if ms is None:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # a corrupt hash's time, past year 9999
        return f"{ms} ms"


def priority(value: int) -> str:
    return PRIORITY_NAMES.get(value, str(value))


def compact(value: Any, limit: int = 60) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def counts_table(
    title: str, rows: dict[str, dict[str, int]], paused: set[str], first: str = "type"
) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    table.add_column(first)
    for state in STATES:
        table.add_column(state, justify="right")
    table.add_column("total", justify="right")
    for name, counts in rows.items():
        label = Text(name, style="bold" if name in ("all types", "all queues") else "")
        if name in paused:
            label.append(" (paused)", style="yellow")
        values = [str(counts[s]) for s in STATES]
        table.add_row(label, *values, str(sum(counts.values())))
    console().print(table)


def jobs_table(jobs: list[Job]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not jobs:
        say("no jobs")
        return
    table = Table()
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("priority", no_wrap=True)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("progress", justify="right", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("result / error", overflow="fold")
    for job in jobs:
        outcome = job.error if job.error else ("" if job.result is None else compact(job.result))
        if job.corrupt:
            outcome = f"corrupt job: {job.corrupt}"
        table.add_row(
            str(job.id),
            Text(job.type),
            Text(str(job.state), style=STATE_STYLES.get(str(job.state), "")),
            priority(job.priority),
            f"{job.attempts_made}/{job.attempts}",
            f"{job.percent}%",
            when(job.created_at),
            Text(outcome, style="red" if job.error or job.corrupt else ""),
        )
    console().print(table)


STATE_STYLES = {"complete": "green", "failed": "red", "active": "cyan", "delayed": "yellow"}


def job_details(job: Job, log: list[str], errors: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows: list[tuple[str, str]] = [
        ("id", str(job.id)),
        ("type", job.type),
        ("state", str(job.state)),
        ("priority", f"{priority(job.priority)} ({job.priority})"),
        ("attempts", f"{job.attempts_made} made of {job.attempts}"),
        (
            "progress",
            f"{job.percent}%"
            + ("" if job.progress_data is None else f" {compact(job.progress_data, 200)}"),
        ),
        ("data", compact(job.data, 2000)),
        ("result", "-" if job.result is None else compact(job.result, 2000)),
        ("error", job.error or "-"),
        ("backoff", "-" if not job.backoff else compact(job.backoff)),
        ("ttl", "-" if job.ttl is None else f"{job.ttl:g} s"),
        ("stalls", str(job.stalls)),
        ("worker", job.worker or "-"),
    ]
    for name in ("created", "updated", "started", "completed", "failed", "run"):
        rows.append((f"{name} at", when(getattr(job, f"{name}_at"))))
    if job.corrupt:
        rows.insert(1, ("corrupt", f"its Redis hash cannot be read whole: {job.corrupt}"))
    for name, value in rows:
        grid.add_row(name, Text(value, style="red" if name == "corrupt" else ""))
    out.print(grid)
    out.print()
    out.print(Text(f"log ({len(log)})", style="bold"))
    for line in log:
        out.print(Text("  " + line))
    out.print()
    out.print(Text(f"errors ({len(errors)})", style="bold"))
    for record in errors:
        attempt = record.get("attempt")
        head = f"  attempt {attempt if attempt is not None else '-'} at {when(record.get('at'))}"
        out.print(Text(f"{head} on {record.get('worker') or '-'}: {record.get('error')}"))
        trace = str(record.get("traceback") or "").rstrip()
        if trace:
            out.print(Text("\n".join("    " + t for t in trace.splitlines()), style="dim"))
