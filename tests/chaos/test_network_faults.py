"""Network faults between workers and Redis, injected by tests.chaos.faultproxy: latency,
half-open connections (a blackhole), resets. Work that succeeded must never end failed."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pykue import Job, JobState, Queue
from pykue.scripts import Complete
from tests.chaos.conftest import FULL
from tests.chaos.faultproxy import FaultProxy
from tests.chaos.support import LEASE, PREFIX, ChaosRedis, read_lines, record, worker_child
from tests.helpers import assert_invariants, wait_until


@pytest.fixture
def proxy(chaos_redis: ChaosRedis) -> Iterator[FaultProxy]:
    with FaultProxy(chaos_redis.port) as p:
        yield p


def client_of(proxy: FaultProxy, timeout: float = 5.0) -> redis.Redis:
    return redis.Redis(port=proxy.port, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))


# -- the proxy itself ---------------------------------------------------------------------


def test_proxy_forwards_and_delays(proxy: FaultProxy) -> None:
    client = client_of(proxy)
    try:
        assert client.set("k", "v")
        assert client.get("k") == b"v"
        proxy.latency = 0.1
        began = time.monotonic()
        client.ping()
        # each direction adds 0.1 s: a lower bound, whatever the machine's speed
        assert time.monotonic() - began >= 0.2
        proxy.latency = 0.0
        pipe = client.pipeline(transaction=False)
        for _ in range(200):
            pipe.incr("n")
        assert pipe.execute()[-1] == 200  # pipelined replies arrive whole and in order
    finally:
        client.close()


def test_proxy_blackhole_is_half_open_and_reset_sends_rst(proxy: FaultProxy) -> None:
    old = client_of(proxy, timeout=0.3)
    try:
        old.ping()
        proxy.blackhole(True)
        with pytest.raises(redis.TimeoutError):  # swallowed, not refused or closed
            old.ping()
        assert proxy.open_connections == 1
        fresh = client_of(proxy, timeout=0.3)
        with pytest.raises(redis.TimeoutError):  # a new connection is accepted, then silent
            fresh.ping()
        fresh.close()
        proxy.blackhole(False)
        after = client_of(proxy)
        assert after.ping()
        accepted = proxy.accepted
        proxy.reset_all()
        assert proxy.open_connections == 0
        assert after.ping()  # redis-py finds its connection reset and opens another
        assert proxy.accepted == accepted + 1
        after.close()
    finally:
        old.close()


# -- workers behind faults ------------------------------------------------------------------


class Fleet:
    """Worker processes (tests/chaos/programs/worker.py) on one queue, and the figures
    every fault scenario reports: saved, lost, ran twice, ended failed although the
    handler succeeded (its side effect was recorded), recovery time."""

    def __init__(self, tmp_path: Path, url: str, count: int, *options: str) -> None:
        self.tmp_path = tmp_path
        self.workers = [worker_child(tmp_path, url, n, *options) for n in range(count)]

    def output(self) -> str:
        return "".join(child.output() for child in self.workers)

    def stop(self) -> None:
        for child in self.workers:
            assert child.stop() == 0, child.output()

    def kill(self) -> None:
        for child in self.workers:
            child.kill()

    def effects(self) -> collections.Counter[int]:
        return collections.Counter(int(line[0]) for line in read_lines(self.tmp_path / "effects"))

    async def figures(self, queue: Queue, jobs: list[Job]) -> dict[str, Any]:
        stored = [await queue.get_job(job.job_id) for job in jobs]
        effects = self.effects()
        failed = [job for job in stored if job.state is JobState.FAILED]
        figures = {
            "saved": len(jobs),
            "lost": sum(job.state is not JobState.COMPLETE for job in stored) - len(failed),
            "ran_twice": sum(n > 1 for n in effects.values()),
            "failed_although_succeeded": sum(job.job_id in effects for job in failed),
            "failed": len(failed),
            "stalled": sum(job.stalls > 0 for job in stored),
        }
        assert figures["lost"] == 0, figures
        assert figures["failed_although_succeeded"] == 0, (figures, [j.error for j in failed])
        assert figures["failed"] == 0, [(job.id, job.error) for job in failed]
        return figures


def completed(server: ChaosRedis) -> int:
    client = server.client()
    try:
        return int(client.zcard("{chaos}:jobs:complete"))
    finally:
        client.close()


async def recovery_after(server: ChaosRedis, since: float, more: int, limit: float) -> float:
    """Seconds from ``since`` until ``more`` further jobs have completed (work flows again)."""
    target = completed(server) + more
    while completed(server) < target:
        assert time.monotonic() - since < limit, "the work never resumed"
        await asyncio.sleep(0.02)
    return time.monotonic() - since


async def blackhole_pulses(
    server: ChaosRedis, proxy: FaultProxy, total: int, pulses: int
) -> list[float]:
    """Cut every live connection ``pulses`` times (0.3 s blackholes) while ``total`` jobs
    complete; the seconds work took to flow again after each, once all are complete."""
    recoveries = []
    for _ in range(pulses):
        wait_until(lambda: completed(server) >= total // (pulses + 1), "work", 60)
        await asyncio.sleep(0.5)
        began = time.monotonic()
        proxy.blackhole(True)
        await asyncio.sleep(0.3)
        proxy.blackhole(False)
        recoveries.append(await recovery_after(server, began, 20, 20))
    wait_until(lambda: completed(server) >= total, "every job", 120)
    return recoveries


async def test_half_open_connections_are_dropped_within_the_lease(
    chaos_redis: ChaosRedis, proxy: FaultProxy, queue: Queue, tmp_path: Path
) -> None:
    """Every connection that carries a byte during a blackhole is dead for good (a dropped
    NAT entry: no RST, nothing). Workers must drop it and carry on on fresh ones well
    within their 1 s lease: no finished job may run again because its ack or lease
    renewal sat on a dead socket for 30 s, and none may end failed "stalled"."""
    total, pulses = (5000, 6) if FULL else (1500, 3)
    jobs = await queue.add_bulk([queue.create("work", {"n": n}) for n in range(total)])
    fleet = Fleet(tmp_path, proxy.url, 2, "--concurrency", "10", "--sleep", "0.1")
    try:
        recoveries = await blackhole_pulses(chaos_redis, proxy, total, pulses)
        fleet.stop()
    finally:
        fleet.kill()
    figures = await fleet.figures(queue, jobs)
    assert "Traceback" not in fleet.output()
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "8 half-open connections (blackhole)",
        **figures,
        pulses=pulses,
        lease_s=LEASE,
        recovery_max_s=round(max(recoveries), 2),
        connections_opened=proxy.accepted,
    )


async def test_redis_out_of_memory_fails_no_finished_job(
    chaos_redis: ChaosRedis, queue: Queue, tmp_path: Path
) -> None:
    """maxmemory + noeviction for 4 s: Redis allows ZPOPMIN but refuses the HSET of every
    completion. Claims must wait until completions can be written, finished jobs keep
    their results (and leases) until Redis takes them, and none ends failed."""
    total = 3000 if FULL else 1200
    jobs = await queue.add_bulk([queue.create("work", {"n": n}) for n in range(total)])
    fleet = Fleet(tmp_path, chaos_redis.url, 2, "--concurrency", "10", "--sleep", "0.05")
    admin = chaos_redis.client()
    try:
        wait_until(lambda: completed(chaos_redis) >= total // 3, "the first third", 60)
        admin.config_set("maxmemory", 1)
        refused_at = time.monotonic()
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            admin.set("probe", "x")  # the server really is refusing writes
        await asyncio.sleep(4.0)
        during = completed(chaos_redis)
        admin.config_set("maxmemory", 0)
        back = time.monotonic()
        recovery = await recovery_after(chaos_redis, back, 20, 30)
        wait_until(lambda: completed(chaos_redis) >= total, "every job", 120)
        fleet.stop()
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
        fleet.kill()
    figures = await fleet.figures(queue, jobs)
    output = fleet.output()
    assert "Traceback" not in output
    assert "claims nothing while Redis refuses writes" in output
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "9 Redis out of memory (noeviction)",
        **figures,
        oom_s=round(back - refused_at, 1),
        completed_during_oom=during,
        recovery_s=round(recovery, 2),
        lease_s=LEASE,
    )


async def test_progress_and_log_while_redis_is_out_of_memory_do_not_fail_the_job(
    chaos_redis: ChaosRedis, queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler's progress and log calls while Redis refuses writes are dropped with a
    warning: raising OutOfMemoryError into the handler would fail work going well."""
    started, refusing, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @queue.process("work")
    async def work(job: Job) -> str:
        started.set()
        await refusing.wait()
        await job.progress(50)
        await job.log("half way")
        finished.set()
        return "done"

    job = await queue.create("work", {}).save()
    admin = chaos_redis.client()
    runner = asyncio.create_task(queue.run(handle_signals=False))
    try:
        await asyncio.wait_for(started.wait(), 10)
        admin.config_set("maxmemory", 1)
        refusing.set()
        await asyncio.wait_for(finished.wait(), 10)
        admin.config_set("maxmemory", 0)
        assert await job.wait(timeout=20) == "done"
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
        await queue.shutdown(timeout=5)
        await runner
    dropped = [r.getMessage() for r in caplog.records if "dropped: Redis refuses" in r.getMessage()]
    assert [m.split(" of job")[0] for m in dropped] == ["pykue: progress", "pykue: log"]
    assert (await queue.get_job(job.job_id)).state is JobState.COMPLETE


