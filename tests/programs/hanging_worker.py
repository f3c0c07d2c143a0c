"""A worker process for the crash test: reports progress on each job, then hangs forever."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pykue import Queue


async def main(url: str, prefix: str) -> None:
    queue = Queue(url=url, prefix=prefix, lease=1.0)

    @queue.process("crashy", concurrency=5)
    async def handler(job: Any) -> None:
        await job.progress(10)
        await asyncio.Event().wait()

    await queue.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
