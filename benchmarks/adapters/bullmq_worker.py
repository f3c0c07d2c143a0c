"""The bullmq worker: `python -m benchmarks.adapters.bullmq_worker CONCURRENCY`.

bullmq for Python has no worker CLI; its docs start a `Worker` in an asyncio program and
close it when a shutdown signal sets an event, which is what this does."""

from __future__ import annotations

import asyncio
import signal
import sys

from bullmq import Job, Worker  # type: ignore[import-untyped]

from ..common import handle_async, redis_url
from .bullmq_adapter import QUEUE


async def process(job: Job, token: str) -> None:
    await handle_async(job.data)


async def main(concurrency: int) -> None:
    shutdown = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, shutdown.set)
    worker = Worker(QUEUE, process, {"connection": redis_url(), "concurrency": concurrency})
    await shutdown.wait()
    await worker.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
