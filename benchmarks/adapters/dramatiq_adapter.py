"""Dramatiq: `actor.send` from the driver, a `dramatiq` worker process with threads.

The Redis broker keeps each message in its queue's `.msgs` hash until the worker acks it,
after the actor has run; a retry waits in the delay queue's hash, a failure moves to the
dead-letter set. That state counts unfinished and completed jobs exactly, so the Results
middleware (a result write per job) is not needed."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

from ..common import PYTHON, Adapter

BROKER = "benchmarks.adapters.dramatiq_tasks"


class DramatiqAdapter(Adapter):
    name = "dramatiq"
    has_bulk = False  # group(...).run() enqueues its messages one by one

    def __init__(self, url: str) -> None:
        super().__init__(url)
        os.environ["BENCH_REDIS_URL"] = url  # the tasks module reads it, as in the worker
        from . import dramatiq_tasks

        self.actor = dramatiq_tasks.bench
        self.client = dramatiq_tasks.broker.client
        queue = f"{dramatiq_tasks.broker.namespace}:{dramatiq_tasks.QUEUE}"
        self.unfinished = (f"{queue}.msgs", f"{queue}.DQ.msgs")  # queued or running; retrying
        self.dead = f"{queue}.XQ"
        self.sent = 0

    def version(self) -> str:
        return version("dramatiq")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload.startswith("enqueue"):
            return "actor.send per job"
        return (
            f"dramatiq --processes 1 --threads {concurrency}, prefetch 2 x threads (default), "
            "default middleware, no Results middleware"
        )

    def send(self, data: dict[str, Any]) -> None:
        self.actor.send(data)
        self.sent += 1

    def worker_argv(self, concurrency: int) -> list[str]:
        return [PYTHON, "-m", "dramatiq", BROKER, "--processes", "1", "--threads", str(concurrency)]

    def progress(self) -> tuple[int, int]:
        # In one MULTI, so a message moving between the hashes is never counted twice.
        with self.client.pipeline() as pipe:
            for key in self.unfinished:
                pipe.hlen(key)
            pipe.zcard(self.dead)
            queued, retrying, dead = pipe.execute()
        left = int(queued) + int(retrying)
        return left, self.sent - left - int(dead)

    def close(self) -> None:
        self.client.connection_pool.disconnect()


ADAPTER = DramatiqAdapter
