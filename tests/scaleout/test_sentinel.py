"""pykue behind Sentinel (1 master, 1 replica, 3 sentinels on loopback): the same code
through a redis+sentinel:// URL, and a failover under a running worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pykue import ConnectionFailed, Queue
from tests.test_worker import running
from tests.topology import LocalSentinel


@pytest.fixture
def sentinel() -> Iterator[LocalSentinel]:
    with LocalSentinel.start() as built:
        yield built


async def test_jobs_run_through_the_master_sentinel_names(sentinel: LocalSentinel) -> None:
    queue = Queue(url=sentinel.url, prefix="sent", lease=1.0)
    try:

        @queue.process("work", concurrency=2)
        async def handler(job: Any) -> int:
            await job.progress(1, 2)
            return int(job.data["n"]) + 1

        progress: list[int] = []
        first = queue.create("work", {"n": 0})
        first.on("progress", lambda pct, data: progress.append(pct))
        jobs = [await first.save(), *await queue.add_bulk(
            [queue.create("work", {"n": n}) for n in range(1, 10)]
        )]  # fmt: skip
        async with running(queue):
            assert [await job.wait(20) for job in jobs] == list(range(1, 11))
        assert progress == [50]
    finally:
        await queue.close()


async def test_worker_and_producer_follow_a_failover(sentinel: LocalSentinel) -> None:
    queue = Queue(url=sentinel.url, prefix="sent", lease=1.0)
    try:

        @queue.process("work")
        async def handler(job: Any) -> str:
            return "done"

        async with running(queue) as worker:
            before = await queue.create("work", {}).save()
            assert await before.wait(20) == "done"
            old = sentinel.current_master()
            sentinel.kill_master()
            new = await asyncio.to_thread(sentinel.wait_for_failover)
            assert new != old
            after = queue.create("work", {})
            for _ in range(100):  # the client learns the new master on its next errors
                try:
                    await after.save()
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            assert await after.wait(30) == "done"
            assert not worker.done()
        # replication is asynchronous: a job saved and completed before the kill is on
        # the new master only if the replica had received it (it had seconds to)
        assert (await queue.get_job(before.job_id)).result == "done"
    finally:
        await queue.close()


async def test_the_master_is_used_as_the_acl_user_the_url_names() -> None:
    acl = ("--user", "app", "on", ">s3cret", "~*", "&*", "+@all")
    with LocalSentinel.start(extra=acl) as sentinel:
        hosts = sentinel.url.removeprefix("redis+sentinel://")
        queue = Queue(url=f"redis+sentinel://app:s3cret@{hosts}", prefix="acl")
        try:
            job = await queue.create("work", {}).save()
            with redis.Redis(port=sentinel.master_port, decode_responses=True) as admin:
                users = {c["user"] for c in admin.client_list()}  # admin itself: default
                assert "app" in users
                assert admin.hget(queue.keys.job(job.job_id), "type") == "work"
        finally:
            await queue.close()
        wrong = Queue(url=f"redis+sentinel://app:nope@{hosts}", prefix="acl")
        try:
            with pytest.raises(ConnectionFailed, match=r"app:\*\*\*@.*refused pykue"):
                await wrong.create("work", {}).save()
        finally:
            await wrong.close()
