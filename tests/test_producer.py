"""Creating, saving, querying and administering jobs (no worker involved)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import redis

from pykue import (
    ConnectionFailed,
    InvalidArgument,
    InvalidJob,
    InvalidName,
    InvalidState,
    Job,
    JobFailed,
    JobNotFound,
    JobState,
    Queue,
)
from pykue.job import MAX_SECONDS, backoff_delay
from pykue.keys import Keys
from tests.chaos.faultproxy import FaultProxy
from tests.helpers import delete_prefix, job_ids, wait_until


def snapshot(raw: redis.Redis, prefix: str) -> dict[str, object]:
    """Every key of the prefix with its type and content, to prove nothing changed."""
    pattern = Keys(prefix).base.replace("{", "\\{").replace("}", "\\}") + ":*"
    out: dict[str, object] = {}
    for key in raw.scan_iter(match=pattern):
        kind = raw.type(key)
        if kind == "hash":
            out[key] = raw.hgetall(key)
        elif kind == "zset":
            out[key] = raw.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            out[key] = raw.xlen(key)
        elif kind == "string":
            out[key] = raw.get(key)
        else:
            out[key] = kind
    return out


async def test_save_assigns_increasing_int_ids_and_stores_fields(queue: Queue) -> None:
    first = await queue.create("email", {"to": "a@b.c"}).save()
    second = await queue.create("email", {"to": "d@e.f"}, priority="high").save()
    assert isinstance(first.id, int)
    assert second.id == first.id + 1
    stored = await queue.get_job(second.id)
    assert stored.type == "email"
    assert stored.data == {"to": "d@e.f"}
    assert stored.priority == -10
    assert stored.state is JobState.INACTIVE
    assert stored.created_at is not None
    assert stored.created_at > 1_600_000_000_000
    assert await queue.counts() == {
        "inactive": 2, "active": 0, "complete": 0, "failed": 0, "delayed": 0, "waiting": 0,
    }  # fmt: skip
    assert await queue.types() == ["email"]


async def test_delayed_job_is_indexed_as_delayed_with_run_at(queue: Queue) -> None:
    job = await queue.create("later", {}, delay=60).save()
    stored = await queue.get_job(job.id)
    assert stored.state is JobState.DELAYED
    assert stored.run_at is not None
    assert stored.created_at is not None
    assert stored.run_at - stored.created_at == 60_000
    assert (await queue.counts("later"))["delayed"] == 1


@pytest.mark.parametrize(
    ("data", "options", "message"),
    [
        ({"x": math.nan}, {}, "NaN or Infinity"),
        ({"x": [1, {"y": math.inf}]}, {}, "NaN or Infinity"),
        ({"x": -math.inf}, {}, "NaN or Infinity"),
        ({"x": {1, 2}}, {}, "not JSON-serialisable"),
        ({"x": object()}, {}, "not JSON-serialisable"),
        ({1: "non-string key"}, {}, "not JSON-serialisable"),
        ({"x": 2**70}, {}, "not JSON-serialisable"),
        ({}, {"priority": "urgent"}, "unknown priority"),
        ({}, {"priority": 2**40}, "out of range"),
        ({}, {"priority": 1.5}, "priority must be"),
        ({}, {"delay": -1}, "delay must be >= 0"),
        ({}, {"delay": math.nan}, "delay must be"),
        ({}, {"ttl": -5}, "ttl must be > 0"),
        ({}, {"ttl": 0}, "ttl must be > 0"),
        ({}, {"ttl": 0.0004}, "at least 0.001 s"),
        ({}, {"delay": 10**400}, "more than ten years"),
        ({}, {"delay": math.inf}, "more than ten years"),
        ({}, {"backoff": {"delay": 1e300}}, "more than ten years"),
        ({}, {"attempts": 0}, "attempts must be"),
        ({}, {"attempts": "3"}, "attempts must be"),
        ({}, {"backoff": {"type": "linear"}}, "backoff type"),
        ({}, {"backoff": {"delay": 1, "jitter": 2}}, "unknown keys"),
        ({}, {"remove_on_complete": -1}, "remove_on_complete"),
        ({}, {"remove_on_complete": "yes"}, "remove_on_complete"),
        ({}, {"unique": "has space"}, "unique key"),
    ],
)
async def test_bad_jobs_raise_invalid_job_and_write_nothing(
    queue: Queue, raw: redis.Redis, prefix: str, data: dict, options: dict, message: str
) -> None:
    await queue.create("email", {"warm": "up"}).save()  # so the keyspace is not empty
    before = snapshot(raw, prefix)
    with pytest.raises(InvalidJob, match=message):
        await queue.create("email", data, **options).save()
    assert snapshot(raw, prefix) == before


@pytest.mark.parametrize(
    "name", ["", "x" * 129, "a b", "new\nline", "nul\x00", "star*", "q?", "[x]", "{tag}",
             "../../etc", "é", 42, None]
)  # fmt: skip
async def test_bad_type_names_are_refused(queue: Queue, name: object) -> None:
    with pytest.raises(InvalidName):
        queue.create(name, {})  # type: ignore[arg-type]


async def test_data_must_be_an_object(queue: Queue) -> None:
    with pytest.raises(InvalidJob, match="JSON object"):
        queue.create("email", [1, 2])  # type: ignore[arg-type]


async def test_oversized_payload_is_refused(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    q = Queue(url=redis_url, prefix=prefix, max_payload=1000)
    try:
        await q.create("big", {"blob": "x" * 900}).save()
        before = snapshot(raw, prefix)
        with pytest.raises(InvalidJob, match="over the limit of 1000"):
            await q.create("big", {"blob": "x" * 1000}).save()
        assert snapshot(raw, prefix) == before
    finally:
        await q.close()
        for key in raw.scan_iter(match="\\{" + prefix + "\\}:*"):
            raw.delete(key)


async def test_default_payload_limit_is_one_mebibyte(queue: Queue) -> None:
    with pytest.raises(InvalidJob, match="over the limit of 1048576"):
        await queue.create("big", {"blob": "x" * (1 << 20)}).save()


async def test_a_call_sent_again_answers_what_it_did_and_creates_nothing(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    # What redis-py (or a caller retrying any of its jobs) does when a save's reply is
    # lost after Redis ran it: the same call again, with the same token.
    await queue.create("email", {}, unique="u").save()
    entries = [["email", "{}", 0, 0, 1, "", 0, "", ""], ["email", "{}", 0, 0, 1, "", 0, "", "u"]]
    args = ("token-1", 3600, orjson.dumps(entries))
    await queue.connect()
    first = (await queue._redis.scripts.enqueue(*args)).saved
    again = (await queue._redis.scripts.enqueue(*args)).saved
    assert [first[0].created, first[1].created] == [True, False]  # the second matched u
    ids = [first[0].id, first[1].id]
    expected = [(ids[0], None, True), (ids[1], None, False)]
    assert [(s.id, s.event, s.created) for s in again] == expected
    assert job_ids(raw, prefix) == set(ids)
    assert 0 < raw.ttl(f"{{{prefix}}}:save:token-1") <= 3600


@contextlib.asynccontextmanager
async def lossy(redis_server: Any, prefix: str) -> AsyncIterator[tuple[Queue, FaultProxy]]:
    """A queue whose replies can be lost for real: it talks to the suite's server through
    a fault proxy (connected before any latency is added, its scripts loaded)."""
    with FaultProxy(redis_server.port) as proxy:
        queue = Queue(url=proxy.url, prefix=prefix)
        try:
            await queue.create("warm-up", {}).save()
            yield queue, proxy
        finally:
            await queue.close()


async def cut_short(call: Awaitable[Any], raw: redis.Redis, prefix: str, landed: int) -> None:
    """Run ``call`` (a save over a 0.2 s link) and give up on it after 0.3 s: by then its
    first script call has run on the server, and its reply is lost on the way back."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(call, 0.3)
    wait_until(lambda: len(job_ids(raw, prefix)) == landed, f"{landed} jobs on the server")


