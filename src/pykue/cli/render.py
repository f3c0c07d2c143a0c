"""How the CLI shows counts, jobs, schedules and limits: rich tables for people, JSON for programs.

User text (types, data, errors) is passed to rich as ``Text`` so that brackets in it
are never read as markup.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..flows import MAX_TREE
from ..job import PRIORITIES, Job
from ..keys import STATES
from .runtime import say

if TYPE_CHECKING:
    from rich.console import Console

    from .. import Schedule

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


def seconds(value: float) -> str:
    """A number of seconds as short as it reads exactly (60, 0.5, 86400)."""
    return f"{value:.15g}"


def counts_table(
    title: str,
    rows: dict[str, dict[str, int]],
    paused: set[str],
    first: str = "type",
    limits: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Jobs per state of each row; with ``limits`` (``Limits.to_dict()`` by row name), a
    column of them."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    table.add_column(first)
    for state in STATES:
        table.add_column(state, justify="right")
    table.add_column("total", justify="right")
    if limits:
        table.add_column("limits")
    for name, counts in rows.items():
        label = Text(name, style="bold" if name in ("all types", "all queues") else "")
        if name in paused:
            label.append(" (paused)", style="yellow")
        cells = [str(counts[s]) for s in STATES] + [str(sum(counts.values()))]
        if limits:
            cells.append(limits_text(limits[name]) if name in limits else "")
        table.add_row(label, *cells)
    console().print(table)


def rate_text(rate: dict[str, Any] | None) -> str:
    return "-" if rate is None else f"{rate['count']} per {seconds(rate['per'])} s"


def limits_text(limits: dict[str, Any]) -> str:
    """``Limits.to_dict()`` as ``rate 100 per 60 s, concurrency 5, key rate -``."""
    concurrency = limits["concurrency"]
    return (
        f"rate {rate_text(limits['rate'])}, concurrency {concurrency or '-'}, "
        f"key rate {rate_text(limits['key_rate'])}"
    )


def limits_table(rows: list[dict[str, Any]]) -> None:
    """Rows of ``{"type": name, "limits": Limits.to_dict()}``."""
    from rich.table import Table
    from rich.text import Text

    if not rows:
        say("no limits")
        return
    table = Table()
    table.add_column("type", no_wrap=True)
    table.add_column("rate", no_wrap=True)
    table.add_column("concurrency", justify="right", no_wrap=True)
    table.add_column("key rate", no_wrap=True)
    for row in rows:
        limits = row["limits"]
        table.add_row(
            Text(row["type"]),
            rate_text(limits["rate"]),
            str(limits["concurrency"] or "-"),
            rate_text(limits["key_rate"]),
        )
    console().print(table)


def rule(schedule: Schedule) -> str:
    """``cron 0 3 * * *`` or ``every 90 s``."""
    if schedule.cron is not None:
        return f"cron {schedule.cron}"
    return "-" if schedule.every is None else f"every {seconds(schedule.every)} s"


def describe(schedule: Schedule) -> str:
    """``cron 0 3 * * * (Europe/Paris), next run 2025-06-01 03:00:00``."""
    return f"{schedule.rule.describe()}, next run {when(schedule.next_run_at)}"


def schedules_table(schedules: list[Schedule]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not schedules:
        say("no schedules")
        return
    table = Table()
    table.add_column("key", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("tz", no_wrap=True)
    table.add_column("next run", no_wrap=True)
    table.add_column("last job", justify="right", no_wrap=True)
    for schedule in schedules:
        table.add_row(
            Text(schedule.key),
            Text(schedule.type),
            Text(rule(schedule)),
            Text(schedule.tz),
            when(schedule.next_run_at),
            "-" if schedule.last_job_id is None else str(schedule.last_job_id),
        )
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


STATE_STYLES = {
    "complete": "green",
    "failed": "red",
    "active": "cyan",
    "delayed": "yellow",
    "waiting": "magenta",
}


@dataclass(frozen=True)
class Shown:
    """What ``jobs show`` prints: the job, its log, its errors, the ids of its dependents
    and (for the text) its tree (``Admin.tree``)."""

    job: Job
    log: list[str]
    errors: list[dict[str, Any]]
    dependents: list[int]
    tree: dict[str, Any] | None


def node_text(node: dict[str, Any], dependency: bool = True) -> str:
    """A node of a tree as ``#3 fetch complete (complete)``: id, type, state and, for a
    dependency, how it ended as its dependent recorded it (pending while unfinished).
    A dependency removed since shows as ``#3 (job gone) (removed)``."""
    if node.get("type") is None:
        text = f"#{node['id']} (job gone)"
    else:
        text = f"#{node['id']} {node['type']} {node.get('state') or '-'}"
    if dependency:
        text += f" ({node.get('outcome') or 'pending'})"
    if node.get("repeated"):
        text += " (repeated: its dependencies are shown once)"
    return text


