"""SAQ: asyncio producer (`queue.enqueue`), `saq` CLI worker blocking on BLMOVE."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from saq import Queue, Status

from ..common import PYTHON, AsyncAdapter

FUNCTION = "bench"
SETTINGS = "benchmarks.adapters.saq_tasks.settings"


class SaqAdapter(AsyncAdapter):
    name = "saq"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.queue = Queue.from_url(url)
        self.job_keys: list[str] = []
        self.checked: tuple[int, int] | None = None  # (jobs sent, of them completed)

    def version(self) -> str:
        return version("saq")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload == "enqueue_bulk":
            return "no bulk add (queue.map waits for the results)"
        if workload == "enqueue":
            return "await queue.enqueue()"
        return f"saq worker, concurrency {concurrency}, BLMOVE dequeue (no poll), job ttl 600 s"

    async def send(self, data: dict[str, Any]) -> None:
        job = await self.queue.enqueue(FUNCTION, data=data)
        assert job is not None  # None only for a duplicate key; ours are fresh uuids
        self.job_keys.append(job.key)

    def worker_argv(self, concurrency: int) -> list[str]:
        return ["env", f"BENCH_CONCURRENCY={concurrency}", PYTHON, "-m", "saq", SETTINGS]

    def progress(self) -> tuple[int, int]:
        # "incomplete" holds every job from enqueue until it finishes (queued, active,
        # awaiting a retry). Until it is empty the jobs that left it count as done; then
        # the stored jobs' statuses say exactly how many completed.
        left = int(self.run(self.queue.count("incomplete")))
        if left:
            return left, len(self.job_keys) - left
        if self.checked is None or self.checked[0] != len(self.job_keys):
            self.checked = len(self.job_keys), self.run(self.completed())
        return 0, self.checked[1]

    async def completed(self) -> int:
        jobs = await self.queue.jobs(self.job_keys)
        return sum(1 for job in jobs if job is not None and job.status == Status.COMPLETE)

    def close(self) -> None:
        self.run(self.queue.disconnect())
        super().close()


ADAPTER = SaqAdapter
