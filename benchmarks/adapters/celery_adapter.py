"""Celery: `task.delay` from the driver, a `celery worker` process (threads pool).

Redis is broker and result backend (the documented pairing), so every finished task
leaves its result; they live in a database of their own, where DBSIZE counts them."""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

import redis

from ..common import PYTHON, Adapter

APP = "benchmarks.adapters.celery_tasks"


class CeleryAdapter(Adapter):
    name = "celery"
    # group(...).apply_async() and chunks publish one message per task in a loop.
    has_bulk = False

    def __init__(self, url: str) -> None:
        super().__init__(url)
        os.environ["BENCH_REDIS_URL"] = url  # the tasks module reads it, as in the worker
        from . import celery_tasks

        self.task = celery_tasks.bench
        self.results = redis.Redis.from_url(celery_tasks.results_url(url))
        self.baseline = int(self.results.dbsize())
        self.sent = 0

    def version(self) -> str:
        return version("celery")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload.startswith("enqueue"):
            return "task.delay per job, Redis result backend"
        return (
            f"celery worker --pool threads --concurrency {concurrency}, prefetch multiplier 4 "
            "(default), early ack (default), Redis result backend"
        )

    def send(self, data: dict[str, Any]) -> None:
        self.task.delay(data)
        self.sent += 1

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            PYTHON, "-m", "celery", "-A", APP, "worker", "--pool", "threads",
            "--concurrency", str(concurrency), "--loglevel", "WARNING",
        ]  # fmt: skip

    def progress(self) -> tuple[int, int]:
        # A result is stored once a task has run (a failure would store one too; these
        # handlers do not raise), and the results database holds nothing else.
        done = int(self.results.dbsize()) - self.baseline
        return self.sent - done, done

    def close(self) -> None:
        self.results.close()
        self.task.app.close()


ADAPTER = CeleryAdapter
