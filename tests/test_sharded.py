"""ShardedQueue on one server: keys pick shards stably, bad arguments are refused."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pykue import ConnectionFailed, InvalidArgument, InvalidJob, InvalidName, Queue, ShardedQueue
from tests.helpers import delete_prefix
from tests.test_producer import MARGIN, silent_redis


def test_a_key_always_picks_the_same_shard_and_no_key_takes_turns() -> None:
    sharded = ShardedQueue("redis://127.0.0.1:1", prefix="orders", shards=4)
    again = ShardedQueue("redis://127.0.0.1:1", prefix="orders", shards=4)
    picks = {key: sharded.shard_for(key).settings.prefix for key in map(str, range(200))}
    assert picks == {key: again.shard_for(key).settings.prefix for key in picks}
    assert set(picks.values()) == {f"orders.{n}" for n in range(4)}
    turns = [sharded.shard_for().settings.prefix for _ in range(8)]
    assert turns == [f"orders.{n}" for n in range(4)] * 2


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"shards": 0}, InvalidArgument, "shards must be"),
        ({"shards": 1025}, InvalidArgument, "shards must be"),
        ({"shards": True}, InvalidArgument, "shards must be"),
        ({"shards": 2, "prefix": "a b"}, InvalidName, "prefix"),
        ({"shards": 2, "prefix": "x" * 127}, InvalidName, "prefix"),  # "x...x.1" is 129
        ({"shards": 2, "lease": 0}, InvalidArgument, "lease"),
        ({"shards": 2, "save_timeout": 0}, InvalidArgument, "save_timeout"),
    ],
)
def test_bad_arguments_are_refused(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ShardedQueue("redis://127.0.0.1:1", **options)


async def test_bulk_refuses_foreign_jobs_and_bad_keys(redis_url: str, raw: Any) -> None:
    sharded = ShardedQueue(redis_url, prefix="tshard", shards=2)
    other = Queue(redis_url, prefix="tother")
    try:
        with pytest.raises(InvalidJob, match="shard key must be a string"):
            sharded.create("t", {}, key=7)  # type: ignore[arg-type]
        with pytest.raises(InvalidJob, match="this ShardedQueue"):
            await sharded.add_bulk([sharded.create("t", {}), other.create("t", {})])
        with pytest.raises(InvalidJob, match="over the limit"):
            await sharded.add_bulk(
                [sharded.create("t", {}), sharded.create("t", {"x": "y" * 2**21})]
            )
        assert await sharded.counts() == dict.fromkeys(await sharded.counts(), 0)
        saved = await sharded.add_bulk([sharded.create("t", {"n": n}) for n in range(4)])
        assert (await sharded.counts())["inactive"] == 4
        assert (
            sorted(job.queue.settings.prefix for job in saved)
            == ["tshard.0"] * 2 + ["tshard.1"] * 2
        )
    finally:
        await sharded.close()
        await other.close()
        for prefix in ("tshard.0", "tshard.1"):
            delete_prefix(raw, prefix)


async def test_bulk_gives_up_after_each_shards_save_timeout() -> None:
    with silent_redis() as url:
        sharded = ShardedQueue(url, prefix="silent", shards=3, save_timeout=0.3)
        try:
            assert [shard.save_timeout for shard in sharded.shards] == [0.3] * 3
            jobs = [sharded.create("t", {"n": n}) for n in range(6)]
            started = time.monotonic()
            with pytest.raises(ConnectionFailed, match="0 of 2 jobs were saved"):
                await sharded.add_bulk(jobs)
            assert time.monotonic() - started < 0.3 + MARGIN
            assert [job.id for job in jobs] == [None] * 6
        finally:
            await sharded.close()