async def test_a_late_lease_renewal_reply_never_cancels_the_next_attempt(
    chaos_redis: ChaosRedis, proxy: FaultProxy, queue: Queue, tmp_path: Path
) -> None:
    """40 ms each way, and every job fails its first attempt and is retried at once, often
    by the same worker: a renewal reply that names the job lost (its first attempt has
    ended) arrives after the job was claimed again, and must not cancel the new attempt.
    """
    total = 1000 if FULL else 320
    proxy.latency = 0.04
    jobs = await queue.add_bulk([queue.create("work", {"n": n}, attempts=2) for n in range(total)])
    fleet = Fleet(tmp_path, proxy.url, 1, "--concurrency", "20", "--sleep", "0.2", "--fail-first")
    try:
        wait_until(lambda: completed(chaos_redis) >= total, "every job", 120)
        fleet.stop()
    finally:
        fleet.kill()
    figures = await fleet.figures(queue, jobs)
    output = fleet.output()
    cancelled = output.count("lost its lease")
    stored = [await queue.get_job(job.job_id) for job in jobs]
    assert [job.attempts_made for job in stored] == [2] * total
    assert (figures["stalled"], cancelled) == (0, 0), output[-3000:]
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "10 late lease renewal (40 ms latency)",
        **figures,
        latency_ms=40,
        attempts_cancelled=cancelled,
        lease_s=LEASE,
    )


