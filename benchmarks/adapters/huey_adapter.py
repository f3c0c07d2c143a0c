"""huey: RedisHuey, calling the task enqueues it; the `huey_consumer` CLI with thread workers."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from ..common import PYTHON, Adapter

HUEY = "benchmarks.adapters.huey_tasks.huey"


class HueyAdapter(Adapter):
    name = "huey"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # The tasks module builds its RedisHuey at import, from the URL workers are given.
        os.environ["BENCH_REDIS_URL"] = url
        from . import huey_tasks

        self.huey = huey_tasks.huey
        self.task = huey_tasks.bench

    def version(self) -> str:
        return version("huey")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload.startswith("enqueue"):
            return "call the task per job (one LPUSH each)"
        return (
            f"huey_consumer -k thread -w {concurrency}: one process, {concurrency} threads, "
            "blocking BRPOP (default), results stored (store_none)"
        )

    def send(self, data: dict[str, Any]) -> None:
        self.task(data)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [PYTHON, "-m", "huey.bin.huey_consumer", HUEY, "-k", "thread",
                "-w", str(concurrency), "--quiet"]  # fmt: skip

    def progress(self) -> tuple[int, int]:
        # huey keeps no record of a running task: "left" is what is still queued.
        return self.huey.pending_count(), self.huey.result_count()

    def close(self) -> None:
        self.huey.storage.pool.disconnect()


ADAPTER = HueyAdapter