def tree_text(tree: dict[str, Any]) -> None:
    """``Admin.tree``'s dict, indented two spaces a level, then the jobs depending on
    its root. Walked with a stack, not recursion: a tree may be 100 levels deep."""
    lines = [node_text(tree, dependency=False)]
    stack = [(child, 1) for child in reversed(tree["depends_on"])]
    while stack:
        node, depth = stack.pop()
        lines.append("  " * depth + node_text(node))
        stack.extend((child, depth + 1) for child in reversed(node.get("depends_on", [])))
    if tree.get("truncated"):
        lines.append(f"(truncated: at most {MAX_TREE} jobs are shown)")
    dependents = tree.get("dependents", [])
    lines.append(f"dependents ({len(dependents)})")
    lines.extend("  " + node_text(node, dependency=False) for node in dependents)
    say("\n".join(lines))


def dependency_lines(found: Shown) -> list[tuple[str, list[str]]]:
    """The sections of ``jobs show`` about dependencies, each a title and its lines:
    what the job depends on and what depends on it (none when it has neither)."""
    job, tree = found.job, found.tree or {}
    sections = []
    listed = [node_text(node) for node in tree.get("depends_on", [])]
    if job.depends_on:
        missing = len(job.depends_on) - len(listed)
        if missing > 0:  # the tree stops at MAX_TREE nodes
            listed.append(f"and {missing} more (see 'pykue jobs tree {job.id} --json')")
        sections.append((f"depends on ({len(job.depends_on)})", listed))
    named = [node_text(node, dependency=False) for node in tree.get("dependents", [])]
    if found.dependents:
        missing = len(found.dependents) - len(named)
        if missing > 0:  # past MAX_TREE, or removed while being read
            named.append(f"and {missing} more")
        sections.append((f"dependents ({len(found.dependents)})", named))
    return sections


def job_details(found: Shown) -> None:
    from rich.table import Table
    from rich.text import Text

    job, log, errors = found.job, found.log, found.errors
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
    if job.depends_on:
        done = len(job.depends_on) - job.pending_dependencies
        rows.append(("dependencies", f"{done} of {len(job.depends_on)} done"))
        rows.append(("on dependency failure", job.on_dependency_failure))
    if job.failed_by is not None:
        rows.append(("failed by", f"dependency {job.failed_by}"))
    for name in ("created", "updated", "started", "completed", "failed", "run"):
        rows.append((f"{name} at", when(getattr(job, f"{name}_at"))))
    if job.corrupt:
        rows.insert(1, ("corrupt", f"its Redis hash cannot be read whole: {job.corrupt}"))
    for name, value in rows:
        grid.add_row(name, Text(value, style="red" if name == "corrupt" else ""))
    out.print(grid)
    for title, lines in dependency_lines(found):
        out.print()
        out.print(Text(title, style="bold"))
        for line in lines:
            out.print(Text("  " + line))
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
