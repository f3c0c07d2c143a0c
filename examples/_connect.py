"""How the seed examples reach Redis, in one place.

The address comes from pykue's own order: ``REDIS_URL``, then ``REDIS_HOST`` /
``REDIS_PORT`` / ``REDIS_PASSWORD``, then 127.0.0.1:6379 if a server answers there,
then the embedded redis-server pykue starts. Like node_redis in the seed, a client
that cannot connect says so and tries again (until Ctrl-C).
"""

from __future__ import annotations

import asyncio
import time

import redis
import redis.asyncio

from pykue.config import Settings
from pykue.connection import resolve_url

CONNECTED = "Redis client connected to the server"
NOT_CONNECTED = "Redis client not connected to the server: {}"
RETRY_CAP = 3.0  # seconds between attempts, at most


def redis_url() -> str:
    return asyncio.run(resolve_url(Settings.from_env()))


def connect() -> redis.Redis:
    """A client that answered PING, reporting each failed attempt as the seed does."""
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    pause = 0.25
    while True:
        try:
            client.ping()
        except redis.ConnectionError as exc:
            print(NOT_CONNECTED.format(exc), flush=True)
            time.sleep(pause)
            pause = min(pause * 2, RETRY_CAP)
            continue
        print(CONNECTED, flush=True)
        return client


async def connect_async() -> redis.asyncio.Redis:
    """The asyncio twin of connect()."""
    url = await resolve_url(Settings.from_env())
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    pause = 0.25
    while True:
        try:
            await client.ping()
        except redis.ConnectionError as exc:
            print(NOT_CONNECTED.format(exc), flush=True)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_CAP)
            continue
        print(CONNECTED, flush=True)
        return client
