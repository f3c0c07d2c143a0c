"""``pykue stats``: how many jobs sit in each state, overall and per type; with
``--queues A,B`` or ``--shards K``, per queue over several queues, and their sum."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from ..queue import Queue
from ..stats import add_counts
from . import params
from .base import Options, many_queues, opened, run
from .render import counts_table, print_json


async def collect(queue: Queue) -> dict[str, Any]:
    """``{"prefix", "all": counts, "types": {type: counts}, "paused": [types]}``."""
    async with opened(queue):
        overall = await queue.counts()
        names = await queue.types()
        per_type = {name: await queue.counts(name) for name in names}
        paused = [name for name in names if await queue.is_paused(name)]
    return {"prefix": queue.keys.prefix, "all": overall, "types": per_type, "paused": paused}


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
    """Count the jobs in each state (inactive, active, complete, failed, delayed),
    overall and per job type; or per queue over several queues."""
    queues = many_queues(options, prefixes, shards)
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
    counts_table(f"pykue queue '{found['prefix']}'", rows, set(found["paused"]))
