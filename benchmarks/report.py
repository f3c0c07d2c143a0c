"""The Markdown report: medians and spreads per library and workload, ratios, targets."""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

PYKUE, CEILING = "pykue", "redis-py"
Result = dict[str, Any]


class Table:
    """Values per (library, metric) over the repeats."""

    def __init__(self, results: list[Result]) -> None:
        self.values: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.notes: dict[tuple[str, str], str] = {}
        self.settings: dict[tuple[str, str], str] = {}
        self.versions: dict[str, str] = {}
        self.capped: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.errors: list[str] = []
        for r in results:
            lib, workload = r["lib"], r["workload"]
            if "version" in r:
                self.versions[lib] = r["version"]
            if "settings" in r:
                self.settings[lib, workload] = r["settings"]
            if "error" in r:
                self.errors.append(f"{lib} {workload} (repeat {r.get('repeat')}): {r['error']}")
                continue
            if "skipped" in r:
                self.notes[lib, workload] = r["skipped"]
                continue
            if workload == "latency":
                for key in ("p50_ms", "p99_ms", "max_ms"):
                    self.values[lib, key].append(r[key])
            elif workload == "concurrency":
                self.values[lib, "concurrency"].append(r["seconds"])
                self.values[lib, "ideal"].append(r["ideal"])
            else:
                self.values[lib, workload].append(r["rate"])
            if "capped" in r:
                self.capped[lib, workload].append(r["capped"])
            if "drain" in r:
                self.values[lib, "drain"].append(r["drain"]["rate"])
                self.settings[lib, "drain"] = r["drain"]["settings"]
                if "capped" in r["drain"]:
                    self.capped[lib, "drain"].append(r["drain"]["capped"])

    def median(self, lib: str, metric: str) -> float | None:
        values = self.values.get((lib, metric))
        return statistics.median(values) if values else None

    def cell(self, lib: str, metric: str, fmt: Callable[[float], str], ratio: bool) -> str:
        values = self.values.get((lib, metric))
        if not values:
            note = self.notes.get((lib, metric))
            return f"— ({note})" if note else "—"
        mid = statistics.median(values)
        text = fmt(mid) + ("*" if (lib, metric) in self.capped else "")
        if len(values) > 1:
            text += f" ({fmt(min(values))}-{fmt(max(values))})"
        base = self.median(PYKUE, metric)
        if ratio and base and lib != PYKUE:
            text += f" · {mid / base:.2f}x"
        return text


def rate(value: float) -> str:
    return f"{value:,.0f}"


def two_places(value: float) -> str:
    """Milliseconds and seconds alike."""
    return f"{value:.2f}"


