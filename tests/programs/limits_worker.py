"""A worker process for the limit and schedule tests (tests/test_limits_processes.py).

    limits_worker.py URL PREFIX [--type T ...] [--concurrency N] [--lease S] [--sleep S]

Each job's handler records its start in Redis with one EVAL through a plain redis-py
client (not pykue's scripts), then sleeps (``--sleep``, or the job's ``data["sleep"]``)
and lowers the running count. The keys sit under the queue's prefix, so the suite's
cleanup of the prefix removes them:

- ``{PREFIX}:test:running``  handlers running now, across every process
- ``{PREFIX}:test:max``      the highest ``running`` ever reached
- ``{PREFIX}:test:starts``   one JSON entry per handler start: ``id``, ``key`` (the job's
  limit key, "" for none), ``pid``, ``at`` (Redis TIME, ms, when the handler began) and
  ``claimed`` (the job's ``started_at``: the claim's time, by the claim script's clock)

A job with ``data["hold"]`` true holds its slot until the process is killed, on its
first run only (``job.stalls == 0``): run again after its worker died, it ends at once.
A SIGKILLed process never lowers ``running`` for the jobs it was running; the test that
kills one corrects the count itself. The handler returns the process's pid.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

import redis.asyncio as aioredis

from pykue import Queue

# INCR the running count, raise the max to it, log the start: atomically, so the max is
# the true peak of handlers inside their work (a DECR comes only after the work).
RECORD_START = """
local running = redis.call('INCR', KEYS[1])
if running > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], running)
end
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('RPUSH', KEYS[3], cjson.encode({id = tonumber(ARGV[1]), key = ARGV[2],
  pid = tonumber(ARGV[3]), at = at, claimed = tonumber(ARGV[4])}))
return running
"""


def record_key(prefix: str, name: str) -> str:
    return "{" + prefix + "}:test:" + name


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("--type", action="append", dest="types", help="repeatable")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--sleep", type=float, default=0.05)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    queue = Queue(url=args.url, prefix=args.prefix, lease=args.lease)
    client = aioredis.Redis.from_url(args.url)
    running = record_key(args.prefix, "running")
    keys = [running, record_key(args.prefix, "max"), record_key(args.prefix, "starts")]
    pid = os.getpid()

    async def handler(job: Any) -> int:
        await client.eval(
            RECORD_START, 3, *keys, job.id, job.limit_key or "", pid, job.started_at or 0
        )
        try:
            if job.data.get("hold") and job.stalls == 0:
                await asyncio.Event().wait()  # until this process is killed
            await asyncio.sleep(float(job.data.get("sleep", args.sleep)))
        finally:
            await client.decr(running)
        return pid

    for job_type in args.types or ["work"]:
        queue.process(job_type, handler, concurrency=args.concurrency)
    try:
        await queue.run()
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
