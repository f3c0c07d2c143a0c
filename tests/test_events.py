"""The event reader rides out stream entries pykue never writes: each is skipped and
logged on its own, and every listener, wait() and replay carries on."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis

from pykue import Queue
from pykue.keys import Keys
from pykue.scripts import Complete

# Entries another tool (or a person with redis-cli) could append to the stream.
BAD_ENTRIES: list[dict[str, str | bytes]] = [
    {"event": "enqueue", "id": "x", "type": "t"},  # the audit's entry: an id that is no number
    {"id": "1", "type": "t"},  # no event name
    {"event": "progress", "id": "1"},  # progress without its percent
    {"event": "complete", "id": "1", "result": "{not json"},
    {"event": b"\xff\xfe", "id": "1"},  # not UTF-8
    {"event": "failed attempt", "id": "1", "error": "e", "attempts_made": "many"},
    {"event": "enqueue", "id": "9" * 5000, "type": "t"},  # too many digits for int()
]


def add_bad_entries(raw: redis.Redis, prefix: str) -> None:
    for fields in BAD_ENTRIES:
        raw.xadd(Keys(prefix).events, fields)  # type: ignore[arg-type]


async def complete(queue: Queue, job_id: int, result: Any) -> None:
    """End ``job_id`` as a worker would, through the claim and complete scripts."""
    job = await queue.get_job(job_id)
    scripts = queue._redis.scripts
    claim = await scripts.claim(job.type, 1, "test-worker", 60_000, f"c{job_id}")
    token = next(each.token for each in claim.jobs if each.id == job_id)
    await scripts.complete([Complete(job_id, token, f'"{result}"'.encode(), "")])


async def test_bad_entries_are_skipped_and_listeners_carry_on(
    queue: Queue, raw: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    await queue.connect()
    completed: list[tuple[int, Any]] = []
    enqueued = asyncio.Event()
    done = asyncio.Event()

    def on_complete(job_id: int, result: Any) -> None:
        completed.append((job_id, result))
        done.set()

    queue.on("job enqueue", lambda job_id, job_type: enqueued.set())
    queue.on("job complete", on_complete)
    first = await queue.create("t", {}).save()
    await asyncio.wait_for(enqueued.wait(), 10)  # the reader is past its start
    with caplog.at_level(logging.WARNING, logger="pykue"):
        add_bad_entries(raw, prefix)
        later = await queue.create("t", {}).save()
        waiting = asyncio.ensure_future(later.wait(timeout=10))
        await complete(queue, first.id or 0, "one")
        await complete(queue, later.id or 0, "two")
        assert await waiting == "two"
        await asyncio.wait_for(done.wait(), 10)
        while len(completed) < 2:
            done.clear()
            await asyncio.wait_for(done.wait(), 10)
    assert completed == [(first.id, "one"), (later.id, "two")]
    skipped = [r for r in caplog.records if "pykue did not write" in r.getMessage()]
    assert len(skipped) == len(BAD_ENTRIES)
    assert all(len(r.getMessage()) < 400 for r in skipped)


async def test_a_late_listener_replays_past_a_bad_entry_of_its_own_job(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    await queue.connect()
    started, ended = asyncio.Event(), asyncio.Event()
    queue.on("job enqueue", lambda job_id, job_type: started.set())
    queue.on("job complete", lambda job_id, result: ended.set())
    job = await queue.create("t", {}).save()
    await asyncio.wait_for(started.wait(), 10)
    # a hand-written entry naming this very job, then its real end
    raw.xadd(Keys(prefix).events, {"event": "progress", "id": str(job.id)})
    await complete(queue, job.id or 0, "fine")
    await asyncio.wait_for(ended.wait(), 10)  # the reader has read past both
    results: list[Any] = []
    finished = asyncio.Event()

    def on_complete(result: Any) -> None:
        results.append(result)
        finished.set()

    job.on("complete", on_complete)  # after the fact: replayed from the stream
    await asyncio.wait_for(finished.wait(), 10)
    assert results == ["fine"]
