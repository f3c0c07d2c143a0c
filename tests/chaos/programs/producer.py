"""A producer for the fault battery: saves COUNT jobs ``{"seq": n}`` one by one and
appends ``seq job_id`` to the saved file once each save() has returned. A save that
fails because Redis is unreachable is retried with the same job (its save token makes
the retry return the first save's job, never a second one).

    producer.py URL PREFIX SAVED --count N [--type T] [--every S]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time

from redis.exceptions import RedisClusterException, RedisError

from pykue import Queue
from pykue.errors import ConnectionFailed

# connection errors, and on a cluster those of a failover in progress (CLUSTERDOWN,
# READONLY from a demoted master, slots not covered yet)
UNREACHABLE = (RedisError, RedisClusterException, OSError, ConnectionFailed)
log = logging.getLogger("producer")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("saved")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--type", default="work")
    parser.add_argument("--every", type=float, default=0.0, help="pause between saves")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    queue = Queue(url=args.url, prefix=args.prefix)
    saved = os.open(args.saved, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    retries = 0
    for seq in range(args.count):
        job = queue.create(args.type, {"seq": seq})
        failing_since = None
        while True:
            try:
                await job.save()
                break
            except UNREACHABLE as exc:
                retries += 1
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("producer: save of seq %s failed (%s); retrying", seq, exc)
                await asyncio.sleep(0.05)
        if failing_since is not None:
            log.info("producer: seq %s saved after %.1f s", seq, time.monotonic() - failing_since)
        os.write(saved, f"{seq} {job.id}\n".encode())
        if args.every:
            await asyncio.sleep(args.every)
    log.info("producer: saved %s jobs, %s retried attempts", args.count, retries)
    await queue.close()


if __name__ == "__main__":
    asyncio.run(main())
