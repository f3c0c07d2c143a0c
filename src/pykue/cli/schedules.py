"""The commands of recurring jobs and limits: ``pykue schedules list|add|remove`` (jobs
made by a cron expression or every N seconds) and ``pykue limits show|set`` (a job
type's rate, concurrency and per-key rate).

The CLI reads the text forms (``N/SECONDS``, ``none``, JSON data, numbers); every rule
about the values is pykue's own, checked by ``queue.schedule`` and ``queue.set_limits``
before anything is written, and a value they refuse is a bad argument (exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument, shown
from ..queue import Queue
from . import options as params
from .options import Options
from .render import describe, limits_table, limits_text, print_json, schedules_table
from .runtime import CliError, opened, run, say

if TYPE_CHECKING:
    from .. import Limits, Schedule


def refused(exc: InvalidArgument) -> click.UsageError:
    """A value pykue refused, as a bad argument of the command running (exit 2)."""
    return click.UsageError(str(exc), click.get_current_context(silent=True))


# -- schedules list|add|remove ---------------------------------------------------------


@click.group(short_help="List, add or remove schedules of recurring jobs.")
def schedules() -> None:
    """List, add or remove the schedules that make jobs by cron or every N seconds."""


async def _list(queue: Queue) -> list[Schedule]:
    async with opened(queue):
        return await queue.schedules()


@schedules.command("list", short_help="List the schedules with their next run.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def list_schedules(options: Options, as_json: bool) -> None:
    """List the schedules by key: the type of job each makes, its rule (cron or every),
    time zone, next run (local time) and the last job it made."""
    found = run(_list(options.queue()))
    if as_json:
        print_json([schedule.to_dict() for schedule in found])
    else:
        schedules_table(found)


async def _add(queue: Queue, job_type: str, key: str, fields: dict[str, Any]) -> Schedule:
    async with opened(queue):
        try:
            return await queue.schedule(job_type, key=key, **fields)
        except InvalidArgument as exc:
            raise refused(exc) from None


@schedules.command("add", short_help="Create or replace a schedule.")
@click.argument("job_type", metavar="TYPE", callback=params.name)
@click.option(
    "--key",
    required=True,
    metavar="KEY",
    help="The schedule's name; adding a key that exists replaces its schedule.",
)
@click.option(
    "--cron",
    metavar="EXPR",
    help="A cron rule (5 fields, or 6 with seconds first), e.g. '0 3 * * *'.",
)
@click.option(
    "--every", metavar="SECONDS", callback=params.seconds, help="Make a job every SECONDS."
)
@click.option(
    "--tz",
    metavar="TZ",
    default="UTC",
    show_default=True,
    help="The IANA time zone --cron is read in, e.g. 'Europe/Paris'.",
)
@click.option(
    "--data", metavar="JSON", callback=params.json_object, help="Each job's data, a JSON object."
)
@click.option(
    "--catch-up/--no-catch-up",
    default=True,
    help="When workers were all down past several runs: make one job for them (the "
    "default) or none.",
)
@params.PRIORITY
@params.attempts_option("each job")
@params.BACKOFF
@params.TTL
@click.option(
    "--limit-key",
    metavar="KEY",
    help="Each job's key for its type's per-key rate limit (see 'pykue limits').",
)
@click.pass_obj
def add(
    options: Options,
    job_type: str,
    key: str,
    cron: str | None,
    every: float | None,
    tz: str,
    data: dict[str, Any] | None,
    catch_up: bool,
    priority: int,
    attempts: int,
    backoff: dict[str, Any] | None,
    ttl: float | None,
    limit_key: str | None,
) -> None:
    """Make a job of TYPE on a schedule: by a cron expression in a time zone, or every
    SECONDS. A schedule with the same --key is replaced.

    \b
      pykue schedules add report --key nightly --cron '0 3 * * *' --tz Europe/Paris
      pykue schedules add ping --key ping --every 30 --data '{"host": "db1"}'
    """
    if cron is not None and every is not None:
        raise click.UsageError("give --cron or --every, not both")
    if cron is None and every is None:
        raise click.UsageError("Missing option '--cron' or '--every'")
    fields = {
        "cron": cron,
        "every": every,
        "tz": tz,
        "data": data,
        "catch_up": catch_up,
        "priority": priority,
        "attempts": attempts,
        "backoff": backoff,
        "ttl": ttl,
        "limit_key": limit_key,
    }
    schedule = run(_add(options.queue(), job_type, key, fields))
    say(f"schedule {schedule.key} saved: {describe(schedule)}")


async def _remove(queue: Queue, key: str) -> bool:
    async with opened(queue):
        try:
            return await queue.unschedule(key)
        except InvalidArgument as exc:
            raise refused(exc) from None


@schedules.command("remove")
@click.argument("key", metavar="KEY")
@click.pass_obj
def remove(options: Options, key: str) -> None:
    """Delete a schedule; the jobs it made stay."""
    if not run(_remove(options.queue(), key)):
        raise CliError(f"schedule {shown(key)} not found")
    say(f"schedule {key} removed")


# -- limits show|set -------------------------------------------------------------------


@click.group(short_help="Show or set job types' rate and concurrency limits.")
def limits() -> None:
    """Show or set the limits of job types: rate, concurrency, per-key rate."""


async def _show(queue: Queue, job_type: str | None) -> list[dict[str, Any]]:
    async with opened(queue):
        if job_type is not None:
            return [{"type": job_type, "limits": (await queue.limits(job_type)).to_dict()}]
        return [
            {"type": each.name, "limits": each.limits.to_dict()}
            for each in await queue.type_stats()
            if each.limits  # any limit set
        ]


@limits.command("show", short_help="Show the limits of every type that has some, or of one.")
@click.argument("job_type", metavar="TYPE", callback=params.name, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def show(options: Options, job_type: str | None, as_json: bool) -> None:
    """Show the limits of TYPE, or of every type that has a limit."""
    rows = run(_show(options.queue(), job_type))
    if as_json:
        print_json(rows[0] if job_type is not None else rows)
    else:
        limits_table(rows)


async def _set(queue: Queue, job_type: str, changes: dict[str, Any]) -> Limits:
    async with opened(queue):
        try:
            return await queue.set_limits(job_type, **changes)
        except InvalidArgument as exc:
            raise refused(exc) from None


@limits.command("set", short_help="Set or remove limits of a job type.")
@click.argument("job_type", metavar="TYPE", callback=params.name)
@click.option(
    "--rate",
    metavar="N/SECONDS|none",
    callback=params.rate,
    help="At most N jobs of TYPE start per SECONDS ('none': no rate limit).",
)
@click.option(
    "--concurrency",
    metavar="N|none",
    callback=params.int_or_none,
    help="At most N jobs of TYPE run at once, over all workers ('none': no limit).",
)
@click.option(
    "--key-rate",
    metavar="N/SECONDS|none",
    callback=params.rate,
    help="At most N jobs of TYPE with the same limit key start per SECONDS ('none': no limit).",
)
@click.pass_obj
def set_limits(
    options: Options,
    job_type: str,
    rate: tuple[int, float] | params.Unchanged | None,
    concurrency: int | params.Unchanged | None,
    key_rate: tuple[int, float] | params.Unchanged | None,
) -> None:
    """Set the limits given of TYPE; the others keep their value.

    \b
      pykue limits set email --rate 100/60 --concurrency 5
      pykue limits set email --rate none
    """
    given = {"rate": rate, "concurrency": concurrency, "key_rate": key_rate}
    changes = {name: value for name, value in given.items() if value is not params.KEEP}
    if not changes:
        raise click.UsageError("nothing to set: give --rate, --concurrency or --key-rate")
    found = run(_set(options.queue(), job_type, changes))
    say(f"limits of {job_type}: {limits_text(found.to_dict())}")
