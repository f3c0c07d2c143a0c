"""pykue: asyncio producer, `pykue worker` CLI process with an async handler."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from typing import Any

from pykue import Queue

from ..common import PYTHON, Adapter, pace_async

TYPE = "bench"
TASKS = "benchmarks.adapters.pykue_tasks:queue"


class PykueAdapter(Adapter):
    name = "pykue"
    has_bulk = True
    async_handlers = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.loop = asyncio.new_event_loop()
        self.queue = Queue(url=url)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def version(self) -> str:
        return version("pykue")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload.startswith("enqueue"):
            return (
                "add_bulk (500 jobs per script call)"
                if workload == "enqueue_bulk"
                else "await job.save()"
            )
        return f"pykue worker, async handler, concurrency {concurrency}"

    def enqueue(self, payloads: list[dict[str, Any]]) -> None:
        async def go() -> None:
            for data in payloads:
                await self.queue.create(TYPE, data).save()

        self.run(go())

    def enqueue_bulk(self, payloads: list[dict[str, Any]]) -> None:
        self.run(self.queue.add_bulk([self.queue.create(TYPE, data) for data in payloads]))

    def enqueue_paced(self, rate: float, duration: float) -> int:
        async def send(data: dict[str, Any]) -> None:
            await self.queue.create(TYPE, data).save()

        sent: int = self.run(pace_async(rate, duration, send))
        return sent

    def worker_argv(self, concurrency: int) -> list[str]:
        return [PYTHON, "-m", "pykue.cli", "worker", TASKS, "--concurrency", str(concurrency)]

    def progress(self) -> tuple[int, int]:
        counts = self.run(self.queue.counts())
        return counts["inactive"] + counts["active"] + counts["delayed"], counts["complete"]

    def close(self) -> None:
        self.run(self.queue.close())
        self.loop.close()


ADAPTER = PykueAdapter