def render(
    results: list[Result], args: argparse.Namespace, machine: dict[str, str], command: str,
    day: str, elapsed: float,
) -> str:  # fmt: skip
    table = Table(results)
    libs = [lib for lib in args.libs if lib in table.versions]
    lines = [
        "# pykue benchmarks",
        "",
        f"Run on {day} with `{command}` ({elapsed / 60:.1f} minutes).",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['os']}, "
        f"Python {machine['python']}, Redis {machine['redis']} (a private server on loopback, "
        "flushed before every case).",
        "",
        f"Each figure is the median of {args.repeats} repeats ({args.latency_repeats} for "
        "latency), with the range in brackets; "
        "`· Nx` is the ratio to pykue (above 1 is faster than pykue for throughput, slower "
        "for times). Libraries ran in a shuffled order within each repeat.",
        "",
        "## Throughput (jobs per second)",
        "",
        f"- **enqueue**: {args.n:,} jobs with a small dict argument, one call per job.",
        f"- **bulk enqueue**: the same {args.n:,} jobs through the library's bulk call.",
        f"- **drain**: the {args.n:,} jobs just enqueued, emptied by one worker process "
        "(timed from the first job taken to the last completed, read from the library's "
        "own state in Redis).",
        "",
        "| Library | Version | enqueue | bulk enqueue | drain |",
        "|---|---|---|---|---|",
    ]
    for lib in libs:
        cells = [table.cell(lib, m, rate, True) for m in ("enqueue", "enqueue_bulk", "drain")]
        lines.append(f"| {lib} | {table.versions[lib]} | {' | '.join(cells)} |")
    names = {"enqueue": "enqueued", "enqueue_bulk": "bulk-enqueued", "drain": "drained"}
    capped = [
        f"{lib} {names[metric]} {min(counts):,}-{max(counts):,}"
        for (lib, metric), counts in sorted(table.capped.items())
    ]
    if capped:
        lines += ["", f"\\* timed over the first {args.cap:g} s only, to keep the run short; "
                  f"jobs done in that time (of {args.n:,}): {'; '.join(capped)}."]  # fmt: skip
    lines += [
        "",
        f"`{CEILING}` is the ceiling: a bare LPUSH per job and a BRPOP loop, with no job "
        "record, state, acknowledgement or retry.",
        "",
        "## Concurrency and latency",
        "",
        f"- **concurrency**: {args.sleepers} jobs that sleep 0.1 s, {args.concurrency} at "
        f"once in one worker process; ideal {args.sleepers * 0.1 / args.concurrency:.2f} s "
        "(first job's start to last job's end, recorded by the jobs).",
        f"- **latency**: {args.rate:.0f} jobs/s for {args.duration:.0f} s to a running "
        "worker; time from just before the enqueue call to the handler's first line.",
        "",
        "| Library | concurrency (s) | latency p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---|---|---|",
    ]
    for lib in libs:
        if lib == CEILING:
            continue
        cells = [table.cell(lib, "concurrency", two_places, True)]
        cells += [table.cell(lib, m, two_places, True) for m in ("p50_ms", "p99_ms", "max_ms")]
        lines.append(f"| {lib} | {' | '.join(cells)} |")
    lines += ["", "## Targets", "", *targets(table, args, libs)]
    lines += ["", "## Settings", "", "| Library | workload | settings |", "|---|---|---|"]
    for lib in libs:
        for workload in ("enqueue", "enqueue_bulk", "drain", "concurrency", "latency"):
            if (lib, workload) in table.settings and (lib, workload) not in table.notes:
                lines.append(f"| {lib} | {workload} | {table.settings[lib, workload]} |")
    if table.errors:
        lines += ["", "## Errors", ""] + [f"- {error}" for error in table.errors]
    return "\n".join(lines) + "\n"


def targets(table: Table, args: argparse.Namespace, libs: list[str]) -> list[str]:
    out: list[str] = []
    peers = [lib for lib in libs if lib not in (PYKUE, CEILING)]
    for metric, label in (("drain", "drain"), ("enqueue_bulk", "bulk enqueue")):
        ours = table.median(PYKUE, metric)
        if ours is None:
            continue
        rivals = [(table.median(lib, metric), lib) for lib in peers]
        known = [(value, lib) for value, lib in rivals if value is not None]
        if known:
            best, who = max(known)
            ratio = ours / best
            verdict = "met" if ratio >= 2 else f"missed: {ratio:.2f}x where 2x was asked"
            out.append(f"- {label}: pykue {rate(ours)} jobs/s is {ratio:.2f}x the fastest "
                       f"peer ({who}, {rate(best)}): **{verdict}**")  # fmt: skip
        ceiling = table.median(CEILING, metric)
        if ceiling:
            share = ours / ceiling
            verdict = "met" if share >= 0.5 else "missed"
            out.append(f"- {label}: pykue reaches {share:.0%} of the bare redis-py ceiling "
                       f"({rate(ceiling)} jobs/s; 50% asked): **{verdict}**")  # fmt: skip
    p99 = table.median(PYKUE, "p99_ms")
    if p99 is not None:
        verdict = "met" if p99 < 5 else "missed"
        out.append(f"- latency at {args.rate:.0f} jobs/s: pykue p99 {p99:.2f} ms "
                   f"(under 5 ms asked): **{verdict}**")  # fmt: skip
    took, ideal = table.median(PYKUE, "concurrency"), table.median(PYKUE, "ideal")
    if took is not None and ideal:
        over = took / ideal - 1
        verdict = "met" if over <= 0.10 else "missed"
        out.append(f"- concurrency: pykue {took:.3f} s against an ideal {ideal:.3f} s, "
                   f"{over:+.1%} (within 10% asked): **{verdict}**")  # fmt: skip
    return out
