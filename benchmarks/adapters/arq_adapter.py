"""arq: asyncio producer (`enqueue_job`), `arq` CLI worker polling the queue's sorted set."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import default_queue_name, result_key_prefix
from arq.jobs import deserialize_result

from ..common import PYTHON, AsyncAdapter

FUNCTION = "bench"
SETTINGS = "benchmarks.adapters.arq_tasks.WorkerSettings"


class ArqAdapter(AsyncAdapter):
    name = "arq"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.redis: ArqRedis = self.run(create_pool(RedisSettings.from_dsn(url)))
        self.job_ids: list[str] = []
        self.checked: tuple[int, int] | None = None  # (jobs sent, of them completed)

    def version(self) -> str:
        return version("arq")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload == "enqueue_bulk":
            return "no bulk add"
        if workload == "enqueue":
            return "await redis.enqueue_job() (pickle)"
        return f"arq worker, max_jobs {concurrency}, poll_delay 0.5 s, keep_result 1 h (defaults)"

    async def send(self, data: dict[str, Any]) -> None:
        job = await self.redis.enqueue_job(FUNCTION, data)
        assert job is not None  # None only for a duplicate job id; ours are fresh uuids
        self.job_ids.append(job.job_id)

    def worker_argv(self, concurrency: int) -> list[str]:
        return ["env", f"BENCH_CONCURRENCY={concurrency}", PYTHON, "-m", "arq", SETTINGS]

    def progress(self) -> tuple[int, int]:
        # A job stays in the queue's sorted set until it finishes, while running too; it
        # leaves it in the same MULTI that stores its result. Until the set is empty the jobs
        # that left it count as done; then the results say exactly how many succeeded.
        left = int(self.run(self.redis.zcard(default_queue_name)))
        if left:
            return left, len(self.job_ids) - left
        if self.checked is None or self.checked[0] != len(self.job_ids):
            self.checked = len(self.job_ids), self.run(self.succeeded())
        return 0, self.checked[1]

    async def succeeded(self) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in self.job_ids:
                pipe.get(result_key_prefix + job_id)
            results = await pipe.execute()
        return sum(1 for r in results if r is not None and deserialize_result(r).success)

    def close(self) -> None:
        self.run(self.redis.aclose(close_connection_pool=True))
        super().close()


ADAPTER = ArqAdapter
