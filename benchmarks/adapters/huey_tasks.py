"""The huey consumer's module: `huey_consumer benchmarks.adapters.huey_tasks.huey`."""

from __future__ import annotations

from typing import Any

from huey import RedisHuey  # type: ignore[import-untyped]

from ..common import handle_sync, redis_url

# store_none: keep a result for every finished task, so that completions can be counted.
huey = RedisHuey("bench", url=redis_url(), store_none=True)


@huey.task()  # type: ignore[untyped-decorator]
def bench(data: dict[str, Any]) -> None:
    handle_sync(data)
