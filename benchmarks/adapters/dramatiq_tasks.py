"""The Dramatiq broker and actor: `dramatiq benchmarks.adapters.dramatiq_tasks`."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from ..common import handle_sync, redis_url

QUEUE = "default"

broker = RedisBroker(url=redis_url())
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE)
def bench(data: dict[str, Any]) -> None:
    handle_sync(data)
