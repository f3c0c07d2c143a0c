"""Reading job hashes that pykue did not write whole: by hand, by an old version or by
another tool. Each is read with defaults and says what was wrong, never raises."""

from __future__ import annotations

import pytest
import redis

from pykue import InvalidJob, JobState, Queue
from pykue.keys import Keys

# field overrides on a sound inactive job -> the reason ``job.corrupt`` gives
CORRUPTIONS: dict[str, tuple[dict[str, bytes], str]] = {
    "data not JSON": ({"data": b"{not json"}, "data is not JSON"),
    "data not an object": ({"data": b"[1, 2]"}, "data is not a JSON object"),
    "priority not a number": ({"priority": b"high"}, "priority is not a whole number"),
    "unknown state": ({"state": b"bogus"}, "unknown state 'bogus'"),
    "type not UTF-8": ({"type": b"t\xff"}, "type is not UTF-8"),
    "data not UTF-8": ({"data": b'{"a": "\xff"}'}, "data is not JSON"),
    "huge number": ({"attempts": b"9" * 5000}, "attempts is not a whole number"),
    "remove policy": ({"remove": b"count:many"}, "remove policy is not readable"),
    "result not JSON": ({"state": b"complete", "result": b"\x00"}, "result is not JSON"),
}


@pytest.mark.parametrize("case", CORRUPTIONS)
async def test_a_corrupt_hash_reads_with_its_reason(
    queue: Queue, redis_url: str, prefix: str, case: str
) -> None:
    job = await queue.create("t", {"n": 1}).save()
    fields, reason = CORRUPTIONS[case]
    key = Keys(prefix).job(job.id or 0)
    binary = redis.Redis.from_url(redis_url)
    sound = binary.hgetall(key)
    try:
        binary.hset(key, mapping=fields)  # type: ignore[arg-type]
        found = await queue.get_job(job.id or 0)
        assert found.corrupt is not None
        assert found.corrupt.startswith(reason)
        assert found.to_dict()["corrupt"] == found.corrupt
        assert len(found.corrupt) < 200
        listed = await queue.jobs("inactive")  # the index decides: the row is there, corrupt
        assert [(j.id, j.corrupt) for j in listed] == [(job.id, found.corrupt)]
    finally:
        binary.delete(key)
        binary.hset(key, mapping=sound)  # type: ignore[arg-type]
        binary.close()


async def test_a_sound_job_is_not_corrupt(queue: Queue) -> None:
    job = await queue.create("t", {"n": 1}, priority="high", attempts=3).save()
    found = await queue.get_job(job.id or 0)
    assert found.corrupt is None
    assert "corrupt" not in found.to_dict()
    assert (found.data, found.priority, found.attempts) == ({"n": 1}, -10, 3)
    assert found.state is JobState.INACTIVE


async def test_a_foreign_log_line_and_error_record_are_shown_not_fatal(
    queue: Queue, redis_url: str, prefix: str
) -> None:
    job = await queue.create("t", {}).save()
    keys, job_id = Keys(prefix), job.id or 0
    binary = redis.Redis.from_url(redis_url)
    try:
        binary.rpush(keys.log(job_id), b"fine", b"not \xff UTF-8")
        binary.rpush(keys.errors(job_id), b"{not json", b"[1]", b'{"attempt": 1, "error": "e"}')
        assert await queue.get_log(job_id) == ["fine", "not \\xff UTF-8"]
        errors = await queue.get_errors(job_id)
        assert [e["error"] for e in errors] == [
            "unreadable error record: '{not json'",
            "unreadable error record: '[1]'",
            "e",
        ]
    finally:
        binary.delete(keys.log(job_id), keys.errors(job_id))
        binary.close()


async def test_a_log_format_that_does_not_fit_its_arguments_is_invalid_job(queue: Queue) -> None:
    job = await queue.create("t", {}).save()
    with pytest.raises(InvalidJob, match="does not take"):
        await job.log("100%", 5)
    await job.log("%d%%", 100)
    assert await queue.get_log(job.id or 0) == ["100%"]


async def test_type_names_added_by_hand_that_break_the_rule_are_left_out(
    queue: Queue, redis_url: str, prefix: str
) -> None:
    await queue.create("good", {}).save()
    binary = redis.Redis.from_url(redis_url)
    try:
        binary.sadd(Keys(prefix).types, b"bad name", b"\xff\xfe", b"")
        assert await queue.types() == ["good"]
    finally:
        binary.srem(Keys(prefix).types, b"bad name", b"\xff\xfe", b"")
        binary.close()
