"""One benchmark case (library x workload) in a process of its own; prints one JSON line.

    python -m benchmarks.case LIB WORKLOAD --url URL [--n N] [--concurrency C]

A process per case keeps libraries from meeting (imports, event loops, global state).
Workers are separate processes started from the adapter's command, stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .adapters import ADAPTERS
from .common import LATENCY_KEY, SLEEP, SPANS_KEY, Adapter, payload

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.005  # how often the driver reads the queue's state while a worker drains it
STUCK = 3.0  # seconds with nothing left to run but jobs missing: they were lost
STOP_GRACE = 3.0  # seconds a worker gets to stop on SIGTERM (its timing is over by then)
ENQUEUE_PART = 1000  # jobs per enqueue/enqueue_bulk call of the adapter
WORKLOADS = ("enqueue", "enqueue_bulk", "drain", "latency", "concurrency")


class CaseFailed(Exception):
    pass


def load(lib: str, url: str) -> Adapter:
    module = importlib.import_module(ADAPTERS[lib])
    adapter: Adapter = module.ADAPTER(url)
    return adapter


class WorkerProcess:
    """A worker started from the adapter's command, in its own process group."""

    def __init__(self, argv: list[str], url: str) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - outlives this method
            prefix="bench-worker-", suffix=".log", delete=False
        )
        env = {**os.environ, "BENCH_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise CaseFailed(f"worker exited with {self.proc.returncode}: {self.tail()}")

    def tail(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """SIGTERM to the worker itself (its own children are its business: some libraries
        take a second SIGTERM as 'kill now'), then SIGKILL to whatever is left of the group."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_GRACE)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def wait_until_done(
    adapter: Adapter, worker: WorkerProcess, total: int, limit: float, cap: float = 0
) -> dict[str, float]:
    """Poll until ``total`` jobs are completed; the rate from the first job taken to the last.

    The clock starts at the first poll that sees fewer than ``total`` jobs left, so a
    library's start-up time (imports, connecting, forking) is not counted. With ``cap``,
    timing stops after ``cap`` s even if jobs are left: the rate is then over the jobs
    completed so far ("capped" says how many)."""
    deadline = time.monotonic() + limit
    first: tuple[float, int] | None = None
    stuck_since: float | None = None
    capped = False
    while True:
        left, done = adapter.progress()
        now = time.perf_counter()
        if first is None and left < total:
            first = (now, done)
        if done >= total and left == 0:
            break
        if cap and first is not None and now - first[0] > cap:
            capped = True
            break
        worker.check()
        if left == 0:  # nothing left to run, yet not all completed: jobs were lost
            stuck_since = stuck_since or now
            if now - stuck_since > STUCK:
                raise CaseFailed(f"{total - done} of {total} jobs ended without completing")
        if time.monotonic() > deadline:
            raise CaseFailed(f"timed out after {limit:.0f} s with {left} left, {done} done")
        time.sleep(POLL)
    assert first is not None
    start, done_at_start = first
    elapsed = max(now - start, 1e-9)
    result = {"seconds": elapsed, "rate": (done - done_at_start) / elapsed, "completed": done}
    if capped:
        result["capped"] = done
    return result


def run_case(
    lib: str,
    workload: str,
    url: str,
    n: int,
    concurrency: int,
    rate: float,
    duration: float,
    cap: float,
) -> dict[str, Any]:
    adapter = load(lib, url)
    result: dict[str, Any] = {
        "lib": lib, "workload": workload, "version": adapter.version(),
        "settings": adapter.settings(workload, concurrency), "n": n,
    }  # fmt: skip
    if workload in adapter.skip:
        adapter.close()
        return {**result, "skipped": adapter.skip[workload]}
    try:
        if workload == "enqueue":  # then drained: the drain workload without its own fill
            sent = timed_enqueue(adapter.enqueue, n, cap, result)
            drained = drain(adapter, url, sent, concurrency, cap=cap)
            result["drain"] = {**drained, "settings": adapter.settings("drain", concurrency)}
        elif workload == "enqueue_bulk":
            if not adapter.has_bulk:
                return {**result, "skipped": "no bulk add"}
            timed_enqueue(adapter.enqueue_bulk, n, cap, result)
        elif workload == "drain":
            fill(adapter, [payload(i) for i in range(n)])
            result.update(drain(adapter, url, n, concurrency))
        elif workload == "concurrency":
            result.update(sleepers(adapter, url, n, concurrency))
        elif workload == "latency":
            result.update(latency(adapter, url, rate, duration, concurrency))
            result["n"] = result["sent"]
        else:
            raise CaseFailed(f"unknown workload {workload!r}")
    except CaseFailed as exc:
        result["error"] = str(exc)
    finally:
        adapter.close()
    return result


def timed_enqueue(
    send: Callable[[list[dict[str, Any]]], None], n: int, cap: float, result: dict[str, Any]
) -> int:
    """Send ``n`` jobs in parts of ENQUEUE_PART, stopping early once ``cap`` s have passed
    (so that the slowest libraries do not make the run too long); the number sent."""
    jobs = [payload(i) for i in range(n)]
    sent = 0
    start = time.perf_counter()
    while sent < n:
        send(jobs[sent : sent + ENQUEUE_PART])
        sent = min(n, sent + ENQUEUE_PART)
        if cap and time.perf_counter() - start > cap:
            break
    result["rate"] = sent / (time.perf_counter() - start)
    if sent < n:
        result["capped"] = sent
    return sent


def fill(adapter: Adapter, jobs: list[dict[str, Any]]) -> None:
    """Queue ``jobs`` untimed, in bulk where the library can."""
    (adapter.enqueue_bulk if adapter.has_bulk else adapter.enqueue)(jobs)


def samples(url: str, key: str, expected: int) -> list[bytes]:
    """The ``expected`` samples the handlers wrote (in the background) to list ``key``."""
    deadline = time.monotonic() + 10
    with redis.Redis.from_url(url) as client:
        while client.llen(key) < expected and time.monotonic() < deadline:
            time.sleep(POLL)
        found: list[bytes] = client.lrange(key, 0, -1)
    if len(found) != expected:
        raise CaseFailed(f"{expected} jobs completed, {len(found)} recorded their run")
    return found


def drain(
    adapter: Adapter, url: str, n: int, concurrency: int, recorded: str = "", cap: float = 0
) -> dict[str, float]:
    """Time one worker process emptying a queue that holds ``n`` jobs."""
    worker = WorkerProcess(adapter.worker_argv(concurrency), url)
    try:
        result = wait_until_done(adapter, worker, n, limit=180, cap=cap)
        if recorded:
            samples(url, recorded, n)  # before the worker stops: they may still be on the way
        return result
    finally:
        worker.stop()


def sleepers(adapter: Adapter, url: str, n: int, concurrency: int) -> dict[str, float]:
    """``n`` jobs that sleep SLEEP s each: timed by the jobs, first start to last end."""
    fill(adapter, [payload(i, "sleep") for i in range(n)])
    result = drain(adapter, url, n, concurrency, recorded=SPANS_KEY)
    spans = [tuple(map(float, raw.split())) for raw in samples(url, SPANS_KEY, n)]
    ideal = n * SLEEP / concurrency
    seconds = max(end for _, end in spans) - min(start for start, _ in spans)
    return {**result, "seconds": seconds, "rate": n / seconds, "ideal": ideal,
            "over_ideal": seconds / ideal - 1}  # fmt: skip


def latency(
    adapter: Adapter, url: str, rate: float, duration: float, concurrency: int
) -> dict[str, Any]:
    worker = WorkerProcess(adapter.worker_argv(concurrency), url)
    try:
        adapter.enqueue([payload(-1)])  # the worker is up once this one is done
        wait_until_done(adapter, worker, 1, limit=60)
        sent = adapter.enqueue_paced(rate, duration)
        wait_until_done(adapter, worker, sent + 1, limit=60)
        waits = sorted(float(raw) * 1000 for raw in samples(url, LATENCY_KEY, sent))
    finally:
        worker.stop()
    return {
        "rate": rate, "sent": sent,
        "p50_ms": statistics.median(waits),
        "p99_ms": waits[min(len(waits) - 1, int(len(waits) * 0.99))],
        "max_ms": waits[-1],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.case")
    parser.add_argument("lib", choices=sorted(ADAPTERS))
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0, help="latency: jobs per second")
    parser.add_argument("--duration", type=float, default=10.0, help="latency: seconds")
    parser.add_argument("--cap", type=float, default=0, help="enqueue/drain: most seconds timed")
    args = parser.parse_args()
    result = run_case(
        args.lib,
        args.workload,
        args.url,
        args.n,
        args.concurrency,
        args.rate,
        args.duration,
        args.cap,
    )
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
