"""A worker for the flow scenario (15). Each run of a job appends two lines to the
records file, each with one write (whole lines only, whoever else appends):

    start ID TOKEN PID T_NS SLEEP_MS DEPS   when the handler begins
    finish ID TOKEN PID T_NS                when its work is done, just before it returns

TOKEN is the run's fencing token (each claim has its own), T_NS the system-wide
monotonic clock (comparable between processes), DEPS what ``dependency_results()``
showed the run: ``dep:token`` of each dependency's result, comma-separated, ``-`` if
none. The result is ``{"token": TOKEN}``, so a dependent tells which run of its
dependency completed it.

    flow_worker.py URL PREFIX RECORDS [--concurrency N] [--lease S] [--max-stalls N]
                   [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import time
from typing import Any

from pykue import Queue

SLEEP_MS = (40, 250)  # a run's work: long enough to be killed in the middle of it


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("records")
    parser.add_argument("--type", default="step")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--max-stalls", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    queue = Queue(url=args.url, prefix=args.prefix, lease=args.lease, max_stalls=args.max_stalls)
    records = os.open(args.records, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.getpid()
    rng = random.Random(args.seed or pid)

    @queue.process(args.type, concurrency=args.concurrency)
    async def handler(job: Any) -> dict[str, int]:
        results = await job.dependency_results()
        seen = ",".join(f"{dep}:{result['token']}" for dep, result in results.items()) or "-"
        sleep_ms = rng.randint(*SLEEP_MS)
        line = f"start {job.id} {job.token} {pid} {time.monotonic_ns()} {sleep_ms} {seen}\n"
        os.write(records, line.encode())
        await asyncio.sleep(sleep_ms / 1000)
        os.write(records, f"finish {job.id} {job.token} {pid} {time.monotonic_ns()}\n".encode())
        return {"token": job.token}

    await queue.run()


if __name__ == "__main__":
    asyncio.run(main())