async def test_unique_key_returns_the_existing_job(queue: Queue) -> None:
    first = await queue.create("report", {"n": 1}, unique="daily").save()
    second = await queue.create("report", {"n": 2}, unique="daily").save()
    assert second.id == first.id
    assert (await queue.get_job(first.job_id)).data == {"n": 1}
    await first.remove()
    third = await queue.create("report", {"n": 3}, unique="daily").save()
    assert third.id != first.id


async def test_jobs_listing_by_state_type_range_and_order(queue: Queue) -> None:
    saved = [await queue.create("a" if n % 2 else "b", {"n": n}).save() for n in range(6)]
    ids = [j.id for j in saved]
    listed = await queue.jobs("inactive", start=0, stop=9)
    assert [j.id for j in listed] == ids
    desc = await queue.jobs("inactive", start=0, stop=1, order="desc")
    assert [j.id for j in desc] == ids[::-1][:2]
    only_a = await queue.jobs("inactive", type="a")
    assert [j.data["n"] for j in only_a] == [1, 3, 5]
    everything = await queue.jobs(None, start=1, stop=2)
    assert [j.id for j in everything] == ids[1:3]
    with pytest.raises(InvalidJob, match="unknown state"):
        await queue.jobs("sleeping")
    with pytest.raises(InvalidArgument, match="<= 1000"):
        await queue.jobs("inactive", start=0, stop=1000)
    with pytest.raises(InvalidArgument, match="order"):
        await queue.jobs("inactive", order="sideways")


