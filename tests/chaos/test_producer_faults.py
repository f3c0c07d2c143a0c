"""Network faults between a producer and Redis, injected by tests.chaos.faultproxy: a
save that is cut short (a caller's timeout, ``save_timeout``, a blackhole) and then
retried must save each job exactly once, never refuse, and never hang."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import orjson
import pytest
import redis

from pykue import ConnectionFailed, Job, Queue
from pykue.keys import Keys
from tests.chaos.conftest import FULL
from tests.chaos.faultproxy import FaultProxy
from tests.chaos.support import ChaosRedis, record
from tests.helpers import assert_invariants, wait_until

PREFIX = "producer"
MARGIN = 2.0  # cancelling a call and closing its connection take far less


@pytest.fixture
def proxy(chaos_redis: ChaosRedis) -> Iterator[FaultProxy]:
    with FaultProxy(chaos_redis.port) as p:
        yield p


def stored_numbers(server: ChaosRedis) -> Counter[int]:
    """How many job hashes hold each ``data["n"]`` (read past the proxy)."""
    client = redis.Redis(port=server.port)
    try:
        pattern = Keys(PREFIX).job_prefix.replace("{", "\\{").replace("}", "\\}") + "*"
        keys = [k for k in client.scan_iter(match=pattern, count=1000) if k.count(b":") == 2]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "data")
        return Counter(orjson.loads(data)["n"] for data in pipe.execute() if data)
    finally:
        client.close()


async def warm_up(queue: Queue) -> None:
    """Load the scripts (a first call's NOSCRIPT answer costs round trips of its own) with
    a save of its own: its job has ``n`` -1."""
    await queue.create("warm-up", {"n": -1}).save()


async def drained(proxy: FaultProxy) -> None:
    """Wait until every connection the proxy carried is closed, so that the calls a
    cancel cut short, which the proxy still delivers late, have all reached Redis."""
    await asyncio.to_thread(
        wait_until, lambda: proxy.open_connections == 0, "the proxy to drain", 30
    )


async def test_a_bulk_save_retried_after_timeouts_over_a_slow_link_saves_each_job_once(
    chaos_redis: ChaosRedis, proxy: FaultProxy
) -> None:
    # The audit's case: add_bulk under asyncio.wait_for, retried with the jobs that have
    # no id; each retry sends other companies of jobs in other chunks. Each retry gets a
    # little longer: a new connection's handshake alone takes a few round trips.
    total, budget = (3000, 1.0) if FULL else (1500, 0.5)
    queue = Queue(url=proxy.url, prefix=PREFIX)
    jobs = [queue.create("bulk", {"n": n}) for n in range(total)]
    attempts = timeouts = 0
    try:
        await warm_up(queue)
        proxy.latency = 0.1
        began = time.monotonic()
        while any(job.id is None for job in jobs):
            attempts += 1
            assert attempts <= 20, "the retries made no progress"
            try:
                await asyncio.wait_for(
                    queue.add_bulk([j for j in jobs if j.id is None]),
                    budget + 0.25 * (attempts - 1),
                )
            except TimeoutError:
                timeouts += 1
        elapsed = time.monotonic() - began
    finally:
        await queue.close()
    await drained(proxy)
    stored = stored_numbers(chaos_redis)
    del stored[-1]
    duplicates = sum(count - 1 for count in stored.values())
    lost = total - len(stored)
    assert timeouts > 0, "no call was cut short: the scenario proved nothing"
    assert (duplicates, lost) == (0, 0)
    assert len({job.id for job in jobs}) == total
    assert all(job.created for job in jobs)
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "12 producer: retried bulk save, 100 ms link",
        jobs=total,
        call_timeout_s=budget,
        attempts=attempts,
        cut_short=timeouts,
        saved=len(stored),
        duplicates=duplicates,
        lost=lost,
        seconds=round(elapsed, 1),
    )


async def test_a_blackholed_save_raises_within_save_timeout_and_a_retry_saves_once(
    chaos_redis: ChaosRedis, proxy: FaultProxy
) -> None:
    save_timeout = 5.0 if FULL else 1.0  # full size: the default
    queue = Queue(url=proxy.url, prefix=PREFIX, save_timeout=save_timeout)
    try:
        await queue.create("email", {"n": 0}).save()  # a pooled connection, then silence
        proxy.blackhole(True)
        job = queue.create("email", {"n": 1})
        began = time.monotonic()
        with pytest.raises(ConnectionFailed, match="saving it again is safe"):
            await job.save()
        raised_after = time.monotonic() - began
        assert raised_after < save_timeout + MARGIN
        assert job.id is None
        with pytest.raises(ConnectionFailed, match="0 of 2 jobs were saved"):
            await queue.add_bulk([job, queue.create("email", {"n": 2})])
        proxy.blackhole(False)
        began = time.monotonic()
        await job.save()
        recovered_after = time.monotonic() - began
        assert job.created is True
    finally:
        await queue.close()
    stored = stored_numbers(chaos_redis)  # what a blackhole swallowed never arrives
    assert stored == Counter({0: 1, 1: 1})
    record(
        "12 producer: blackholed save",
        save_timeout_s=save_timeout,
        raised_after_s=round(raised_after, 2),
        retried_save_s=round(recovered_after, 2),
        duplicates=sum(count - 1 for count in stored.values()),
        lost=0 if 1 in stored else 1,
    )


async def test_a_save_whose_reply_is_lost_is_retried_into_the_same_job(
    chaos_redis: ChaosRedis, proxy: FaultProxy
) -> None:
    # The reply comes back after the deadline: Redis ran the save, the caller saw
    # ConnectionFailed. The retry must get that job, not a copy and not "already saved".
    queue = Queue(url=proxy.url, prefix=PREFIX, save_timeout=0.3)
    try:
        await warm_up(queue)
        proxy.latency = 0.25
        job = queue.create("email", {"n": 1})
        with pytest.raises(ConnectionFailed, match="may or may not have been saved"):
            await job.save()
        assert job.id is None
        await asyncio.to_thread(
            wait_until, lambda: stored_numbers(chaos_redis)[1] == 1, "the late save", 10
        )
        proxy.latency = 0.0
        await job.save()
        assert job.created is True
        assert stored_numbers(chaos_redis) == Counter({-1: 1, 1: 1})
    finally:
        await queue.close()


async def test_a_cancelled_save_of_a_unique_job_leaves_no_id_and_its_retry_is_not_refused(
    chaos_redis: ChaosRedis, proxy: FaultProxy
) -> None:
    # A save that a unique key turns into the existing job reads that job after the
    # script's reply: a cancel there used to leave ``id`` set, and the retry then raised
    # "already saved".
    queue = Queue(url=proxy.url, prefix=PREFIX)
    try:
        first = await queue.create("report", {"n": 1}, unique="daily").save()
        proxy.latency = 0.25  # the script's reply at ~0.5 s, the job's read at ~1.0 s
        again: Job = queue.create("report", {"n": 2}, unique="daily")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(again.save(), 0.75)
        assert again.id is None
        proxy.latency = 0.0
        await again.save()
        assert (again.id, again.created) == (first.id, False)
    finally:
        await queue.close()
    await drained(proxy)
    assert stored_numbers(chaos_redis) == Counter({1: 1})
