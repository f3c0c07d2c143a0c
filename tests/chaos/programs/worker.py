"""A worker for the fault battery. Each handled job appends ``job_id pid`` to the
effects file after its work (the side effect counted for duplicates) and returns the pid.

    worker.py URL PREFIX EFFECTS [--concurrency N] [--lease S] [--max-stalls N] [--sleep S]
              [--fail-first]

``--fail-first``: each job's first attempt raises (before its side effect), so the job
is retried at once by whichever worker claims it next.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from pykue import Queue


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("effects")
    parser.add_argument("--type", default="work")
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--max-stalls", type=int, default=1)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--fail-first", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    queue = Queue(url=args.url, prefix=args.prefix, lease=args.lease, max_stalls=args.max_stalls)
    effects = os.open(args.effects, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.getpid()

    @queue.process(args.type, concurrency=args.concurrency)
    async def handler(job: Any) -> int:
        if args.fail_first and job.attempts_made == 0:
            raise RuntimeError("the first attempt fails")
        if args.sleep:
            await asyncio.sleep(args.sleep)
        os.write(effects, f"{job.id} {pid}\n".encode())  # one write: whole lines only
        return pid

    await queue.run()


if __name__ == "__main__":
    asyncio.run(main())
