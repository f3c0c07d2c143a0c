"""Task 5 (terminal 2): four messages on ``holberton school channel``, each after its
delay; the subscriber stops at ``KILL_SERVER`` and never sees the fourth."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio
from _connect import connect_async

CHANNEL = "holberton school channel"


async def publish_message(client: redis.asyncio.Redis, message: str, time_ms: int) -> None:
    await asyncio.sleep(time_ms / 1000)
    print(f"About to send {message}", flush=True)
    await client.publish(CHANNEL, message)


async def main() -> None:
    client = await connect_async()
    try:
        # started together, like the seed's four setTimeout calls
        await asyncio.gather(
            publish_message(client, "Holberton Student #1 starts course", 100),
            publish_message(client, "Holberton Student #2 starts course", 200),
            publish_message(client, "KILL_SERVER", 300),
            publish_message(client, "Holberton Student #3 starts course", 400),
        )
    finally:
        await client.aclose()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
