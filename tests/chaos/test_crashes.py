"""Workers that die or freeze: SIGKILL every second under load, and a SIGSTOP longer
than the lease. Nothing may be lost, and a stale worker's late ack must change nothing."""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import statistics
import time
from pathlib import Path

import pytest

from pykue import Job, JobState, Queue
from tests.chaos.conftest import FULL
from tests.chaos.support import LEASE, PREFIX, ChaosRedis, Child, read_lines, record, worker_child
from tests.helpers import assert_invariants, wait_until


def worker(tmp_path: Path, server: ChaosRedis, name: object, *extra: str) -> Child:
    return worker_child(tmp_path, server.url, name, *extra)


def started(child: Child) -> bool:
    """Its worker runs (and so has its SIGTERM handler): a SIGTERM stops it cleanly."""
    return "processing" in child.output()


def held_by(server: ChaosRedis, pid: int) -> set[int]:
    """Ids of the active jobs whose lease names the process ``pid``."""
    client = server.client()
    try:
        active = client.zrange("{chaos}:jobs:active", 0, -1)
        owners = [client.hget(f"{{chaos}}:job:{i}", "worker") or "" for i in active]
        return {int(i) for i, owner in zip(active, owners, strict=True) if f":{pid}:" in owner}
    finally:
        client.close()


@pytest.mark.parametrize("max_stalls", [1000, 1], ids=["max_stalls=1000", "default max_stalls=1"])
async def test_workers_killed_every_second_lose_no_job(
    chaos_redis: ChaosRedis, queue: Queue, tmp_path: Path, max_stalls: int
) -> None:
    """With max_stalls=1000 a job held by several killed workers in turn never fails as
    stalled. At the default (1) a job whose worker is killed twice while it holds it
    fails "stalled": the figures say how often that happens in this storm (the price of
    failing a job that kills its workers after one retry instead of a thousand)."""
    total = 5000 if FULL else 1500
    rng = random.Random(7)
    jobs = await queue.add_bulk([queue.create("work", {"n": n}) for n in range(total)])
    options = ("--concurrency", "10", "--sleep", "0.1", "--max-stalls", str(max_stalls))
    workers = [worker(tmp_path, chaos_redis, n, *options) for n in range(4)]
    kills: list[tuple[float, set[int]]] = []  # (when, ids the victim held)
    client = chaos_redis.client()
    began = time.time()
    try:

        def ended() -> int:
            return int(client.zcard("{chaos}:jobs:complete") + client.zcard("{chaos}:jobs:failed"))

        while ended() < total:
            assert time.time() - began < (240 if FULL else 90), "the jobs never all completed"
            await asyncio.sleep(1.0)  # the kill cadence the scenario asks for
            if ended() >= total:
                break
            slot = rng.randrange(len(workers))
            victim = workers[slot]
            victim.kill()
            kills.append((time.time(), held_by(chaos_redis, victim.pid)))
            workers[slot] = worker(tmp_path, chaos_redis, f"{slot}-{len(kills)}", *options)
        elapsed = time.time() - began
        for child in workers:
            wait_until(lambda child=child: started(child), "the last workers to start", 30)
            assert child.stop() == 0, child.output()
    finally:
        for child in workers:
            child.kill()
        client.close()

    counts = await queue.counts()
    failed = counts["failed"]
    assert counts == {
        "inactive": 0, "active": 0, "complete": total - failed, "failed": failed, "delayed": 0,
        "waiting": 0,
    }  # fmt: skip
    stored = {job.job_id: await queue.get_job(job.job_id) for job in jobs}
    complete = {i for i, job in stored.items() if job.state is JobState.COMPLETE}
    for job in stored.values():
        if job.state is JobState.FAILED:
            assert job.error == "job stalled more than allowable limit"
            assert job.stalls == max_stalls + 1
    if max_stalls == 1000:
        assert failed == 0
    # a refused late ack must not count a second completion
    assert (await queue.totals()).completed == total - failed
    effects = collections.Counter(int(line[0]) for line in read_lines(tmp_path / "effects"))
    assert complete <= set(effects), "a job completed without its side effect"
    duplicates = sum(1 for n in effects.values() if n > 1)
    orphaned = [ids for _, ids in kills if ids]
    recoveries = [
        max(stored[i].completed_at or stored[i].failed_at or 0 for i in ids) / 1000 - when
        for when, ids in kills
        if ids
    ]
    assert orphaned, "no kill ever caught a worker holding jobs: the scenario proved nothing"
    assert max(recoveries) < LEASE + 5, "killed workers' jobs took too long to come back"
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        f"1 worker SIGKILL (max_stalls={max_stalls})",
        jobs=total,
        failed_stalled=failed,
        failed_stalled_pct=round(100 * failed / total, 2),
        failed_although_succeeded=sum(
            job.state is JobState.FAILED and i in effects for i, job in stored.items()
        ),
        workers=4,
        kills=len(kills),
        jobs_held_by_killed=sum(map(len, orphaned)),
        duplicate_side_effects=duplicates,
        recovery_median_s=round(statistics.median(recoveries), 2),
        recovery_max_s=round(max(recoveries), 2),
        lease_s=LEASE,
        seconds=round(elapsed, 1),
    )


async def test_worker_stalled_past_its_lease_cannot_corrupt_the_job(
    chaos_redis: ChaosRedis, queue: Queue, tmp_path: Path
) -> None:
    held = 3
    frozen = worker(tmp_path, chaos_redis, 0, "--concurrency", str(held), "--sleep", "1.5")
    other: Child | None = None
    try:
        jobs = await queue.add_bulk([queue.create("work", {"n": n}) for n in range(held)])
        wait_until(lambda: len(held_by(chaos_redis, frozen.pid)) == held, "the claims", 20)
        frozen.signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        other = worker(tmp_path, chaos_redis, 1, "--concurrency", str(held))
        results = [await job.wait(30) for job in jobs]
        rerun_after = time.monotonic() - stopped_at
        assert results == [other.pid] * held, "another worker must have re-run every job"
        frozen.signal(signal.SIGCONT)
        # the thawed worker learns it lost the jobs: by its lease renewal or its refused ack
        wait_until(
            lambda: (
                frozen.output().count("lost its lease") + frozen.output().count("refused") >= held
            ),
            "the thawed worker to notice",
            20,
        )
        for job in jobs:
            stored = await queue.get_job(job.job_id)
            assert (stored.state, stored.result, stored.stalls) == (JobState.COMPLETE, other.pid, 1)
            assert f":{other.pid}:" in (stored.worker or "")
        assert (await queue.totals()).completed == held
        assert_invariants(chaos_redis.client(), PREFIX)

        # and it carries on working: with the other worker gone it runs the next job
        assert other.stop() == 0, other.output()
        after: Job = await queue.create("work", {"n": "after"}).save()
        assert await after.wait(30) == frozen.pid
        assert frozen.stop() == 0, frozen.output()
    finally:
        frozen.signal(signal.SIGCONT)
        frozen.kill()
        if other is not None:
            other.kill()
    assert "Traceback" not in frozen.output(), frozen.output()
    assert_invariants(chaos_redis.client(), PREFIX)
    effects = collections.Counter(int(line[0]) for line in read_lines(tmp_path / "effects"))
    record(
        "4 stall past the lease",
        jobs=held,
        lease_s=LEASE,
        rerun_after_s=round(rerun_after, 2),
        late_side_effects=sum(n - 1 for n in effects.values()),
        late_acks_refused=True,
    )
