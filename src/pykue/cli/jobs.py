"""The job commands: ``pykue enqueue`` (one job, optionally waiting for it, or a JSON
Lines file of them in bulk; either may depend on other jobs), ``pykue jobs
list|show|tree|retry|remove`` and ``pykue stats`` (jobs per state, overall and per type
with the type's limits; with ``--queues A,B`` or ``--shards K``, per queue over several
queues, and their sum).

Bad input is refused before Redis is reached (exit 2): a bulk file is checked line by
line, and the job options with the Job's own rules, before anything is enqueued.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import IO, Any

import click
import orjson
from redis.exceptions import RedisError

from ..admin import PAGE_LIMIT
from ..errors import InvalidArgument, InvalidJob, InvalidState, PykueError
from ..job import Job, dumps
from ..queue import Queue
from ..stats import add_counts
from . import options as params
from .options import Options
from .render import Shown, counts_table, job_details, jobs_table, print_json, tree_text
from .runtime import CliError, opened, run, say

CHUNK = 500  # jobs per add_bulk call of a bulk enqueue
# A line's JSON may be longer than the data it encodes (spaces, \u escapes), not more.
LINE_FACTOR = 4


# -- enqueue ---------------------------------------------------------------------------


# options checked together: a key and its window
PAIRED = {
    "unique_for": ("unique", "unique_for"),
    "debounce": ("debounce", "debounce_for"),
    "debounce_for": ("debounce", "debounce_for", "delay"),
}


def build_job(queue: Queue, job_type: str, data: dict[str, Any], opts: dict[str, Any]) -> Job:
    """The job, validated as saving would (payload size included); bad input is exit 2.

    Each option is first checked on its own (with the one it pairs with: a key and its
    window), so that the error names the option."""
    for option in opts:
        together: dict[str, Any] = {name: opts.get(name) for name in PAIRED.get(option, (option,))}
        try:
            queue.create(job_type, {}, **together)
        except InvalidArgument as exc:
            flag = option.replace("_", "-")
            raise click.BadParameter(str(exc), param_hint=f"'--{flag}'") from None
    try:
        job = queue.create(job_type, data, **opts)
        size = len(dumps(job.data))
    except InvalidJob as exc:
        raise click.UsageError(str(exc)) from None
    if size > queue.max_payload:
        raise click.UsageError(f"job data is {size} bytes, over the limit of {queue.max_payload}")
    return job


def read_jobs(source: IO[bytes], max_payload: int) -> list[dict[str, Any]]:
    """The job data of each non-blank line; a bad line is a UsageError naming it.

    A line is read at most ``LINE_FACTOR * max_payload`` bytes at a time, so a file with
    no line ends (``/dev/zero``) is refused there instead of filling memory."""
    name = getattr(source, "name", "input")
    shown = "stdin" if name in ("-", "<stdin>") else str(name)
    longest = LINE_FACTOR * max_payload
    items: list[dict[str, Any]] = []
    for number in itertools.count(1):
        raw = source.readline(longest + 1)
        if not raw:
            break
        where = f"{shown} line {number}"
        if len(raw) > longest:
            raise click.UsageError(f"{where} is longer than {longest} bytes")
        if not raw.strip():
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise click.UsageError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise click.UsageError(f"{where}: expected a JSON object, got {params.json_kind(data)}")
        try:
            size = len(dumps(data))
        except InvalidJob as exc:
            raise click.UsageError(f"{where}: {exc}") from None
        if size > max_payload:
            raise click.UsageError(f"{where}: job data is {size} bytes, over {max_payload}")
        items.append(data)
    if not items:
        raise click.UsageError(f"{shown} holds no jobs")
    return items


async def enqueue_bulk(
    queue: Queue, job_type: str, items: list[dict[str, Any]], opts: dict[str, Any]
) -> int:
    """Save ``items`` as jobs with ``queue.add_bulk``, CHUNK at a time, with a progress bar
    on stderr when it is a terminal (a log or a pipe gets the error line alone). Returns
    how many were created."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    created = 0
    columns = (TextColumn("enqueueing {task.description}"), BarColumn(), MofNCompleteColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task(job_type, total=len(items))
        for start in range(0, len(items), CHUNK):
            jobs = [queue.create(job_type, data, **opts) for data in items[start : start + CHUNK]]
            try:
                await queue.add_bulk(jobs)
            except (PykueError, RedisError) as exc:
                raise CliError(f"{exc} ({created} of {len(items)} jobs were created)") from None
            created += len(jobs)
            progress.advance(task, len(jobs))
    return created


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
@params.PRIORITY
@click.option(
    "--delay",
    metavar="SECONDS",
    callback=params.seconds,
    default="0",
    help="Seconds before the job may run.",
)
@params.attempts_option("the job")
@params.BACKOFF
@params.TTL
@click.option("--unique", metavar="KEY", help="A save while a job holds KEY returns that job.")
@click.option(
    "--unique-for",
    metavar="SECONDS",
    callback=params.seconds,
    help="With --unique: KEY is held this long after the job is made (else while it exists).",
)
@click.option(
    "--debounce",
    metavar="KEY",
    help="With --debounce-for: a save of KEY while its job waits gives it the new data.",
)
@click.option(
    "--debounce-for",
    metavar="SECONDS",
    callback=params.seconds,
    help="With --debounce: the job waits this long, again after each save of KEY.",
)
@click.option("--limit-key", metavar="KEY", help="The key the type's per-key rate counts it under.")
@click.option(
    "--depends-on",
    metavar="ID",
    multiple=True,
    callback=params.job_ids,
    help="Run only after job ID has completed (repeat for several); meanwhile the job "
    "is waiting. ID must be a job of this queue.",
)
@click.option(
    "--on-dependency-failure",
    "on_dependency_failure",
    type=params.POLICY,
    help="With --depends-on, when a dependency fails for good: fail too (the default), "
    "ignore it and run, or wait for a retry of it.",
)
@click.option("--wait", is_flag=True, help="Wait for the job to end and print its result (JSON).")
@click.option(
    "--timeout",
    metavar="SECONDS",
    callback=params.seconds_from("timeout", 0.001),
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
    unique: str | None,
    unique_for: float | None,
    debounce: str | None,
    debounce_for: float | None,
    limit_key: str | None,
    depends_on: list[int],
    on_dependency_failure: str | None,
    wait: bool,
    timeout: float | None,
) -> None:
    """Enqueue a job of TYPE with JSON data and print its id.

    \b
      pykue enqueue email '{"to": "a@b.c"}' --priority high --attempts 3
      pykue enqueue email '{"to": "a@b.c"}' --wait --timeout 30
      pykue enqueue email --file jobs.jsonl
      pykue enqueue report '{}' --depends-on 3 --depends-on 4

    With --wait, the job's result is printed as JSON once it completes; a failed
    job exits 1 with its error. With --depends-on, the job is waiting until those
    jobs have completed (with --file, every job of the file waits for them).
    """
    if data is not None and source is not None:
        raise click.UsageError("give JSON or --file, not both")
    if data is None and source is None:
        raise click.UsageError("Missing argument 'JSON' (or --file FILE)")
    if timeout is not None and not wait:
        raise click.UsageError("--timeout needs --wait")
    if wait and source is not None:
        raise click.UsageError("--wait works with one job, not with --file")
    if on_dependency_failure is not None and not depends_on:
        raise click.UsageError("--on-dependency-failure needs --depends-on")
    opts: dict[str, Any] = {
        "priority": priority,
        "attempts": attempts,
        "backoff": backoff,
        "delay": delay,
        "ttl": ttl,
    }
    keyed = {
        "unique": unique,
        "unique_for": unique_for,
        "debounce": debounce,
        "debounce_for": debounce_for,
        "limit_key": limit_key,
        "depends_on": depends_on or None,
        "on_dependency_failure": on_dependency_failure,
    }
    opts.update({name: value for name, value in keyed.items() if value is not None})
    queue = options.queue()
    if source is not None:
        build_job(queue, job_type, {}, opts)  # the options, checked once
        items = read_jobs(source, queue.max_payload)
        created = run(save_many(queue, job_type, items, opts))
        say(f"created {created} jobs of type {job_type}")
        return
    assert data is not None
    run(save_one(queue, build_job(queue, job_type, data, opts), wait, timeout))


# -- jobs list|show|retry|remove -------------------------------------------------------


@click.group()
def jobs() -> None:
    """List jobs, show one or its tree of dependencies, retry a failed one or remove one."""


async def _list(queue: Queue, state: str | None, **page: Any) -> list[Job]:
    async with opened(queue):
        return await queue.jobs(state, **page)


@jobs.command("list", short_help="List jobs by state, type and index range.")
@click.option("--state", type=params.STATE, help="Only jobs in this state (default: every state).")
@click.option(
    "--type", "job_type", metavar="TYPE", callback=params.name, help="Only jobs of this type."
)
@click.option("--start", metavar="INDEX", callback=params.index, default="0", show_default=True)
@click.option(
    "--stop",
    metavar="INDEX",
    callback=params.index,
    help="Last index shown, inclusive.  [default: START+99]",
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
    if stop < start:
        raise click.BadParameter(f"--stop {stop} is before --start {start}", param_hint="--stop")
    if stop - start >= PAGE_LIMIT:
        raise click.BadParameter(f"at most {PAGE_LIMIT} jobs at a time", param_hint="--stop")
    found = run(_list(options.queue(), state, type=job_type, start=start, stop=stop, order=order))
    if as_json:
        print_json([job.to_dict() for job in found])
    else:
        jobs_table(found)


async def _show(queue: Queue, job_id: int, as_json: bool) -> Shown:
    async with opened(queue):
        job = await queue.get_job(job_id)
        log, errors = await queue.get_log(job_id), await queue.get_errors(job_id)
        dependents = await queue.dependents(job_id)
        # the text names each dependency and dependent with its type and state: the
        # tree's first level holds them, read in one round trip per level
        tree = None if as_json else await queue.tree(job_id)
        return Shown(job, log, errors, dependents, tree)


@jobs.command("show", short_help="Show a job with its log, errors and dependencies.")
@click.argument("job_id", metavar="ID", callback=params.job_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
def show(options: Options, job_id: int, as_json: bool) -> None:
    """Show a job's fields, what it depends on and what depends on it, its log lines
    and each failed attempt with its traceback.

    --json prints the job as 'jobs list --json' does (its depends_on ids included) with
    its dependents' ids, log and errors; 'pykue jobs tree ID --json' has the types,
    states and outcomes of the dependencies.
    """
    found = run(_show(options.queue(), job_id, as_json))
    if as_json:
        view = found.job.to_dict()
        print_json(
            {**view, "dependents": found.dependents, "log": found.log, "errors": found.errors}
        )
    else:
        job_details(found)


async def _tree(queue: Queue, job_id: int) -> dict[str, Any]:
    async with opened(queue):
        return await queue.tree(job_id)


@jobs.command("tree", short_help="Show what a job waits for, recursively, and what waits for it.")
@click.argument("job_id", metavar="ID", callback=params.job_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_obj
def tree(options: Options, job_id: int, as_json: bool) -> None:
    """Show the job, what it depends on, what those depend on and so on, each as
    '#ID TYPE STATE (OUTCOME)', and the jobs that depend on it.

    OUTCOME is how a dependency ended as its dependent recorded it: complete, failed,
    ignored, removed, or pending while unfinished. A job met a second time (two jobs
    depending on it) is marked repeated, without its dependencies again; at most
    1,000 jobs are shown.
    """
    found = run(_tree(options.queue(), job_id))
    if as_json:
        print_json(found)
    else:
        tree_text(found)


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


async def _remove(queue: Queue, job_id: int, force: bool) -> None:
    async with opened(queue):
        try:
            await queue.remove(job_id, force=force)
        except InvalidState as exc:
            raise CliError(f"{exc} (on the command line: --force)") from None


@jobs.command("remove")
@click.argument("job_id", metavar="ID", callback=params.job_id)
@click.option(
    "--force",
    is_flag=True,
    help="Remove it even if jobs wait for it: they fail with 'dependency ID removed'.",
)
@click.pass_obj
def remove(options: Options, job_id: int, force: bool) -> None:
    """Delete a job in any state (a worker running it loses its lease).

    A job that other jobs wait for (they depend on it) is removed only with --force.
    """
    run(_remove(options.queue(), job_id, force))
    say(f"job {job_id} removed")


# -- stats -----------------------------------------------------------------------------


async def collect(queue: Queue) -> dict[str, Any]:
    """``{"prefix", "all": counts, "types": {type: counts}, "paused": [types],
    "limits": {type: Limits.to_dict()}}`` (``limits``: the types that have any)."""
    async with opened(queue):
        overall = await queue.counts()
        found = await queue.type_stats()
    return {
        "prefix": queue.keys.prefix,
        "all": overall,
        "types": {each.name: each.counts for each in found},
        "paused": [each.name for each in found if each.paused],
        "limits": {each.name: each.limits.to_dict() for each in found if each.limits},
    }


async def collect_many(queues: list[Queue]) -> dict[str, Any]:
    """``{"queues": [collect() of each queue], "all": summed counts}``; each queue is
    asked on its own (each sits in its own cluster slot), all at once."""
    found = await asyncio.gather(*(collect(queue) for queue in queues))
    return {"queues": found, "all": add_counts(each["all"] for each in found)}


@click.command(short_help="Count jobs per state, overall and per type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@params.many_queues("Count", "a row each, and their sum")
@click.pass_obj
def stats(options: Options, as_json: bool, prefixes: list[str] | None, shards: int | None) -> None:
    """Count the jobs in each state (inactive, active, complete, failed, delayed,
    waiting), overall and per job type; or per queue over several queues."""
    queues = options.queues(prefixes, shards)
    if queues is not None:
        found = run(collect_many(queues))
        if as_json:
            print_json(found)
            return
        rows = {each["prefix"]: each["all"] for each in found["queues"]}
        title = "pykue queues"
        if shards is not None:
            title = f"pykue sharded queue '{options.settings().prefix}'"
        # no "(paused)" marks: types are paused, not queues
        counts_table(title, {**rows, "all queues": found["all"]}, set(), first="queue")
        return
    found = run(collect(options.queue()))
    if as_json:
        print_json(found)
        return
    rows = {**found["types"], "all types": found["all"]}
    title = f"pykue queue '{found['prefix']}'"
    counts_table(title, rows, set(found["paused"]), limits=found["limits"])
