"""``pykue enqueue TYPE JSON`` (one job, optionally waiting for it) or ``--file`` (bulk)."""

from __future__ import annotations

from typing import IO, Any

import click
import orjson

from ..errors import InvalidJob
from ..job import Job, dumps
from ..queue import Queue
from . import params
from .base import Options, opened, run, say
from .bulk import enqueue_bulk, read_jobs


def build_job(queue: Queue, job_type: str, data: dict[str, Any], opts: dict[str, Any]) -> Job:
    """The job, validated as saving would (payload size included); bad input is exit 2."""
    try:
        job = queue.create(job_type, data, **opts)
        size = len(dumps(job.data))
    except InvalidJob as exc:
        raise click.UsageError(str(exc)) from None
    if size > queue.max_payload:
        raise click.UsageError(f"job data is {size} bytes, over the limit of {queue.max_payload}")
    return job


async def save_one(queue: Queue, job: Job, wait: bool, timeout: float | None) -> None:
    async with opened(queue):
        await job.save()
        say(str(job.id))
        if wait:
            result = await job.wait(timeout)
            say(orjson.dumps(result).decode())


async def save_many(
    queue: Queue, job_type: str, items: list[dict[str, Any]], opts: dict[str, Any]
) -> int:
    async with opened(queue):
        return await enqueue_bulk(queue, job_type, items, opts)


@click.command(short_help="Enqueue a job (or a JSON Lines file of them).")
@click.argument("job_type", metavar="TYPE", callback=params.name)
@click.argument("data", metavar="JSON", callback=params.json_object, required=False)
@click.option(
    "--file",
    "source",
    type=click.File("rb"),
    help="Enqueue one job per line of this JSON Lines file ('-': stdin), all with the "
    "options given. Every line is checked before anything is enqueued.",
)
@click.option(
    "--priority",
    metavar=params.PRIORITY_METAVAR,
    callback=params.priority,
    default="normal",
    show_default=True,
)
@click.option(
    "--delay",
    metavar="SECONDS",
    callback=params.seconds,
    default="0",
    help="Seconds before the job may run.",
)
@click.option("--attempts", type=click.IntRange(1, 10_000), default=1, show_default=True)
@click.option(
    "--backoff",
    callback=params.backoff,
    metavar="fixed|exponential[:SECONDS]",
    help="Delay before each retry of a failed attempt.",
)
@click.option(
    "--ttl",
    metavar="SECONDS",
    callback=params.positive_seconds,
    help="Seconds one attempt may run.",
)
@click.option("--wait", is_flag=True, help="Wait for the job to end and print its result (JSON).")
@click.option(
    "--timeout",
    metavar="SECONDS",
    callback=params.positive_seconds,
    help="With --wait: give up after this many seconds.",
)
@click.pass_obj
def enqueue(
    options: Options,
    job_type: str,
    data: dict[str, Any] | None,
    source: IO[bytes] | None,
    priority: int,
    delay: float,
    attempts: int,
    backoff: dict[str, Any] | None,
    ttl: float | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Enqueue a job of TYPE with JSON data and print its id.

    \b
      pykue enqueue email '{"to": "a@b.c"}' --priority high --attempts 3
      pykue enqueue email '{"to": "a@b.c"}' --wait --timeout 30
      pykue enqueue email --file jobs.jsonl

    With --wait, the job's result is printed as JSON once it completes; a failed
    job exits 1 with its error.
    """
    if data is not None and source is not None:
        raise click.UsageError("give JSON or --file, not both")
    if data is None and source is None:
        raise click.UsageError("Missing argument 'JSON' (or --file FILE)")
    if timeout is not None and not wait:
        raise click.UsageError("--timeout needs --wait")
    if wait and source is not None:
        raise click.UsageError("--wait works with one job, not with --file")
    opts = {
        "priority": priority,
        "attempts": attempts,
        "backoff": backoff,
        "delay": delay,
        "ttl": ttl,
    }
    queue = options.queue()
    if source is not None:
        build_job(queue, job_type, {}, opts)  # the options, checked once
        items = read_jobs(source, queue.max_payload)
        created = run(save_many(queue, job_type, items, opts))
        say(f"created {created} jobs of type {job_type}")
        return
    assert data is not None
    run(save_one(queue, build_job(queue, job_type, data, opts), wait, timeout))
