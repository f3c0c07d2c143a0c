"""The ceiling's consumer: BRPOP one job, decode it, call the handler, repeat."""

from __future__ import annotations

import json

import redis

from ..common import handle_sync, redis_url
from .ceiling_adapter import LIST


def main() -> None:
    client = redis.Redis.from_url(redis_url())
    while True:
        popped = client.brpop([LIST], timeout=1)
        if popped is not None:
            handle_sync(json.loads(popped[1]))


if __name__ == "__main__":
    main()
