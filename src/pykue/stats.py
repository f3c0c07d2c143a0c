"""What the scripts count: totals, duration and wait histograms (read by the backend).

The Lua scripts keep these in Redis (one HINCRBY per event, in the same atomic step
as the state change), so every process sees the same figures: the dashboard, the
CLI and ``/metrics`` all read them here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .keys import STATES


def add_counts(many: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Jobs per state summed over several queues' ``counts()`` (asked one queue at a
    time: each sits in its own cluster slot)."""
    listed = list(many)
    return {state: sum(counts[state] for counts in listed) for state in STATES}


# Histogram bounds (ms) of run durations and queue waits; the scripts' BUCKETS table is
# written from this one (scripts/loader.py).
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000)


@dataclass
class Histogram:
    """Cumulative counts per upper bound (ms), as Prometheus wants them."""

    buckets: list[tuple[int, int]] = field(default_factory=list)
    count: int = 0
    sum_ms: int = 0


@dataclass
class Totals:
    work_time_ms: int = 0
    completed: int = 0
    failed: int = 0
    failed_attempts: int = 0
    scheduled: int = 0  # jobs made by schedules
    limited: int = 0  # claims a limit held back (took fewer jobs, or none)
    duration: Histogram = field(default_factory=Histogram)
    latency: Histogram = field(default_factory=Histogram)


def totals_from(values: Mapping[str, int]) -> Totals:
    """The Totals of the fields of a queue's stats hash (``keys.stats``)."""
    return Totals(
        work_time_ms=values.get("work_time", 0),
        completed=values.get("completed", 0),
        failed=values.get("failed", 0),
        failed_attempts=values.get("failed_attempts", 0),
        scheduled=values.get("scheduled", 0),
        limited=values.get("limited", 0),
        duration=_histogram(values, "duration"),
        latency=_histogram(values, "latency"),
    )


def _histogram(values: Mapping[str, int], name: str) -> Histogram:
    running, buckets = 0, []
    for bound in BUCKETS_MS:
        running += values.get(f"{name}_le_{bound}", 0)
        buckets.append((bound, running))
    return Histogram(buckets, values.get(f"{name}_count", 0), values.get(f"{name}_sum", 0))
