"""Limits (rate, concurrency cap, rate per limit key) as claim.lua enforces them, and the
windows of unique and debounce keys. Limits across several worker processes:
tests/test_limits_processes.py."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
import redis

from pykue import InvalidArgument, Limits, Queue, Rate, metrics
from pykue.keys import Keys
from tests.helpers import assert_invariants
from tests.test_worker import running


async def test_set_limits_sets_keeps_and_removes_each_limit(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    assert await queue.limits("email") == Limits()
    assert not await queue.limits("email")
    both = await queue.set_limits("email", rate=(100, 60.0), concurrency=5)
    assert both == Limits(Rate(100, 60.0), 5, None)
    assert await queue.set_limits("email", key_rate=Rate(10, 1)) == Limits(
        Rate(100, 60.0), 5, Rate(10, 1.0)
    )  # the others kept
    assert await queue.set_limits("email", rate=None) == Limits(None, 5, Rate(10, 1.0))
    assert (await queue.limits("email")).to_dict() == {
        "rate": None,
        "concurrency": 5,
        "key_rate": {"count": 10, "per": 1.0},
    }
    await queue.set_limits("email", concurrency=None, key_rate=None)
    assert await queue.limits("email") == Limits()
    assert raw.exists(Keys(prefix).limits) == 0  # nothing left behind
    await queue.set_limits("email", concurrency=2)
    (stats,) = await queue.type_stats()  # limited before its first job: listed
    assert (stats.name, stats.limits) == ("email", Limits(None, 2, None))
    assert stats.counts["inactive"] == 0


async def test_bad_limits_change_nothing(queue: Queue, raw: redis.Redis, prefix: str) -> None:
    await queue.set_limits("email", concurrency=5)
    before = raw.hgetall(Keys(prefix).limits)
    for options in (
        {},
        {"rate": (0, 1.0)},
        {"rate": (10, 0)},
        {"concurrency": 0},
        {"concurrency": 3, "key_rate": (1, float("nan"))},
    ):
        with pytest.raises(InvalidArgument):
            await queue.set_limits("email", **options)
    assert raw.hgetall(Keys(prefix).limits) == before


async def test_a_concurrency_cap_holds_in_one_worker_with_more_slots(queue: Queue) -> None:
    await queue.set_limits("work", concurrency=2)
    running_now, most = 0, 0
    release = asyncio.Event()
    started = asyncio.Queue[int]()

    @queue.process("work", concurrency=10)
    async def work(job: Any) -> None:
        nonlocal running_now, most
        running_now += 1
        most = max(most, running_now)
        await started.put(job.id)
        await release.wait()
        running_now -= 1

    jobs = await queue.add_bulk([queue.create("work", {"n": n}) for n in range(6)])
    async with running(queue):
        for _ in range(2):
            await asyncio.wait_for(started.get(), 10)
        assert (await queue.counts("work"))["active"] == 2
        assert started.empty()  # 10 slots free, the cap holds the rest
        release.set()
        for _ in range(4):
            await asyncio.wait_for(started.get(), 10)
        await asyncio.gather(*(job.wait(10) for job in jobs))
    assert most == 2
    assert (await queue.totals()).limited >= 1


async def test_a_rate_limited_type_waits_its_window_while_others_run_at_full_speed(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    await queue.set_limits("slow", rate=(2, 1.0))
    starts: list[tuple[str, int]] = []
    done = asyncio.Event()

    def stamp(kind: str) -> None:
        seconds, micros = raw.time()
        starts.append((kind, int(seconds) * 1000 + int(micros) // 1000))
        if sum(k == "slow" for k, _ in starts) == 6:
            done.set()

    @queue.process("slow", concurrency=5)
    async def slow(job: Any) -> None:
        stamp("slow")

    @queue.process("fast", concurrency=5)
    async def fast(job: Any) -> None:
        stamp("fast")

    await queue.add_bulk([queue.create("slow", {}) for _ in range(6)])
    await queue.add_bulk([queue.create("fast", {}) for _ in range(200)])
    async with running(queue):
        await asyncio.wait_for(done.wait(), 20)
    slow_at = [at for kind, at in starts if kind == "slow"]
    fast_at = [at for kind, at in starts if kind == "fast"]
    # no window of one second holds more than two starts of the limited type
    assert all(b - a >= 1000 for a, b in zip(slow_at, slow_at[2:], strict=False)), slow_at
    assert slow_at[-1] - slow_at[0] >= 2000
    assert len(fast_at) == 200
    assert max(fast_at) < slow_at[-1]
    # the workers slept until the window admitted a start; they did not poll
    assert (await queue.totals()).limited <= 12
    assert_invariants(raw, prefix)


async def test_a_per_key_rate_holds_each_key_and_lets_other_keys_run(
    queue: Queue, raw: redis.Redis
) -> None:
    await queue.set_limits("call", key_rate=(1, 1.0))
    starts: dict[str | None, list[int]] = {}
    done = asyncio.Event()

    @queue.process("call", concurrency=10)
    async def call(job: Any) -> None:
        seconds, micros = raw.time()
        starts.setdefault(job.limit_key, []).append(int(seconds) * 1000 + int(micros) // 1000)
        if sum(map(len, starts.values())) == 10:
            done.set()

    jobs = [queue.create("call", {}, limit_key="a") for _ in range(3)]
    jobs += [queue.create("call", {}, limit_key="b") for _ in range(3)]
    jobs += [queue.create("call", {}) for _ in range(4)]
    await queue.add_bulk(jobs)
    async with running(queue):
        await asyncio.wait_for(done.wait(), 20)
    for key in ("a", "b"):
        times = starts[key]
        assert len(times) == 3
        assert all(b - a >= 1000 for a, b in itertools.pairwise(times)), times
    assert len(starts[None]) == 4
    assert max(starts[None]) < max(starts["a"])
    parked = await queue.get_job(jobs[2].job_id)
    assert parked.limit_key == "a"
    assert parked.to_dict()["limit_key"] == "a"


@pytest.mark.parametrize(
    "stored",
    ["{oops", '{"rate": [2.5, 1000]}', '{"rate": [2, 1000.5]}', '{"concurrency": 0.5}', "[1]"],
)
async def test_limits_written_by_hand_that_cannot_be_read_limit_nothing(
    queue: Queue, raw: redis.Redis, prefix: str, stored: str
) -> None:
    raw.hset(Keys(prefix).limits, "work", stored)
    done = asyncio.Event()

    @queue.process("work")
    async def work(job: Any) -> None:
        done.set()

    job = await queue.create("work", {}).save()
    async with running(queue):
        await asyncio.wait_for(done.wait(), 10)
        await job.wait(10)
    assert_invariants(raw, prefix)


# -- unique and debounce windows -----------------------------------------------------------


async def test_unique_for_returns_the_job_within_its_window_and_makes_one_after(
    queue: Queue, raw: redis.Redis
) -> None:
    first = await queue.create("sync", {"n": 1}, unique="acct-1", unique_for=0.3).save()
    again = await queue.create("sync", {"n": 2}, unique="acct-1", unique_for=0.3).save()
    assert (again.id, again.created) == (first.id, False)
    created_at = int(raw.hget(f"{{{queue.keys.prefix}}}:job:{first.id}", "created_at") or 0)
    assert created_at > 0
    while True:  # Redis's clock decides when the window ends
        seconds, micros = raw.time()
        if int(seconds) * 1000 + int(micros) // 1000 > created_at + 300:
            break
        await asyncio.sleep(0.02)
    later = await queue.create("sync", {"n": 3}, unique="acct-1", unique_for=0.3).save()
    assert later.created is True
    assert later.id != first.id
    assert (await queue.get_job(first.job_id)).state is not None  # the first job stays


async def test_debounce_keeps_one_pending_job_with_the_last_data(queue: Queue) -> None:
    ran: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    @queue.process("reindex")
    async def reindex(job: Any) -> None:
        await ran.put(job.data)

    first = await queue.create("reindex", {"v": 1}, debounce="doc-9", debounce_for=0.4).save()
    assert (first.created, first.debounced, str(first.state)) == (True, False, "delayed")
    seen: list[Any] = []
    queue.on("job debounced", lambda job_id, job_type: seen.append((job_id, job_type)))
    await queue.connect()
    for v in (2, 3):
        later = await queue.create("reindex", {"v": v}, debounce="doc-9", debounce_for=0.4).save()
        assert (later.id, later.created, later.debounced) == (first.id, False, True)
    stored = await queue.get_job(first.job_id)
    assert stored.data == {"v": 3}
    assert str(stored.state) == "delayed"
    async with running(queue):
        assert await asyncio.wait_for(ran.get(), 10) == {"v": 3}
        # once it ran, the key makes a new job
        fresh = await queue.create("reindex", {"v": 4}, debounce="doc-9", debounce_for=0.1).save()
        assert fresh.created is True
        assert fresh.id != first.id
        assert await asyncio.wait_for(ran.get(), 10) == {"v": 4}
    assert ran.empty()
    assert seen[:2] == [(first.id, "reindex")] * 2


async def test_test_mode_debounces_and_keeps_limits_as_redis_does(queue: Queue) -> None:
    queue.test_mode.enter()
    try:
        first = await queue.create("r", {"v": 1}, debounce="k", debounce_for=5).save()
        later = await queue.create("r", {"v": 2}, debounce="k", debounce_for=5).save()
        assert (later.id, later.debounced, first.data) == (first.id, True, {"v": 2})
        assert len(queue.test_mode.jobs) == 1
        assert await queue.set_limits("r", concurrency=3) == Limits(None, 3, None)
        assert await queue.set_limits("r", rate=(5, 1.0)) == Limits(Rate(5, 1.0), 3, None)
        (stats,) = await queue.type_stats()
        assert stats.limits == Limits(Rate(5, 1.0), 3, None)
        u1 = await queue.create("u", {}, unique="x", unique_for=60).save()
        u2 = await queue.create("u", {}, unique="x", unique_for=60).save()
        assert (u2.id, u2.created) == (u1.id, False)
    finally:
        queue.test_mode.exit()


async def test_metrics_count_jobs_made_by_schedules_and_claims_held_back(queue: Queue) -> None:
    made: asyncio.Queue[int] = asyncio.Queue()
    release = asyncio.Event()

    @queue.process("beat")
    async def beat(job: Any) -> None:
        await made.put(job.job_id)

    @queue.process("work", concurrency=5)
    async def work(job: Any) -> None:
        await release.wait()

    await queue.set_limits("work", concurrency=1)
    jobs = await queue.add_bulk([queue.create("work", {}) for _ in range(3)])
    await queue.schedule("beat", key="b", every=0.05)
    async with running(queue):
        for _ in range(2):
            await asyncio.wait_for(made.get(), 10)
        await queue.unschedule("b")
        release.set()
        await asyncio.gather(*(job.wait(10) for job in jobs))
    totals = await queue.totals()
    assert totals.scheduled >= 2
    assert totals.limited >= 1  # the cap held the other two back
    lines = (await metrics.render(queue)).splitlines()
    name = queue.keys.prefix
    assert f'pykue_jobs_scheduled_total{{queue="{name}"}} {totals.scheduled}' in lines
    assert f'pykue_claims_limited_total{{queue="{name}"}} {totals.limited}' in lines


async def test_debounce_gives_a_job_past_its_window_the_data_and_leaves_a_retried_one(
    queue: Queue,
) -> None:
    first = await queue.create("reindex", {"v": 1}, debounce="d", debounce_for=60).save()
    await queue.set_state(first.job_id, "inactive")  # its window is over: it waits for a worker
    later = await queue.create("reindex", {"v": 2}, debounce="d", debounce_for=60).save()
    assert (later.id, later.debounced) == (first.id, True)
    stored = await queue.get_job(first.job_id)
    assert (str(stored.state), stored.data) == ("inactive", {"v": 2})  # its place kept
    assert await queue.inactive_ids("reindex") == [first.id]


async def test_a_claim_of_thousands_takes_them_all_in_one_call(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    await queue.add_bulk([queue.create("bulk", {}) for _ in range(5000)])
    scripts = await queue._redis.ensure()
    claim = await scripts.claim("bulk", 5000, "w1", 60_000, "r1")
    assert len(claim.jobs) == 5000  # past what one unpack takes (about 8,000 values)
    assert (await queue.counts("bulk"))["active"] == 5000
    assert raw.zcard(Keys(prefix).leases) == 5000
    assert_invariants(raw, prefix)
