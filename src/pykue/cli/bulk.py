"""Bulk enqueue from a JSON Lines file: check every line, then save in chunks of 500."""

from __future__ import annotations

import itertools
from typing import IO, Any

import click
import orjson
from redis.exceptions import RedisError

from ..errors import InvalidJob, PykueError
from ..job import dumps
from ..queue import Queue
from .base import CliError
from .params import json_kind

CHUNK = 500
# A line's JSON may be longer than the data it encodes (spaces, \u escapes), not more.
LINE_FACTOR = 4


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
            raise click.UsageError(f"{where}: expected a JSON object, got {json_kind(data)}")
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
    on stderr. Returns how many were created."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    created = 0
    columns = (TextColumn("enqueueing {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
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
