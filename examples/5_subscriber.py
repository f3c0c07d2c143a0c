"""Task 5 (terminal 1): print what arrives on ``holberton school channel`` until
``KILL_SERVER``, then unsubscribe and quit. Run 5_publisher.py in a second terminal."""

from __future__ import annotations

import asyncio
import contextlib

from _connect import connect_async

CHANNEL = "holberton school channel"


async def main() -> None:
    client = await connect_async()
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue  # the subscribe confirmation
                print(message["data"], flush=True)
                if message["data"] == "KILL_SERVER":
                    await pubsub.unsubscribe(CHANNEL)
                    break
    finally:
        await client.aclose()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
