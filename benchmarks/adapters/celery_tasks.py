"""The Celery app: `celery -A benchmarks.adapters.celery_tasks worker`.

Redis is both the broker and the result backend; results go to the broker's database + 1,
so that database holds nothing but results and DBSIZE counts the finished tasks exactly."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from celery import Celery

from ..common import handle_sync, redis_url

TASK = "bench"


def results_url(url: str) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return parts._replace(path=f"/{db + 1}").geturl()


app = Celery("bench", broker=redis_url(), backend=results_url(redis_url()))


@app.task(name=TASK)
def bench(data: dict[str, Any]) -> None:
    handle_sync(data)
