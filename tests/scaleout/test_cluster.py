"""pykue on a real Redis Cluster (3 masters, 3 replicas on loopback): the core behaviour
through a redis+cluster:// URL, queues spread over the masters, and a failover."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pykue import JobFailed, JobState, Queue, ShardedQueue
from pykue.web import create_app, create_overview_app
from tests.chaos.support import Child, read_lines, record
from tests.helpers import ROOT, wait_until
from tests.test_worker import running
from tests.topology import LocalCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster.start() as built:
        yield built


@pytest.fixture
async def queue(cluster: LocalCluster) -> AsyncIterator[Queue]:
    q = Queue(url=cluster.url, prefix=cluster.prefix_on(cluster.master_ports[0], "c"), lease=1.0)
    try:
        yield q
    finally:
        await q.shutdown(timeout=5)
        await q.close()


async def test_jobs_run_with_progress_events_in_order(queue: Queue) -> None:
    @queue.process("steps", concurrency=3)
    async def handler(job: Any) -> int:
        for step in (1, 2):
            await job.progress(step, 2)
        return int(job.data["n"]) * 10

    seen: dict[int, list[int]] = {}
    jobs = []
    for n in range(6):
        job = queue.create("steps", {"n": n})
        job.on("progress", lambda pct, data, n=n: seen.setdefault(n, []).append(pct))
        jobs.append(await job.save())
    jobs += await queue.add_bulk([queue.create("steps", {"n": n}) for n in range(6, 20)])
    async with running(queue):
        results = [await job.wait(20) for job in jobs]
    assert results == [n * 10 for n in range(20)]
    assert seen == {n: [50, 100] for n in range(6)}
    assert (await queue.counts())["complete"] == 20


async def test_retries_with_backoff_then_delayed_jobs_are_promoted(queue: Queue) -> None:
    attempts: list[int] = []

    @queue.process("flaky")
    async def flaky_handler(job: Any) -> str:
        attempts.append(job.attempts_made)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return "made it"

    @queue.process("doomed")
    async def doomed_handler(job: Any) -> str:
        raise RuntimeError("never")

    @queue.process("later")
    async def later(job: Any) -> str:
        return "on time"

    backoff = {"type": "fixed", "delay": 0.2}
    flaky = await queue.create("flaky", {}, attempts=3, backoff=backoff).save()
    doomed = await queue.create("doomed", {}, attempts=2, backoff=backoff).save()
    delayed = await queue.create("later", {}, delay=0.5).save()
    assert (await queue.get_job(delayed.job_id)).state is JobState.DELAYED
    async with running(queue):
        assert await flaky.wait(20) == "made it"
        assert await delayed.wait(20) == "on time"
        with pytest.raises(JobFailed, match="never"):
            await doomed.wait(20)
    assert attempts == [0, 1, 2]
    assert (await queue.get_job(doomed.job_id)).attempts_made == 2


async def test_a_killed_workers_job_is_recovered(queue: Queue) -> None:
    started = asyncio.Event()
    job = queue.create("crashy", {"n": 1})
    job.on("progress", lambda pct, data: started.set())
    await job.save()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    program = str(ROOT / "tests/programs/hanging_worker.py")
    assert queue.settings.url is not None
    proc = await asyncio.create_subprocess_exec(
        sys.executable, program, queue.settings.url, queue.settings.prefix, env=env
    )
    try:
        await asyncio.wait_for(started.wait(), 30)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    @queue.process("crashy")
    async def handler(job: Any) -> str:
        return "recovered"

    async with running(queue):
        assert await job.wait(30) == "recovered"
    assert (await queue.get_job(job.job_id)).stalls == 1


async def test_dashboard_stats_and_failures(queue: Queue) -> None:
    @queue.process("mixed")
    async def handler(job: Any) -> str:
        if job.data["fail"]:
            raise ValueError("bad luck")
        return "ok"

    jobs = [await queue.create("mixed", {"fail": n % 2 == 1}).save() for n in range(4)]
    async with running(queue):
        for job in jobs:
            with pytest.raises(JobFailed) if job.data["fail"] else contextlib.nullcontext():
                await job.wait(20)
    transport = httpx2.ASGITransport(app=create_app(queue))
    async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as api:
        stats = (await api.get("/stats")).json()
        failed = (await api.get("/jobs/mixed/failed/0..10/asc")).json()
    assert (stats["completeCount"], stats["failedCount"]) == (2, 2)
    assert [job["error"] for job in failed] == ["bad luck", "bad luck"]


async def test_queues_spread_over_the_masters(cluster: LocalCluster) -> None:
    queues = [
        Queue(url=cluster.url, prefix=cluster.prefix_on(m, "c")) for m in cluster.master_ports
    ]
    try:
        for q in queues:

            @q.process("spread")
            async def handler(job: Any) -> str:
                return str(job.queue.settings.prefix)

        saved = [await q.add_bulk([q.create("spread", {}) for _ in range(50)]) for q in queues]
        async with running(queues[0]), running(queues[1]), running(queues[2]):
            for q, jobs in zip(queues, saved, strict=True):
                assert {await job.wait(20) for job in jobs} == {q.settings.prefix}
        holders = {cluster.master_for_key(q.keys.events) for q in queues}
        assert holders == set(cluster.master_ports)
        # the overview asks each queue (each master) on its own and adds the counts up
        transport = httpx2.ASGITransport(app=create_overview_app(queues))
        async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as api:
            listed = (await api.get("/queues")).json()
            one = (await api.get(f"/q/{queues[1].keys.prefix}/stats")).json()
        assert [each["counts"]["complete"] for each in listed["queues"]] == [50, 50, 50]
        assert (listed["all"]["complete"], listed["unreachable"]) == (150, 0)
        assert one["completeCount"] == 50
    finally:
        for q in queues:
            await q.close()


async def test_failover_under_load_carries_on(cluster: LocalCluster, tmp_path: Path) -> None:
    """Kill the master holding a queue's slot while a producer and a worker process use
    it: its replica takes over and both carry on by themselves. Replication is
    asynchronous, so the last saves acknowledged before the kill may be gone: they are
    counted, and every save after the failover must be there and complete."""
    master = cluster.master_ports[-1]
    prefix = cluster.prefix_on(master, "c")
    total = 1500
    producer = Child(
        "producer.py",
        [cluster.url, prefix, str(tmp_path / "saved"), "--count", str(total), "--every", "0.003"],
        tmp_path / "producer.log",
    )
    worker = Child(
        "worker.py",
        [cluster.url, prefix, str(tmp_path / "effects"), "--concurrency", "10", "--lease", "2"],
        tmp_path / "worker.log",
    )
    queue = Queue(url=cluster.url, prefix=prefix)
    try:
        wait_until(lambda: len(read_lines(tmp_path / "saved")) >= total // 3, "saves", 60)
        cluster.kill(master)
        killed_at = time.monotonic()
        killed_after = len(read_lines(tmp_path / "saved"))
        cluster.wait_for_failover(master)
        failover_s = time.monotonic() - killed_at
        assert producer.proc.wait(timeout=120) == 0, producer.output()
        saved = {int(seq): int(job_id) for seq, job_id in read_lines(tmp_path / "saved")}
        assert sorted(saved) == list(range(total))
        # by seq, not id: ids the lost jobs had are handed out again after the failover
        present: dict[int, int] = {}
        for state in ("inactive", "active", "complete", "failed", "delayed"):
            for start in range(0, total, 1000):
                for job in await queue.jobs(state, start=start, stop=start + 999):
                    present[int(job.data["seq"])] = job.job_id
        lost = sorted(set(saved) - set(present))
        assert all(seq < killed_after for seq in lost), "a save made after the failover is gone"
        assert len(lost) < 50, f"{len(lost)} acknowledged saves lost: more than a moment's writes"
        deadline = time.monotonic() + 60
        while (await queue.counts())["complete"] < len(present):
            assert worker.alive(), worker.output()
            assert time.monotonic() < deadline, "the worker did not carry on"
            await asyncio.sleep(0.1)  # the worker is another process: poll its progress
        assert worker.stop() == 0, worker.output()
        record(
            "8 cluster failover",
            jobs_saved=total,
            saved_before_kill=killed_after,
            acknowledged_then_lost=len(lost),
            failover_s=round(failover_s, 2),
        )
    finally:
        producer.kill()
        worker.kill()
        await queue.close()


async def test_a_sharded_queue_spreads_one_type_over_the_masters(cluster: LocalCluster) -> None:
    name = next(
        n
        for n in (f"s{uuid.uuid4().hex[:6]}" for _ in range(1000))
        if len({cluster.master_for_key("{" + f"{n}.{i}" + "}") for i in range(3)}) == 3
    )
    sharded = ShardedQueue(cluster.url, prefix=name, shards=3, lease=1.0)
    try:
        keyed = [sharded.create("mail", {"to": "ann", "n": n}, key="ann") for n in range(5)]
        spread = [sharded.create("mail", {"to": "any", "n": n}) for n in range(30)]
        await sharded.add_bulk(keyed + spread)
        assert len({job.queue for job in keyed}) == 1  # one key, one shard: kept in order
        assert [sum(job.queue is q for job in spread) for q in sharded.shards] == [10, 10, 10]

        done: list[tuple[str, int]] = []

        async def handler(job: Any) -> None:
            done.append((job.data["to"], job.data["n"]))

        sharded.process("mail", handler)  # one at a time per shard: a key's jobs in order
        runner = asyncio.ensure_future(sharded.run())
        for job in keyed + spread:
            await job.wait(20)
        assert [n for to, n in done if to == "ann"] == list(range(5))
        assert await sharded.counts("mail") == {
            "inactive": 0, "active": 0, "complete": 35, "failed": 0, "delayed": 0,
            "waiting": 0,
        }  # fmt: skip
        await sharded.shutdown()
        await runner
    finally:
        await sharded.close()
