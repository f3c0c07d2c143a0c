"""The ceiling: a bare redis-py LPUSH/BRPOP loop with no queue semantics at all.

No job record, no state, no acknowledgement, no retry: what Python and Redis allow a
single producer and a single consumer process to move, one job per round trip."""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any, ClassVar

import redis

from ..common import PYTHON, Adapter

LIST = "bench:ceiling"


class CeilingAdapter(Adapter):
    name = "redis-py"
    has_bulk = True
    skip: ClassVar[dict[str, str]] = {"concurrency": "one job at a time by design"}

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.client = redis.Redis.from_url(url)
        self.sent = 0

    def version(self) -> str:
        return version("redis")

    def settings(self, workload: str, concurrency: int) -> str:
        if workload == "enqueue_bulk":
            return "LPUSH in one pipeline"
        if workload == "enqueue":
            return "LPUSH per job"
        return "BRPOP loop, json.loads, call"

    def send(self, data: dict[str, Any]) -> None:
        self.client.lpush(LIST, json.dumps(data))
        self.sent += 1

    def enqueue_bulk(self, payloads: list[dict[str, Any]]) -> None:
        with self.client.pipeline(transaction=False) as pipe:
            for data in payloads:
                pipe.lpush(LIST, json.dumps(data))
            pipe.execute()
        self.sent += len(payloads)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [PYTHON, "-m", "benchmarks.adapters.ceiling_worker"]

    def progress(self) -> tuple[int, int]:
        left = int(self.client.llen(LIST))
        return left, self.sent - left

    def close(self) -> None:
        self.client.close()


ADAPTER = CeilingAdapter
