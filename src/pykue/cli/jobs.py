"""``pykue jobs list|show|retry|remove``: look at jobs and act on one."""

from __future__ import annotations

from typing import Any

import click

from ..errors import InvalidState
from ..job import Job
from ..queue import MAX_INDEX, PAGE_LIMIT, Queue
from . import params
from .base import CliError, Options, opened, run, say
from .render import job_details, jobs_table, print_json


@click.group()
def jobs() -> None:
    """List jobs, show one, retry a failed one or remove one."""


async def _list(queue: Queue, state: str | None, **page: Any) -> list[Job]:
    async with opened(queue):
        return await queue.jobs(state, **page)


@jobs.command("list", short_help="List jobs by state, type and index range.")
@click.option("--state", type=params.STATE, help="Only jobs in this state (default: every state).")
@click.option(
    "--type", "job_type", metavar="TYPE", callback=params.name, help="Only jobs of this type."
)
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--stop", type=click.IntRange(min=0), help="Last index shown, inclusive.  [default: START+99]"
)
@click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_jobs(
    options: Options,
    state: str | None,
    job_type: str | None,
    start: int,
    stop: int | None,
    order: str,
    as_json: bool,
) -> None:
    """List jobs by index range (at most 1,000 at a time), oldest first unless --order desc."""
    if stop is None:
        stop = start + 99
    for hint, value in (("--start", start), ("--stop", stop)):
        if value >= MAX_INDEX:  # Redis refuses an index past 2**63; ids stay below 2**53
            raise click.BadParameter(f"an index is below 2**53, got {value}", param_hint=hint)
    if stop < start:
        raise click.BadParameter(f"--stop {stop} is before --start {start}", param_hint="--stop")
    if stop - start >= PAGE_LIMIT:
        raise click.BadParameter(f"at most {PAGE_LIMIT} jobs at a time", param_hint="--stop")
    found = run(_list(options.queue(), state, type=job_type, start=start, stop=stop, order=order))
    if as_json:
        print_json([job.to_dict() for job in found])
    else:
        jobs_table(found)


async def _show(queue: Queue, job_id: int) -> tuple[Job, list[str], list[dict[str, Any]]]:
    async with opened(queue):
        job = await queue.get_job(job_id)
        return job, await queue.get_log(job_id), await queue.get_errors(job_id)


@jobs.command("show", short_help="Show a job with its log and errors.")
@click.argument("job_id", metavar="ID", callback=params.job_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
def show(options: Options, job_id: int, as_json: bool) -> None:
    """Show a job's fields, its log lines and each failed attempt with its traceback."""
    job, log, errors = run(_show(options.queue(), job_id))
    if as_json:
        print_json({**job.to_dict(), "log": log, "errors": errors})
    else:
        job_details(job, log, errors)


async def _retry(queue: Queue, job_id: int) -> None:
    async with opened(queue):
        try:
            await queue.retry(job_id)
        except InvalidState as exc:
            raise CliError(f"{exc}: only failed jobs can be retried") from None


@jobs.command("retry")
@click.argument("job_id", metavar="ID", callback=params.job_id)
@click.pass_obj
def retry(options: Options, job_id: int) -> None:
    """Move a failed job back to inactive, with its attempts reset."""
    run(_retry(options.queue(), job_id))
    say(f"job {job_id} retried")


async def _remove(queue: Queue, job_id: int) -> None:
    async with opened(queue):
        await queue.remove(job_id)


@jobs.command("remove")
@click.argument("job_id", metavar="ID", callback=params.job_id)
@click.pass_obj
def remove(options: Options, job_id: int) -> None:
    """Delete a job in any state (a worker running it loses its lease)."""
    run(_remove(options.queue(), job_id))
    say(f"job {job_id} removed")
