"""Task 2: set and get a key with the synchronous client.

Node's callbacks become plain calls: ``set_new_school`` prints the reply the way
``redis.print`` does (``Reply: OK``). Task 0 left ``Holberton`` = ``School`` in the
server (``python examples/0_install_redis.py`` does that step).
"""

from __future__ import annotations

import contextlib

import redis
from _connect import connect


def print_reply(reply: object) -> None:
    """What node_redis's ``redis.print`` shows for a reply."""
    print(f"Reply: {'OK' if reply is True else reply}", flush=True)


def set_new_school(client: redis.Redis, school_name: str, value: str) -> None:
    print_reply(client.set(school_name, value))


def display_school_value(client: redis.Redis, school_name: str) -> None:
    print(client.get(school_name), flush=True)


def main() -> None:
    client = connect()
    try:
        display_school_value(client, "Holberton")
        set_new_school(client, "HolbertonSanFrancisco", "100")
        display_school_value(client, "HolbertonSanFrancisco")
    finally:
        client.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
