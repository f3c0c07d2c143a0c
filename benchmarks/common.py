"""What every adapter shares: the job payload, the handler body, pacing, the Adapter base."""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import redis
import redis.asyncio

# The handler's latency samples go here (enqueue -> handler start, in seconds).
LATENCY_KEY = "bench:latency"
SLEEP = 0.1  # the concurrency workload's job: sleep this long


def payload(i: int, kind: str = "noop") -> dict[str, Any]:
    """The small dict argument every job carries. ``t`` is the enqueue time (latency runs)."""
    return {"i": i, "kind": kind, "t": time.time() if kind == "lat" else 0.0,
            "user": "bench", "tags": ["a", "b"]}  # fmt: skip


def redis_url() -> str:
    """The private server's URL, handed to workers by the driver through the environment."""
    return os.environ["BENCH_REDIS_URL"]


# -- handler bodies: each library's task calls one of these ----------------------------------

SPANS_KEY = "bench:spans"  # the concurrency workload's jobs: "start end" (epoch seconds)

# Samples are written in the background so that recording one does not hold the job's
# slot for a round trip (50 jobs ending at once would queue on the connection pool and
# delay the next wave by the benchmark's own bookkeeping). The driver waits for them.
_writer: queue.SimpleQueue[tuple[str, str]] | None = None
_async_writers: dict[int, asyncio.Queue[tuple[str, str]]] = {}
_writer_tasks: set[asyncio.Task[None]] = set()


def _write_forever(samples: queue.SimpleQueue[tuple[str, str]]) -> None:
    client = redis.Redis.from_url(redis_url())
    while True:
        key, value = samples.get()
        client.rpush(key, value)


def _sync_record(key: str, value: str) -> None:
    global _writer
    if _writer is None:
        _writer = queue.SimpleQueue()
        threading.Thread(target=_write_forever, args=(_writer,), daemon=True).start()
    _writer.put((key, value))


async def _write_forever_async(samples: asyncio.Queue[tuple[str, str]]) -> None:
    client = redis.asyncio.Redis.from_url(redis_url())
    while True:
        key, value = await samples.get()
        await client.rpush(key, value)  # type: ignore[misc]  # typed as maybe-sync in redis 5


def _async_record(key: str, value: str) -> None:
    """The same for coroutine handlers: one writer task and one connection per loop."""
    loop = asyncio.get_running_loop()
    samples = _async_writers.get(id(loop))
    if samples is None:
        samples = _async_writers[id(loop)] = asyncio.Queue()
        task = loop.create_task(_write_forever_async(samples))
        _writer_tasks.add(task)  # held: the loop keeps only a weak reference
    samples.put_nowait((key, value))


def handle_sync(data: dict[str, Any]) -> None:
    """The job, for libraries whose handlers are plain functions."""
    kind = data.get("kind")
    if kind == "lat":
        _sync_record(LATENCY_KEY, repr(time.time() - data["t"]))
    elif kind == "sleep":
        start = time.time()
        time.sleep(SLEEP)
        _sync_record(SPANS_KEY, f"{start!r} {time.time()!r}")


async def handle_async(data: dict[str, Any]) -> None:
    """The job, for libraries whose handlers are coroutines."""
    kind = data.get("kind")
    if kind == "lat":
        _async_record(LATENCY_KEY, repr(time.time() - data["t"]))
    elif kind == "sleep":
        start = time.time()
        await asyncio.sleep(SLEEP)
        _async_record(SPANS_KEY, f"{start!r} {time.time()!r}")


# -- pacing a steady rate -----------------------------------------------------------------


def pace(rate: float, duration: float, send: Callable[[dict[str, Any]], object]) -> int:
    """Call ``send(payload)`` ``rate`` times a second for ``duration`` s; the count sent."""
    total = int(rate * duration)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send(payload(i, "lat"))
    return total


async def pace_async(
    rate: float, duration: float, send: Callable[[dict[str, Any]], Awaitable[object]]
) -> int:
    total = int(rate * duration)
    start = time.perf_counter()
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(payload(i, "lat"))
    return total


# -- the adapter contract --------------------------------------------------------------------


class Adapter:
    """One library, used as its documentation shows. Subclasses fill in the methods.

    Every method runs in the driver's case process against ``url`` (a private,
    freshly flushed redis-server). Workers run as separate processes from ``worker_argv``.
    """

    name = ""
    has_bulk = False  # the library has a documented way to add many jobs at once
    skip: ClassVar[dict[str, str]] = {}  # workload -> why it does not apply to this library

    def __init__(self, url: str) -> None:
        self.url = url

    def version(self) -> str:
        raise NotImplementedError

    def settings(self, workload: str, concurrency: int) -> str:
        """How the library is set up for ``workload``, printed beside its result."""
        raise NotImplementedError

    def send(self, data: dict[str, Any]) -> object:
        """Add one job (the library's own call for one job)."""
        raise NotImplementedError

    def enqueue(self, payloads: list[dict[str, Any]]) -> None:
        """Add one job per payload, one call per job."""
        for data in payloads:
            self.send(data)

    def enqueue_bulk(self, payloads: list[dict[str, Any]]) -> None:
        """Add the jobs with the library's bulk call (only if ``has_bulk``)."""
        raise NotImplementedError

    def enqueue_paced(self, rate: float, duration: float) -> int:
        """Add latency jobs at a steady ``rate`` for ``duration`` s; the number added."""
        return pace(rate, duration, self.send)

    def worker_argv(self, concurrency: int) -> list[str]:
        """The command that starts one worker process running ``concurrency`` jobs at once."""
        raise NotImplementedError

    def progress(self) -> tuple[int, int]:
        """(jobs not yet finished, jobs completed), read from the library's own state."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients (the driver calls it once per case)."""


PYTHON = sys.executable


class AsyncAdapter(Adapter):
    """An asyncio library, driven from the case's plain code through a private loop."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.loop = asyncio.new_event_loop()

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    async def send(self, data: dict[str, Any]) -> None:  # type: ignore[override]
        raise NotImplementedError

    def enqueue(self, payloads: list[dict[str, Any]]) -> None:
        async def add_all() -> None:
            for data in payloads:
                await self.send(data)

        self.run(add_all())

    def enqueue_paced(self, rate: float, duration: float) -> int:
        sent: int = self.run(pace_async(rate, duration, self.send))
        return sent

    def close(self) -> None:
        self.loop.close()
