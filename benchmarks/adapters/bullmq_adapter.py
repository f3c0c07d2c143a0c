"""bullmq (Python port): asyncio Queue producer, a `Worker` in its own script process."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from bullmq import Queue  # type: ignore[import-untyped]

from ..common import PYTHON, AsyncAdapter

QUEUE = "bench"
JOB = "bench"
# Every state a job passes through before it finishes ("prioritized" and "delayed" stay
# empty here, but a job there is still unfinished).
UNFINISHED = ("wait", "active", "delayed", "prioritized")


class BullmqAdapter(AsyncAdapter):
    name = "bullmq"
    has_bulk = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.queue = Queue(QUEUE, {"connection": url})

    def version(self) -> str:
        return version("bullmq")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload == "enqueue_bulk":
            return "queue.addBulk (one MULTI pipeline)"
        if workload == "enqueue":
            return "await queue.add per job"
        return (
            f"Worker concurrency {concurrency}, async processor, defaults "
            "(drainDelay 5 s, lockDuration 30 s, completed jobs kept)"
        )

    async def send(self, data: dict[str, Any]) -> None:
        await self.queue.add(JOB, data)

    def enqueue_bulk(self, payloads: list[dict[str, Any]]) -> None:
        self.run(self.queue.addBulk([{"name": JOB, "data": data} for data in payloads]))

    def worker_argv(self, concurrency: int) -> list[str]:
        return [PYTHON, "-m", "benchmarks.adapters.bullmq_worker", str(concurrency)]

    def progress(self) -> tuple[int, int]:
        # One script call: every count is read atomically.
        counts = self.run(self.queue.getJobCounts(*UNFINISHED, "completed"))
        return sum(counts[state] for state in UNFINISHED), counts["completed"]

    def close(self) -> None:
        self.run(self.queue.close())
        super().close()


ADAPTER = BullmqAdapter
