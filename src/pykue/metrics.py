"""Prometheus text exposition of a queue: jobs by state, totals, duration and wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .keys import STATES
from .stats import Histogram

if TYPE_CHECKING:
    from .queue import Queue


async def render(queue: Queue) -> str:
    counts = await queue.counts()
    totals = await queue.totals()
    prefix = queue.keys.prefix  # names are [A-Za-z0-9_.:-]: safe inside a label
    lines = [
        "# HELP pykue_jobs Jobs in each state now.",
        "# TYPE pykue_jobs gauge",
        *(f'pykue_jobs{{queue="{prefix}",state="{s}"}} {counts[s]}' for s in STATES),
        "# HELP pykue_jobs_completed_total Jobs that completed.",
        "# TYPE pykue_jobs_completed_total counter",
        f'pykue_jobs_completed_total{{queue="{prefix}"}} {totals.completed}',
        "# HELP pykue_jobs_failed_total Jobs that failed for good.",
        "# TYPE pykue_jobs_failed_total counter",
        f'pykue_jobs_failed_total{{queue="{prefix}"}} {totals.failed}',
        "# HELP pykue_attempts_failed_total Failed attempts that were retried.",
        "# TYPE pykue_attempts_failed_total counter",
        f'pykue_attempts_failed_total{{queue="{prefix}"}} {totals.failed_attempts}',
        "# HELP pykue_jobs_scheduled_total Jobs made by schedules.",
        "# TYPE pykue_jobs_scheduled_total counter",
        f'pykue_jobs_scheduled_total{{queue="{prefix}"}} {totals.scheduled}',
        "# HELP pykue_claims_limited_total Claims a rate limit or concurrency cap held back.",
        "# TYPE pykue_claims_limited_total counter",
        f'pykue_claims_limited_total{{queue="{prefix}"}} {totals.limited}',
        "# HELP pykue_work_seconds_total Time spent running jobs.",
        "# TYPE pykue_work_seconds_total counter",
        f'pykue_work_seconds_total{{queue="{prefix}"}} {totals.work_time_ms / 1000}',
        *_histogram(
            "pykue_job_duration_seconds", "Run time of each attempt.", totals.duration, prefix
        ),
        *_histogram(
            "pykue_queue_wait_seconds", "Wait from ready to claimed.", totals.latency, prefix
        ),
    ]
    return "\n".join(lines) + "\n"


def _histogram(name: str, help_text: str, hist: Histogram, prefix: str) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for bound, count in hist.buckets:
        lines.append(f'{name}_bucket{{queue="{prefix}",le="{bound / 1000}"}} {count}')
    lines.append(f'{name}_bucket{{queue="{prefix}",le="+Inf"}} {hist.count}')
    lines.append(f'{name}_sum{{queue="{prefix}"}} {hist.sum_ms / 1000}')
    lines.append(f'{name}_count{{queue="{prefix}"}} {hist.count}')
    return lines