async def test_the_event_reader_leaves_a_half_open_connection_within_its_block(
    chaos_redis: ChaosRedis, proxy: FaultProxy
) -> None:
    """The event reader's XREAD BLOCK connection dies while a job's end is on the wire: its
    listener and ``wait()`` must get that end from a fresh connection within the read's
    block plus a call timeout (about 2.3 s at lease 1), not the 16 s a socket timeout
    sized for the dashboard's 15 s reads would take."""
    listening = Queue(url=proxy.url, prefix=PREFIX, lease=LEASE)
    direct = Queue(url=chaos_redis.url, prefix=PREFIX, lease=LEASE)
    ended, enqueued = asyncio.Event(), asyncio.Event()
    try:
        await listening.connect()
        listening.on("job enqueue", lambda job_id, job_type: enqueued.set())
        listening.on("job complete", lambda job_id, result: ended.set())
        job = await listening.create("work", {}).save()
        await asyncio.wait_for(enqueued.wait(), 10)  # the reader now blocks in XREAD
        waiting = asyncio.ensure_future(job.wait(timeout=10))
        opened = proxy.accepted
        proxy.blackhole(True)  # the XREAD's answer below is swallowed: its link is dead
        await direct.connect()
        scripts = direct._redis.scripts
        claim = await scripts.claim("work", 1, "w", 60_000, "claim-1")
        await scripts.complete([Complete(job.job_id, claim.jobs[0].token, b'"done"', "")])
        began = time.monotonic()
        await asyncio.sleep(0.3)
        proxy.blackhole(False)
        await asyncio.wait_for(ended.wait(), 6)
        assert await waiting == "done"
        delivered = time.monotonic() - began
        assert proxy.accepted > opened  # it came through a new connection
    finally:
        await listening.close()
        await direct.close()
    record("11 event reader on a half-open connection", delivered_after_s=round(delivered, 2))


async def test_failed_attempts_are_recorded_once_through_half_open_connections(
    chaos_redis: ChaosRedis, proxy: FaultProxy, queue: Queue, tmp_path: Path
) -> None:
    """Scenario 8 with every job's first attempt failing: failures are acks queued beside
    completions and sent with the next claim, so a blackhole cuts them on the wire too.
    Each must land exactly once: the job retried once, one error record, then complete
    once; none lost, none failed for good, none stalled."""
    total, pulses = (2000, 4) if FULL else (600, 2)
    jobs = await queue.add_bulk([queue.create("work", {"n": n}, attempts=2) for n in range(total)])
    fleet = Fleet(tmp_path, proxy.url, 2, "--concurrency", "10", "--sleep", "0.05", "--fail-first")
    try:
        recoveries = await blackhole_pulses(chaos_redis, proxy, total, pulses)
        fleet.stop()
    finally:
        fleet.kill()
    figures = await fleet.figures(queue, jobs)
    records = [len(await queue.get_errors(job.job_id)) for job in jobs]
    made = [(await queue.get_job(job.job_id)).attempts_made for job in jobs]
    assert records == [1] * total, sorted(set(records))
    assert made == [2] * total, sorted(set(made))
    assert "Traceback" not in fleet.output()
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "13 failed attempts over half-open connections",
        **figures,
        error_records_per_job=1,
        pulses=pulses,
        recovery_max_s=round(max(recoveries), 2),
    )
