"""Task 3: task 2 with ``redis.asyncio`` and ``async``/``await`` (Node's promisify)."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio
from _connect import connect_async


def print_reply(reply: object) -> None:
    print(f"Reply: {'OK' if reply is True else reply}", flush=True)


async def set_new_school(client: redis.asyncio.Redis, school_name: str, value: str) -> None:
    print_reply(await client.set(school_name, value))


async def display_school_value(client: redis.asyncio.Redis, school_name: str) -> None:
    print(await client.get(school_name), flush=True)


async def main() -> None:
    client = await connect_async()
    try:
        await display_school_value(client, "Holberton")
        await set_new_school(client, "HolbertonSanFrancisco", "100")
        await display_school_value(client, "HolbertonSanFrancisco")
    finally:
        await client.aclose()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
