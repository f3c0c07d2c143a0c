"""``pykue stats``: how many jobs sit in each state, overall and per type."""

from __future__ import annotations

from typing import Any

import click

from ..queue import Queue
from .base import Options, opened, run
from .render import counts_table, print_json


async def collect(queue: Queue) -> dict[str, Any]:
    """``{"prefix", "all": counts, "types": {type: counts}, "paused": [types]}``."""
    async with opened(queue):
        overall = await queue.counts()
        names = await queue.types()
        per_type = {name: await queue.counts(name) for name in names}
        paused = [name for name in names if await queue.is_paused(name)]
    return {"prefix": queue.keys.prefix, "all": overall, "types": per_type, "paused": paused}


@click.command(short_help="Count jobs per state, overall and per type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def stats(options: Options, as_json: bool) -> None:
    """Count the jobs in each state (inactive, active, complete, failed, delayed),
    overall and per job type."""
    found = run(collect(options.queue()))
    if as_json:
        print_json(found)
        return
    rows = {**found["types"], "all types": found["all"]}
    counts_table(f"pykue queue '{found['prefix']}'", rows, set(found["paused"]))
