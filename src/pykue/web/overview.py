"""``create_overview_app(queues)``: one dashboard over several queues.

Each queue lives in its own Redis Cluster slot, so nothing here asks Redis about two
queues at once: the overview asks every queue on its own (concurrently) and adds the
answers up. A queue whose Redis cannot be reached shows its error and the others
still show. Each queue's full dashboard and JSON API is mounted at ``q/PREFIX/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import stats
from ..backend import TypeStats
from ..errors import ConnectionFailed, InvalidJob, ServerRefused, shown
from ..keys import STATES
from ..queue import Queue
from ..sharded import MAX_SHARDS as MAX_QUEUES
from .api import authorize
from .app import BODY_PAYLOADS, RETRY_AFTER, STATIC, create_app, guard, keep_settings


def create_overview_app(
    queues: Sequence[Queue],
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
    token_reads: bool = False,
) -> FastAPI:
    """A dashboard over ``queues`` (a list of Queues with distinct prefixes, e.g. a
    ShardedQueue's ``shards``). ``token``, ``token_reads`` and ``allowed_hosts`` are
    ``create_app``'s, for the overview and every queue's own dashboard."""
    if not isinstance(queues, Sequence) or not all(isinstance(q, Queue) for q in queues):
        raise InvalidJob("create_overview_app takes a list of Queues")
    if not 1 <= len(queues) <= MAX_QUEUES:
        raise InvalidJob(f"an overview shows 1 to {MAX_QUEUES} queues, got {len(queues)}")
    prefixes = [queue.keys.prefix for queue in queues]
    twice = sorted({prefix for prefix in prefixes if prefixes.count(prefix) > 1})
    if twice:
        raise InvalidJob(f"each queue must have its own prefix; given twice: {shown(twice)}")
    app = FastAPI(title="pykue", summary="Several pykue queues, each with its own JSON API")
    keep_settings(app, token, token_reads)
    app.state.pykue_queues = list(queues)
    hosts = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts)
    needs_token = [Depends(authorize)]
    app.add_api_route("/queues", queue_list, methods=["GET"], dependencies=needs_token)
    app.add_api_route("/stats", summed_stats, methods=["GET"], dependencies=needs_token)
    app.add_api_route("/config", config, methods=["GET"])
    app.add_api_route("/", page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for queue in queues:
        each = create_app(
            queue, token=token, overview="../../", allowed_hosts=hosts, token_reads=token_reads
        )
        app.mount(f"/q/{queue.keys.prefix}", each)
    guard(app, hosts, BODY_PAYLOADS * max(queue.max_payload for queue in queues))
    return app


async def queue_stats(queue: Queue) -> dict[str, Any]:
    """One queue's counts, work time, paused types and the limits of the types that have
    some; ``error`` instead when its Redis cannot be reached."""
    try:
        await queue.connect()
        counts, totals, found = await asyncio.gather(
            queue.counts(), queue.totals(), queue.type_stats()
        )
    except (ConnectionFailed, ServerRefused) as exc:
        return {"prefix": queue.keys.prefix, "error": str(exc)}
    return {
        "prefix": queue.keys.prefix,
        "counts": counts,
        "workTime": totals.work_time_ms,
        "types": len(found),
        "paused": [each.name for each in found if each.paused],
        "limits": limited_types(found),
    }


def limited_types(found: list[TypeStats]) -> dict[str, dict[str, Any]]:
    """The limits of each type that has any, as JSON, by type."""
    return {each.name: each.limits.to_dict() for each in found if each.limits}


async def gather_stats(request: Request) -> list[dict[str, Any]]:
    queues: list[Queue] = request.app.state.pykue_queues
    return list(await asyncio.gather(*(queue_stats(queue) for queue in queues)))


def summed(found: list[dict[str, Any]]) -> dict[str, int]:
    reached = [entry for entry in found if "error" not in entry]
    if not reached:
        raise HTTPException(503, found[0]["error"], headers=RETRY_AFTER)
    total = stats.add_counts(entry["counts"] for entry in reached)
    return {**total, "workTime": sum(entry["workTime"] for entry in reached)}


async def queue_list(request: Request) -> dict[str, Any]:
    """``{"queues": [per queue], "all": summed counts and workTime, "unreachable": n}``."""
    found = await gather_stats(request)
    unreachable = sum("error" in entry for entry in found)
    return {"queues": found, "all": summed(found), "unreachable": unreachable}


async def summed_stats(request: Request) -> dict[str, int]:
    """Kue's ``/stats`` shape, summed over the queues that could be reached."""
    total = summed(await gather_stats(request))
    return {
        **{f"{state}Count": total[state] for state in STATES},
        "workTime": total["workTime"],
    }


async def config(request: Request) -> dict[str, Any]:
    queues: list[Queue] = request.app.state.pykue_queues
    found = {
        "tokenRequired": bool(request.app.state.pykue_token),
        "prefixes": [queue.keys.prefix for queue in queues],
    }
    return found | ({"tokenReads": True} if request.app.state.pykue_token_reads else {})


async def page() -> FileResponse:
    return FileResponse(str(STATIC / "overview.html"), media_type="text/html")
