"""pykue: asyncio producer, `pykue worker` CLI process with an async handler."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from pykue import Queue

from ..common import PYTHON, AsyncAdapter

TYPE = "bench"
TASKS = "benchmarks.adapters.pykue_tasks:queue"


class PykueAdapter(AsyncAdapter):
    name = "pykue"
    has_bulk = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.queue = Queue(url=url)

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

    async def send(self, data: dict[str, Any]) -> None:
        await self.queue.create(TYPE, data).save()

    def enqueue_bulk(self, payloads: list[dict[str, Any]]) -> None:
        self.run(self.queue.add_bulk([self.queue.create(TYPE, data) for data in payloads]))

    def worker_argv(self, concurrency: int) -> list[str]:
        return [PYTHON, "-m", "pykue.cli", "worker", TASKS, "--concurrency", str(concurrency)]

    def progress(self) -> tuple[int, int]:
        counts = self.run(self.queue.counts())
        return counts["inactive"] + counts["active"] + counts["delayed"], counts["complete"]

    def close(self) -> None:
        self.run(self.queue.close())
        super().close()


ADAPTER = PykueAdapter
