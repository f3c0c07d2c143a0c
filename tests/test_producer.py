"""Creating, saving, querying and administering jobs (no worker involved)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import redis

from pykue import InvalidJob, InvalidName, InvalidState, JobNotFound, JobState, Queue
from pykue.job import MAX_SECONDS, backoff_delay
from pykue.keys import Keys
from tests.helpers import job_ids


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
        "inactive": 2, "active": 0, "complete": 0, "failed": 0, "delayed": 0,
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


async def test_retried_save_with_the_same_token_creates_one_job(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    # What redis-py does when a save times out after Redis ran it: the same call again.
    args = ("token-1", 3600, b'[["email", "{}", 0, 0, 1, "", 0, "", ""]]')
    first = await queue.call("enqueue", *args)
    again = await queue.call("enqueue", *args)
    assert int(again[0]) == int(first[0])
    assert (int(first[2]), int(again[2])) == (1, 0)
    assert job_ids(raw, prefix) == {int(first[0])}


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
    with pytest.raises(InvalidJob, match="<= 1000"):
        await queue.jobs("inactive", start=0, stop=1000)
    with pytest.raises(InvalidJob, match="order"):
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
        with pytest.raises(JobNotFound):
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
    ],
)
def test_bad_queue_options(options: dict) -> None:
    with pytest.raises(InvalidJob):
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


async def test_saving_the_same_job_again_after_a_lost_reply_makes_one_job(queue: Queue) -> None:
    job = queue.create("retried", {})
    await job.save()
    first_id = job.id
    job.id = None  # as if the reply had been lost and the caller saved again
    await job.save()
    assert job.id == first_id
    assert (await queue.counts("retried"))["inactive"] == 1


def test_exponential_backoff_is_capped() -> None:
    backoff = {"type": "exponential", "delay": 3600.0}
    assert backoff_delay(backoff, 1) == 3600.0
    assert backoff_delay(backoff, 3) == 4 * 3600.0
    assert backoff_delay(backoff, 45) == MAX_SECONDS
