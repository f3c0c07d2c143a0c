"""The SAQ worker's settings: `saq benchmarks.adapters.saq_tasks.settings`."""

from __future__ import annotations

import os
from typing import Any

from saq import Queue

from ..common import handle_async, redis_url


async def bench(ctx: dict[str, Any], *, data: dict[str, Any]) -> None:
    await handle_async(data)


settings = {
    "queue": Queue.from_url(redis_url()),
    "functions": [bench],
    # SAQ's CLI takes no concurrency option; the adapter's command passes it in the environment.
    "concurrency": int(os.environ.get("BENCH_CONCURRENCY", "10")),
}
