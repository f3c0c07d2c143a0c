"""ShardedQueue: one logical queue spread over several pykue queues.

Every pykue queue lives in one Redis Cluster slot (its ``{prefix}`` hash tag), so one
queue is served by one master. When a single queue is the bottleneck, a ShardedQueue
spreads its jobs over ``shards`` queues named ``PREFIX.0`` ... ``PREFIX.K-1``, which
the cluster places on different slots (and, with enough masters, different
machines). Producers pick a shard by a key (the same key always lands on the same
shard, so its jobs are claimed in order) or round-robin; workers consume every shard.
Job ids are per shard: a job is known by ``(job.queue.settings.prefix, job.id)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Mapping
from typing import Any

from .aio import cancel_all
from .errors import InvalidJob, check_int
from .job import Job
from .keys import check_name
from .queue import Queue
from .runner import Handler
from .stats import add_counts

MAX_SHARDS = 1024


class ShardedQueue:
    """``shards`` Queues sharing one name; other keyword arguments go to each Queue."""

    def __init__(
        self, url: str | None = None, *, prefix: str = "pykue", shards: int, **options: Any
    ) -> None:
        check_int("shards", shards, 1, MAX_SHARDS)
        check_name("prefix", f"{prefix}.{shards - 1}")  # the longest shard name must be valid
        self.shards = [Queue(url, prefix=f"{prefix}.{n}", **options) for n in range(shards)]
        self._turn = itertools.cycle(range(shards))

    def shard_for(self, key: str | None = None) -> Queue:
        """The shard for ``key`` (stable across processes and restarts), or the next one
        in turn when there is no key."""
        if key is None:
            return self.shards[next(self._turn)]
        if not isinstance(key, str):
            raise InvalidJob(f"a shard key must be a string, got {type(key).__name__}")
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return self.shards[int.from_bytes(digest, "big") % len(self.shards)]

    def create(
        self,
        job_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        **options: Any,
    ) -> Job:
        """A new, unsaved job on the shard ``key`` names (round-robin without a key)."""
        return self.shard_for(key).create(job_type, data, **options)

    async def add_bulk(self, jobs: list[Job]) -> list[Job]:
        """Save jobs made by ``create``, each shard's jobs in one go (shards in parallel).
        Every job is checked before any shard's jobs are sent. Each shard bounds its part
        by its ``save_timeout``; if one shard raises, the others are stopped and the
        error is raised: as with ``Queue.add_bulk``, the jobs that have an id were saved
        and calling this again with the same list saves every other job once."""
        shards = set(self.shards)
        if not isinstance(jobs, list) or not all(
            isinstance(job, Job) and job.queue in shards for job in jobs
        ):
            raise InvalidJob("add_bulk takes a list of jobs from this ShardedQueue's create()")
        groups: dict[Queue, list[Job]] = {}
        for job in jobs:
            groups.setdefault(job.queue, []).append(job)
        prepared = [queue._prepare(group) for queue, group in groups.items()]
        saves = [
            asyncio.ensure_future(queue._send(todo))
            for queue, todo in zip(groups, prepared, strict=True)
        ]
        try:
            await asyncio.gather(*saves)
        finally:
            await cancel_all(saves)  # one shard failed: the others' outcome is moot
        return jobs

    def process(self, job_type: str, handler: Handler, *, concurrency: int = 1) -> Handler:
        """Run ``handler`` for ``job_type`` on every shard, ``concurrency`` per shard."""
        for queue in self.shards:
            queue.process(job_type, handler, concurrency=concurrency)
        return handler

    async def run(self) -> None:
        """Process every shard until ``shutdown()`` (or SIGINT/SIGTERM, which stop all)."""
        runs = [asyncio.ensure_future(self.shards[0].run())]
        runs += [asyncio.ensure_future(q.run(handle_signals=False)) for q in self.shards[1:]]
        try:
            await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
            await self.shutdown()  # one shard stopped (a signal, an error): stop them all
            await asyncio.gather(*runs)
        finally:
            await cancel_all(runs)

    async def counts(self, type: str | None = None) -> dict[str, int]:
        """Jobs per state summed over the shards."""
        return add_counts(await asyncio.gather(*(q.counts(type) for q in self.shards)))

    async def shutdown(self, timeout: float = 10.0) -> None:
        await asyncio.gather(*(q.shutdown(timeout) for q in self.shards))

    async def close(self) -> None:
        await asyncio.gather(*(q.close() for q in self.shards))
