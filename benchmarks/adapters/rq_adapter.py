"""RQ: `queue.enqueue` / `enqueue_many` from the driver, `rq worker` with the SimpleWorker.

RQ runs one job at a time per worker process, so only the concurrency workload runs more:
an `rq worker-pool` of SimpleWorker processes. Finished jobs stay in the queue's finished
registry for the result TTL (500 s by default), which counts completions exactly."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import redis
from rq import Queue

from ..common import PYTHON, Adapter
from .rq_tasks import bench

QUEUE = "bench"
WORKER_CLASS = "rq.worker.SimpleWorker"  # runs the job in the worker: no fork per job


class RqAdapter(Adapter):
    name = "rq"
    has_bulk = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client = redis.Redis.from_url(url)
        self.queue = Queue(QUEUE, connection=self.client)
        self.started = self.queue.started_job_registry.key
        self.finished = self.queue.finished_job_registry.key
        self.pool = False

    def version(self) -> str:
        return version("rq")

    def settings(self, workload: str, concurrency: int) -> str:
        # The driver asks for the settings first; worker_argv is not told the workload.
        self.pool = workload == "concurrency"
        if workload == "enqueue_bulk":
            return "queue.enqueue_many(Queue.prepare_data ...), one pipeline"
        if workload == "enqueue":
            return "queue.enqueue per job"
        if self.pool:
            return (
                f"rq worker-pool -n {concurrency} -w SimpleWorker: {concurrency} processes, "
                "one job at a time each, results kept 500 s"
            )
        return "rq worker -w SimpleWorker: one process, one job at a time, results kept 500 s"

    def send(self, data: dict[str, Any]) -> None:
        self.queue.enqueue(bench, data)

    def enqueue_bulk(self, payloads: list[dict[str, Any]]) -> None:
        self.queue.enqueue_many([Queue.prepare_data(bench, (data,)) for data in payloads])

    def worker_argv(self, concurrency: int) -> list[str]:
        options = ["--url", self.url, "--worker-class", WORKER_CLASS, "--quiet"]
        if self.pool:
            return [PYTHON, "-m", "rq.cli", "worker-pool", *options, "-n", str(concurrency), QUEUE]
        return [PYTHON, "-m", "rq.cli", "worker", *options, QUEUE]

    def progress(self) -> tuple[int, int]:
        # One round trip, without the cleanup `registry.count` runs first. A dequeued job
        # waits in the intermediate list until the worker records it as started.
        with self.client.pipeline(transaction=False) as pipe:
            pipe.llen(self.queue.key)
            pipe.llen(self.queue.intermediate_queue_key)
            pipe.zcard(self.started)
            pipe.zcard(self.finished)
            queued, taken, started, finished = pipe.execute()
        return int(queued) + int(taken) + int(started), int(finished)

    def close(self) -> None:
        self.client.close()


ADAPTER = RqAdapter