async def test_remove_deletes_job_and_missing_ids_raise(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    job = await queue.create("email", {}).save()
    await job.log("a line")
    await job.remove()
    assert job_ids(raw, prefix) == set()
    assert raw.exists(Keys(prefix).log(job.job_id)) == 0
    with pytest.raises(JobNotFound):
        await queue.get_job(job.job_id)
    with pytest.raises(JobNotFound):
        await queue.remove(job.job_id)
    for bad in (0, -1, "1", 2**60, True):
        with pytest.raises(InvalidArgument, match="job id"):
            await queue.get_job(bad)  # type: ignore[arg-type]


async def test_retry_needs_a_failed_job(queue: Queue) -> None:
    job = await queue.create("email", {}).save()
    with pytest.raises(InvalidState, match="inactive"):
        await job.retry()


async def test_remove_on_complete_options_are_validated() -> None:
    q = Queue(url="redis://127.0.0.1:1", prefix="never")
    assert q.create("x", remove_on_complete=timedelta(hours=1)).remove_on_complete == timedelta(
        hours=1
    )
    with pytest.raises(InvalidJob):
        q.create("x", remove_on_complete=timedelta(0))


@pytest.mark.parametrize(
    "options",
    [
        {"lease": 0},
        {"lease": "30"},
        {"lease": math.inf},
        {"max_stalls": -1},
        {"max_payload": 0},
        {"prefix": "a b"},
        {"save_timeout": 0},
        {"save_timeout": -1},
        {"save_timeout": math.nan},
        {"save_timeout": math.inf},
        {"save_timeout": "5"},
        {"save_timeout": True},
        {"save_timeout": None},
    ],
)
def test_bad_queue_options(options: dict) -> None:
    with pytest.raises(InvalidArgument):
        Queue(url="redis://127.0.0.1:1", **options)


async def test_a_sub_millisecond_delay_is_no_delay(queue: Queue) -> None:
    job = await queue.create("soon", {}, delay=0.0004).save()
    assert job.state is JobState.INACTIVE
    assert (await queue.get_job(job.id)).state is JobState.INACTIVE


async def test_add_bulk_refuses_the_same_job_twice_and_writes_nothing(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    job = queue.create("bulk", {})
    with pytest.raises(InvalidJob, match="same Job twice"):
        await queue.add_bulk([job, job])
    assert job.id is None
    assert snapshot(raw, prefix) == {}


async def test_add_bulk_with_a_unique_key_returns_the_existing_job(queue: Queue) -> None:
    first = await queue.create("bulk", {"n": 1}, unique="only-one").save()
    again, other = await queue.add_bulk(
        [queue.create("bulk", {"n": 2}, unique="only-one"), queue.create("bulk", {"n": 3})]
    )
    assert again.id == first.id
    assert other.id != first.id
    assert (await queue.counts("bulk"))["inactive"] == 2


async def test_saving_the_same_job_again_after_a_lost_reply_makes_one_job(
    redis_server: Any, raw: redis.Redis, prefix: str
) -> None:
    async with lossy(redis_server, prefix) as (queue, proxy):
        job = queue.create("retried", {})
        proxy.latency = 0.2
        await cut_short(job.save(), raw, prefix, 2)  # the warm-up's job and this one
        assert job.id is None  # its reply never came
        proxy.latency = 0
        await job.save()
        assert (job.created, job.state) == (True, JobState.INACTIVE)
        assert (await queue.counts("retried"))["inactive"] == 1
        assert job.id == max(job_ids(raw, prefix))
    delete_prefix(raw, prefix)


def test_exponential_backoff_is_capped() -> None:
    backoff = {"type": "exponential", "delay": 3600.0}
    assert backoff_delay(backoff, 1) == 3600.0
    assert backoff_delay(backoff, 3) == 4 * 3600.0
    assert backoff_delay(backoff, 45) == MAX_SECONDS


@contextlib.contextmanager
def silent_redis() -> Iterator[str]:
    """The URL of a "Redis" that takes connections (the kernel accepts them into the
    backlog) and never answers a byte: a hung server, or a peer behind a dead link."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}"


MARGIN = 2.0  # cancelling the call and closing its connection: well under this


async def test_save_and_add_bulk_give_up_after_save_timeout() -> None:
    with silent_redis() as url:
        queue = Queue(url=url, prefix="silent", save_timeout=0.3)
        try:
            job = queue.create("email", {})
            started = time.monotonic()
            with pytest.raises(
                ConnectionFailed, match="may or may not have been saved: saving it again is safe"
            ):
                await job.save()
            assert time.monotonic() - started < 0.3 + MARGIN
            assert job.id is None
            jobs = [queue.create("email", {"n": n}) for n in range(3)]
            started = time.monotonic()
            with pytest.raises(ConnectionFailed, match="0 of 3 jobs were saved"):
                await queue.add_bulk(jobs)
            assert time.monotonic() - started < 0.3 + MARGIN
            assert [job.id for job in jobs] == [None] * 3
        finally:
            await queue.close()


async def test_an_unreachable_server_raises_connection_failed_from_save() -> None:
    queue = Queue(url="redis://127.0.0.1:1", prefix="nowhere")  # connection refused
    try:
        with pytest.raises(ConnectionFailed, match="saving it again is safe") as caught:
            await queue.create("email", {}).save()
        assert isinstance(caught.value.__cause__, redis.ConnectionError)
    finally:
        await queue.close()


async def test_a_bulk_save_retried_with_another_subset_saves_each_job_once(
    redis_server: Any, raw: redis.Redis, prefix: str
) -> None:
    async with lossy(redis_server, prefix) as (queue, proxy):
        jobs = [queue.create("bulk", {"n": n}) for n in range(1200)]
        proxy.latency = 0.2
        # chunk 0-499 runs, its reply is lost; chunk 500-699 is never sent
        await cut_short(queue.add_bulk(jobs[:700]), raw, prefix, 501)
        assert all(job.id is None for job in jobs)
        proxy.latency = 0
        await queue.add_bulk(jobs[300:])  # another subset: the lost call goes again, whole
        assert all(job.id is not None for job in jobs)  # 0-299 came back with it
        await queue.add_bulk(jobs[299::-1])  # saved already: left as they are
        assert len(job_ids(raw, prefix)) == 1201
        assert len({job.id for job in jobs}) == 1200
        assert all(job.created for job in jobs)
        stored = {
            job.id: orjson.loads(raw.hget(Keys(prefix).job(job.job_id), "data")) for job in jobs
        }
        assert [stored[job.id]["n"] for job in jobs] == list(range(1200))
    delete_prefix(raw, prefix)


async def test_add_bulk_called_again_with_its_whole_list_is_not_refused(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    jobs = [queue.create("bulk", {"n": n}) for n in range(10)]
    await queue.add_bulk(jobs[:4])  # as if the call had raised after its first chunk
    ids = [job.id for job in jobs[:4]]
    assert await queue.add_bulk(jobs) is jobs
    assert [job.id for job in jobs[:4]] == ids
    await jobs[0].save()  # saved by this Job already: left as it is
    assert len(job_ids(raw, prefix)) == 10
    with pytest.raises(InvalidJob, match="already saved"):  # a copy of a stored job is not
        await (await queue.get_job(jobs[0].job_id)).save()
    with pytest.raises(InvalidJob, match="already saved"):
        await queue.add_bulk([await queue.get_job(jobs[1].job_id)])


async def test_a_retried_save_answers_what_the_first_save_did(
    redis_server: Any, raw: redis.Redis, prefix: str
) -> None:
    async with lossy(redis_server, prefix) as (queue, proxy):
        twin = await queue.create("retried", {}, unique="one").save()
        job, dup = queue.create("retried", {}), queue.create("retried", {}, unique="one")
        proxy.latency = 0.2
        await cut_short(queue.add_bulk([job, dup]), raw, prefix, 3)
        proxy.latency = 0
        await dup.save()  # the lost call goes again, with both
        assert (job.created, job.state) == (True, JobState.INACTIVE)
        assert (dup.created, dup.id, dup.state) == (False, twin.id, JobState.INACTIVE)
        assert dup.created_at == (await queue.get_job(twin.job_id)).created_at
        assert job.created_at == (await queue.get_job(job.job_id)).created_at
    delete_prefix(raw, prefix)


async def test_progress_and_log_refuse_what_cannot_be_stored_and_write_nothing(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    queue = Queue(url=redis_url, prefix=prefix, max_payload=100)
    try:
        job = await queue.create("t", {}).save()
        before = snapshot(raw, prefix)
        refused: list[tuple[Callable[[], Awaitable[None]], str]] = [
            (lambda: job.progress(50, 5e-324), "out of range"),
            (lambda: job.progress(-50, 5e-324), "out of range"),
            (lambda: job.progress(True), "must be a number"),
            (lambda: job.progress(10**5000), "about 5000 digits"),
            (
                lambda: job.progress(1, 2, {"a": "x" * 100}),
                "progress data is 108 bytes, over the limit",
            ),
            (lambda: job.progress(1, 2, {"a": "\ud800"}), "surrogates"),
            (lambda: job.progress(1, 2, {"a": 2**64}), "64-bit"),
            (lambda: job.progress(1, 2, [math.nan]), "NaN"),
            (lambda: job.log("\udcff"), "not valid text"),
            (lambda: job.log("bad name \udcff.txt"), "not valid text"),
            (lambda: job.log("x" * 101), "log line is 101 bytes, over the limit of 100"),
            (lambda: job.log("\u00e9" * 51), "log line is 102 bytes"),  # bytes, not characters
            (lambda: job.log(b"bytes"), "must be a string, got bytes"),  # type: ignore[arg-type]
        ]
        for call, says in refused:
            with pytest.raises(InvalidJob, match=says):
                await call()
        assert snapshot(raw, prefix) == before
        await job.log("y" * 100)  # at the limit: kept
        assert await queue.get_log(job.job_id) == ["y" * 100]
        assert (job.percent, job.progress_data) == (0, None)  # nothing was recorded
    finally:
        await queue.close()
        delete_prefix(raw, prefix)


async def test_waiting_on_failed_jobs_leaves_no_unretrieved_exception(queue: Queue) -> None:
    @queue.process("doomed", concurrency=10)
    async def doomed(job: Job) -> None:
        raise ValueError("it was never going to work")

    failed: list[int] = []
    all_failed = asyncio.Event()

    def count(job_id: int, error: str) -> None:
        failed.append(job_id)
        if len(failed) == 50:
            all_failed.set()

    queue.on("job failed", count)
    await queue.connect()
    jobs = await queue.add_bulk([queue.create("doomed", {"n": n}) for n in range(50)])
    worker = asyncio.create_task(queue.run(handle_signals=False))
    try:
        await asyncio.wait_for(all_failed.wait(), 30)
    finally:
        await queue.shutdown(timeout=5)
        await worker
    # Each wait() now finds the job failed in its fresh read while the event reader
    # replays the same failure to its watch: that second copy must be consumed too.
    loop = asyncio.get_running_loop()
    unretrieved: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context["message"]))
    try:
        for job in jobs:
            with pytest.raises(JobFailed, match="never going to work"):
                await job.wait(10)
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert unretrieved == []
