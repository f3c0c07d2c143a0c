"""The arq worker's settings: `arq benchmarks.adapters.arq_tasks.WorkerSettings`."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from arq.connections import RedisSettings

from ..common import handle_async, redis_url


async def bench(ctx: dict[str, Any], data: dict[str, Any]) -> None:
    await handle_async(data)


class WorkerSettings:
    functions: ClassVar = [bench]
    redis_settings = RedisSettings.from_dsn(redis_url())
    # arq's CLI takes no concurrency option; the adapter's command passes it in the environment.
    max_jobs = int(os.environ.get("BENCH_CONCURRENCY", "10"))
