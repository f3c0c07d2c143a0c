"""The pykue worker's module: `pykue worker benchmarks.adapters.pykue_tasks:queue`."""

from __future__ import annotations

from pykue import Job, Queue

from ..common import handle_async, redis_url

queue = Queue(url=redis_url())


@queue.process("bench", concurrency=50)
async def bench(job: Job) -> None:
    await handle_async(job.data)
