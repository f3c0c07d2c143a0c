"""Throughput of several queues on one cluster master against the same queues spread
over three masters.

    python -m benchmarks.scaleout [--jobs 20000] [--queues 3] [--repeats 3]

A local Redis Cluster (3 masters, 3 replicas, loopback) is built once. For each layout
the queues get fresh prefixes whose hash tags land either all on one master ("one
master") or each on its own ("spread"); one worker process per queue (the fault
battery's worker program, concurrency 50) drains them while this process adds the jobs
with add_bulk. The figure is jobs per second from the first add to the last completion,
the median of the repeats (layouts interleaved). Every process shares the machine's
cores, so the ratio says how far the servers, not the clients, were the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from pykue import Queue
from tests.chaos.support import Child
from tests.topology import LocalCluster

LAYOUTS = ("one master", "spread")


def prefixes(cluster: LocalCluster, layout: str, count: int) -> list[str]:
    masters = cluster.master_ports
    wanted = [masters[0]] * count if layout == "one master" else masters[:count]
    return [cluster.prefix_on(master, "b") for master in wanted]


async def run_once(cluster: LocalCluster, layout: str, queues: int, jobs: int, logs: Path) -> float:
    names = prefixes(cluster, layout, queues)
    workers = [
        Child("worker.py", [cluster.url, name, "/dev/null", "--concurrency", "50"],
              logs / f"{layout.replace(' ', '-')}-{name}.log")
        for name in names
    ]  # fmt: skip
    clients = [Queue(url=cluster.url, prefix=name) for name in names]
    try:
        for client in clients:
            await client.connect()
        started = time.monotonic()
        await asyncio.gather(
            *(q.add_bulk([q.create("work", {"n": n}) for n in range(jobs)]) for q in clients)
        )
        while True:
            done = await asyncio.gather(*(q.counts() for q in clients))
            if all(counts["complete"] == jobs for counts in done):
                break
            for worker in workers:
                assert worker.alive(), worker.output()
            await asyncio.sleep(0.02)  # the workers are other processes: poll their progress
        return queues * jobs / (time.monotonic() - started)
    finally:
        for worker in workers:
            worker.stop()
        for client in clients:
            await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per queue")
    parser.add_argument("--queues", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--logs", type=Path, default=Path("/tmp/pykue-bench-scaleout"))
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    figures: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
    with LocalCluster.start() as cluster:
        for repeat in range(args.repeats):
            for layout in LAYOUTS if repeat % 2 == 0 else reversed(LAYOUTS):
                rate = await run_once(cluster, layout, args.queues, args.jobs, args.logs)
                figures[layout].append(rate)
                print(f"repeat {repeat + 1} {layout}: {rate:,.0f} jobs/s", file=sys.stderr)
    one, spread = (statistics.median(figures[layout]) for layout in LAYOUTS)
    print(f"| layout | jobs/s (median of {args.repeats}) | range |")
    print("|---|---|---|")
    for layout in LAYOUTS:
        low, high = min(figures[layout]), max(figures[layout])
        print(f"| {args.queues} queues, {layout} | {statistics.median(figures[layout]):,.0f} "
              f"| {low:,.0f}..{high:,.0f} |")  # fmt: skip
    print(f"\nspread / one master: {spread / one:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
