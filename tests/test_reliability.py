"""Crashes and outages: a SIGKILLed worker, a restarted Redis, a cut event connection."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

import pytest
import redis

from pykue import JobState, Queue
from tests.helpers import ROOT, RedisServer, free_port
from tests.test_worker import running


async def test_sigkilled_worker_loses_no_job(redis_url: str, prefix: str) -> None:
    q = Queue(url=redis_url, prefix=prefix, lease=1.0)
    await q.connect()
    started: set[int] = set()
    all_started = asyncio.Event()
    jobs = []
    for n in range(5):
        job = q.create("crashy", {"n": n})

        def on_progress(pct: int, data: Any, job_id: int = n) -> None:
            started.add(job_id)
            if len(started) == 5:
                all_started.set()

        job.on("progress", on_progress)
        jobs.append(await job.save())
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    program = str(ROOT / "tests/programs/hanging_worker.py")
    proc = await asyncio.create_subprocess_exec(sys.executable, program, redis_url, prefix, env=env)
    try:
        await asyncio.wait_for(all_started.wait(), 30)
        assert (await q.counts())["active"] == 5
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)

    @q.process("crashy", concurrency=5)
    async def handler(job: Any) -> str:
        return f"recovered {job.data['n']}"

    try:
        async with running(q):
            results = [await job.wait(30) for job in jobs]
        assert results == [f"recovered {n}" for n in range(5)]
        counts = await q.counts()
        assert counts == {
            "inactive": 0,
            "active": 0,
            "complete": 5,
            "failed": 0,
            "delayed": 0,
            "waiting": 0,
        }
        for job in jobs:
            stored = await q.get_job(job.job_id)
            assert (stored.stalls, stored.state) == (1, JobState.COMPLETE)
    finally:
        await q.close()


async def test_worker_rides_out_a_redis_restart() -> None:
    server = RedisServer.start()
    q = Queue(url=server.url, prefix="restart", lease=1.0)
    try:

        @q.process("work")
        async def handler(job: Any) -> int:
            return int(job.data["n"]) + 1

        async with running(q) as worker:
            assert await (await q.create("work", {"n": 1}).save()).wait(10) == 2
            server.kill()
            await asyncio.sleep(0.5)  # the outage itself: the worker must live through it
            assert not worker.done()
            server.restart()
            job = await q.create("work", {"n": 41}).save()
            assert await job.wait(20) == 42
            assert not worker.done()
    finally:
        await q.close()
        server.stop()


async def test_event_listener_resumes_after_its_connection_is_cut(
    queue: Queue, raw: redis.Redis
) -> None:
    halfway = asyncio.Event()
    cut_done = asyncio.Event()

    @queue.process("steps")
    async def handler(job: Any) -> str:
        for step in range(1, 11):
            await job.progress(step, 20)
        halfway.set()
        await cut_done.wait()
        for step in range(11, 21):
            await job.progress(step, 20)
        return "done"

    seen: list[int] = []
    job = queue.create("steps", {})
    job.on("progress", lambda pct, data: seen.append(pct))
    await job.save()
    async with running(queue):
        await asyncio.wait_for(halfway.wait(), 10)
        killed = raw.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        cut_done.set()
        assert await job.wait(20) == "done"
    assert seen == [step * 5 for step in range(1, 21)]


async def test_worker_survives_a_server_that_turns_read_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """READONLY (a failover demoted the server) is not a connection error; it must not
    end the worker's loops either."""
    server = RedisServer.start()
    admin = redis.Redis(port=server.port)
    q = Queue(url=server.url, prefix="readonly", lease=1.0)
    try:

        @q.process("work")
        async def handler(job: Any) -> str:
            return "written"

        async with running(q) as worker:
            admin.replicaof("127.0.0.1", free_port())  # a master that never answers
            deadline = time.monotonic() + 15
            while not any("READONLY" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline, "the worker never hit the READONLY error"
                await asyncio.sleep(0.05)
            admin.replicaof("NO", "ONE")
            job = await q.create("work", {}).save()
            assert await job.wait(20) == "written"
            assert not worker.done()
    finally:
        await q.close()
        admin.close()
        server.stop()


async def test_event_reader_survives_an_error_reply_to_its_read(
    queue: Queue, raw: redis.Redis
) -> None:
    """A blocked XREAD can end in an error reply (CLIENT UNBLOCK ... ERROR, or a
    failover on Redis 7); the reader must carry on, not stop delivering."""
    completed = asyncio.Event()

    @queue.process("after")
    async def handler(job: Any) -> str:
        return "delivered"

    await queue.connect()
    queue.on("job complete", lambda job_id, result: completed.set())
    deadline = time.monotonic() + 10
    while not (readers := [c for c in raw.client_list() if c["cmd"] == "xread"]):
        assert time.monotonic() < deadline, "the event reader never blocked in XREAD"
        await asyncio.sleep(0.01)  # a server-side state; there is no event to wait on
    reader = readers[0]
    assert raw.client_unblock(reader["id"], error=True)
    await queue.create("after", {}).save()
    async with running(queue):
        await asyncio.wait_for(completed.wait(), 20)


async def test_a_claim_sent_with_acks_that_err_is_honoured(queue: Queue, raw: redis.Redis) -> None:
    """A worker sends the completions of the jobs that ended with its next claim, in one
    round trip. When those err, the claim ran all the same: the jobs it took must start
    at once, not sit active until their lease expires and count a stall. (Here job 0's
    handler overwrites the per-minute counters with strings, so its completion errs with
    WRONGTYPE once it has completed the job; job 1's handler puts them right.)"""
    minutes = [queue.keys.minute(int(time.time() // 60) + n) for n in range(2)]

    @queue.process("work", concurrency=1)
    async def handler(job: Any) -> int:
        n: int = job.data["n"]
        if n == 0:
            for key in minutes:
                raw.set(key, "not a hash")
        elif n == 1:
            raw.delete(*minutes)
        return n

    jobs = [await queue.create("work", {"n": n}).save() for n in range(3)]
    async with running(queue):
        assert [await job.wait(10) for job in jobs] == [0, 1, 2]
    for job in jobs:
        assert (await queue.get_job(job.job_id)).stalls == 0
