"""Processing: events, priorities, delays, retries, TTL, concurrency, leases, stalls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis

from pykue import JobFailed, JobState, LeaseLost, Queue
from pykue.keys import Keys
from pykue.runner import ThreadJob
from pykue.scripts import Complete, Scripts
from tests.helpers import assert_invariants, delete_prefix, job_ids


@contextlib.asynccontextmanager
async def running(queue: Queue) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(queue.run(handle_signals=False))
    try:
        yield task
    finally:
        await queue.shutdown(timeout=5)
        await task


async def test_events_arrive_in_order_progress_then_complete(queue: Queue) -> None:
    @queue.process("notify", concurrency=2)
    async def handler(job: Any) -> dict[str, bool]:
        await job.progress(0, 100)
        await job.progress(50, 100, {"step": "sent"})
        return {"ok": True}

    seen: list[tuple[Any, ...]] = []
    job = queue.create("notify", {"phone": "1"})
    job.on("enqueue", lambda: seen.append(("enqueue",)))
    job.on("start", lambda: seen.append(("start",)))
    job.on("progress", lambda pct, data: seen.append(("progress", pct, data)))

    async def on_complete(result: Any) -> None:  # async callbacks are awaited in order
        seen.append(("complete", result))

    job.on("complete", on_complete)
    await job.save()
    async with running(queue):
        assert await job.wait(timeout=10) == {"ok": True}
        await asyncio.sleep(0)  # let the reader finish the callback it is running
    assert seen == [
        ("enqueue",), ("start",), ("progress", 0, None), ("progress", 50, {"step": "sent"}),
        ("complete", {"ok": True}),
    ]  # fmt: skip
    stored = await queue.get_job(job.job_id)
    assert (stored.state, stored.percent, stored.result) == (JobState.COMPLETE, 100, {"ok": True})
    assert stored.attempts_made == 1


async def test_listener_added_after_save_still_sees_every_event(queue: Queue) -> None:
    @queue.process("notify")
    async def handler(job: Any) -> int:
        await job.progress(30)
        return 7

    async with running(queue):
        first = await queue.create("notify", {}).save()
        assert await first.wait(10) == 7  # the reader is now past the next job's start
        job = await queue.create("notify", {}).save()
        await job.wait(10)
        seen: list[Any] = []
        done = asyncio.Event()
        job.on("progress", lambda pct, data: seen.append(pct))
        job.on("complete", lambda result: (seen.append(result), done.set()))
        await asyncio.wait_for(done.wait(), 10)
    assert seen == [30, 7]


async def test_a_late_listener_gets_the_history_and_the_others_no_repeats(queue: Queue) -> None:
    @queue.process("twice")
    async def handler(job: Any) -> str:
        return "once"

    calls: list[str] = []
    finished = asyncio.Event()
    replayed = asyncio.Event()
    job = queue.create("twice", {})
    job.on("enqueue", lambda: calls.append("enqueue"))
    job.on("complete", lambda result: (calls.append("complete"), finished.set()))
    await job.save()
    async with running(queue):
        await asyncio.wait_for(finished.wait(), 10)
    # a repeat to the first complete listener would come before this one, its list's last
    job.on("complete", lambda result: (calls.append("late complete"), replayed.set()))
    await asyncio.wait_for(replayed.wait(), 10)
    assert calls == ["enqueue", "complete", "late complete"]


async def test_wait_on_a_job_fetched_later(queue: Queue) -> None:
    @queue.process("calc")
    async def handler(job: Any) -> int:
        return int(job.data["x"]) * 2

    job = await queue.create("calc", {"x": 21}).save()
    async with running(queue):
        fetched = await queue.get_job(job.job_id)
        assert await fetched.wait(10) == 42
        assert await (await queue.get_job(job.job_id)).wait(10) == 42  # already complete


async def test_priorities_then_fifo(queue: Queue) -> None:
    order: list[str] = []

    @queue.process("p", concurrency=1)
    async def handler(job: Any) -> None:
        order.append(job.data["name"])

    specs = [("low1", "low"), ("n1", "normal"), ("crit", "critical"), ("n2", "normal"),
             ("high", "high"), ("low2", "low"), ("n3", 0), ("med", "medium")]  # fmt: skip
    jobs = [await queue.create("p", {"name": n}, priority=p).save() for n, p in specs]
    async with running(queue):
        for job in jobs:
            await job.wait(10)
    assert order == ["crit", "high", "med", "n1", "n2", "n3", "low1", "low2"]


async def test_delay_is_honoured_by_redis_time(queue: Queue) -> None:
    @queue.process("later")
    async def handler(job: Any) -> str:
        return "done"

    async with running(queue):
        job = await queue.create("later", {}, delay=0.6).save()
        now_job = await queue.create("later", {}).save()
        assert await now_job.wait(10) == "done"
        assert (await queue.get_job(job.job_id)).state is JobState.DELAYED
        assert await job.wait(10) == "done"
    stored = await queue.get_job(job.job_id)
    assert stored.started_at is not None
    assert stored.created_at is not None
    assert stored.started_at - stored.created_at >= 600


async def test_retries_with_backoff_then_failed_with_last_error(queue: Queue) -> None:
    calls: list[int] = []

    @queue.process("flaky")
    async def handler(job: Any) -> None:
        calls.append(job.attempts_made)
        raise RuntimeError(f"boom {len(calls)}")

    attempts: list[tuple[str, int]] = []
    job = queue.create("flaky", {}, attempts=3, backoff={"type": "exponential", "delay": 0.1})
    job.on("failed attempt", lambda error, made: attempts.append((error, made)))
    await job.save()
    async with running(queue):
        with pytest.raises(JobFailed, match="boom 3") as info:
            await job.wait(10)
    assert info.value.error == "boom 3"
    assert calls == [0, 1, 2]
    assert attempts == [("boom 1", 1), ("boom 2", 2)]
    stored = await queue.get_job(job.job_id)
    assert (stored.state, stored.attempts_made, stored.error) == (JobState.FAILED, 3, "boom 3")
    errors = await queue.get_errors(job.job_id)
    assert [e["error"] for e in errors] == ["boom 1", "boom 2", "boom 3"]
    assert all("RuntimeError" in e["traceback"] for e in errors)
    assert [e["attempt"] for e in errors] == [1, 2, 3]


async def test_backoff_puts_the_job_in_delayed_between_attempts(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    gate = asyncio.Event()

    @queue.process("slow-retry")
    async def handler(job: Any) -> str:
        if job.attempts_made == 0:
            raise ValueError("first try fails")
        return "second try"

    job = queue.create("slow-retry", {}, attempts=2, backoff={"type": "fixed", "delay": 30})
    job.on("failed attempt", lambda error, made: gate.set())
    await job.save()
    async with running(queue):
        await asyncio.wait_for(gate.wait(), 10)
        stored = await queue.get_job(job.job_id)
        assert stored.state is JobState.DELAYED
        assert stored.run_at is not None
        assert stored.updated_at is not None
        assert stored.run_at - stored.updated_at == 30_000
        # pull the run-at in, as if 30 s had passed, and the retry runs
        raw.zadd(Keys(prefix).state("delayed"), {str(job.id): 0})
        assert await job.wait(10) == "second try"


async def test_retry_moves_a_failed_job_back_with_attempts_reset(queue: Queue) -> None:
    outcomes = iter([RuntimeError("no"), "yes"])

    @queue.process("once")
    async def handler(job: Any) -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    job = await queue.create("once", {}).save()
    async with running(queue):
        with pytest.raises(JobFailed):
            await job.wait(10)
        await job.retry()
        fetched = await queue.get_job(job.job_id)
        assert await fetched.wait(10) == "yes"
    # the retried job ran once more after the reset (a worker may claim it at once, so
    # 0 cannot be read reliably in between); without the reset this would be 2
    assert (await queue.get_job(job.job_id)).attempts_made == 1


async def test_ttl_fails_an_attempt_that_runs_too_long(queue: Queue) -> None:
    release = asyncio.Event()

    @queue.process("stuck")
    async def handler(job: Any) -> None:
        await release.wait()  # never set: only the TTL ends this

    job = await queue.create("stuck", {}, ttl=0.2).save()
    async with running(queue):
        with pytest.raises(JobFailed, match="TTL exceeded"):
            await job.wait(10)


async def test_a_timeout_raised_by_the_handler_is_its_own_error(queue: Queue) -> None:
    @queue.process("slow-call")
    async def handler(job: Any) -> None:
        raise TimeoutError("upstream did not answer")

    job = await queue.create("slow-call", {}, ttl=30).save()
    async with running(queue):
        with pytest.raises(JobFailed, match="upstream did not answer"):
            await job.wait(10)


async def test_concurrency_is_never_exceeded(queue: Queue) -> None:
    active = 0
    peak = 0
    reached = asyncio.Event()
    gate = asyncio.Event()

    @queue.process("busy", concurrency=3)
    async def handler(job: Any) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 3:
            reached.set()
        await gate.wait()
        await asyncio.sleep(0)
        active -= 1

    jobs = [await queue.create("busy", {"n": n}).save() for n in range(12)]
    async with running(queue):
        await asyncio.wait_for(reached.wait(), 10)
        counts = await queue.counts("busy")
        assert (counts["active"], counts["inactive"]) == (3, 9)
        gate.set()
        for job in jobs:
            await job.wait(10)
    assert peak == 3


async def test_sync_def_handler_runs_in_a_thread_with_plain_progress(queue: Queue) -> None:
    import threading

    threads: list[str] = []

    @queue.process("sync")
    def handler(job: ThreadJob) -> str:
        threads.append(threading.current_thread().name)
        job.progress(50, 100, {"half": True})
        job.log("working on %s", job.data["x"])
        return f"got {job.data['x']}"

    progress: list[int] = []
    job = queue.create("sync", {"x": "it"})
    job.on("progress", lambda pct, data: progress.append(pct))
    await job.save()
    async with running(queue):
        assert await job.wait(10) == "got it"
    assert threads
    assert threads[0] != threading.current_thread().name
    assert progress == [50]
    assert await queue.get_log(job.job_id) == ["working on it"]


async def test_result_that_is_not_json_fails_the_attempt(queue: Queue) -> None:
    @queue.process("weird")
    async def handler(job: Any) -> object:
        return object()

    job = await queue.create("weird", {}).save()
    async with running(queue):
        with pytest.raises(JobFailed, match="not JSON-serialisable"):
            await job.wait(10)


async def test_lease_is_renewed_for_a_job_longer_than_the_lease(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    q = Queue(url=redis_url, prefix=prefix, lease=0.3, max_stalls=0)
    try:

        @q.process("long")
        async def handler(job: Any) -> str:
            await asyncio.sleep(1.2)  # the work itself: four leases long
            return "finished"

        job = await q.create("long", {}).save()
        async with running(q):
            assert await job.wait(10) == "finished"
        assert (await q.get_job(job.job_id)).stalls == 0
    finally:
        await q.close()
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def scripts(queue: Queue) -> Scripts:
    """The connected queue's scripts, to act as a worker would (or a dead one did)."""
    return queue._redis.scripts


async def claim_by_ghost(queue: Queue, job_type: str) -> tuple[int, int]:
    """Claim one job as a worker that then dies (never acks, never renews)."""
    await queue.connect()
    claim = await scripts(queue).claim(
        job_type, 1, "ghost", int(queue.lease * 1000), uuid.uuid4().hex
    )
    return claim.jobs[0].id, claim.jobs[0].token


async def test_stalled_job_returns_to_inactive_and_runs_again(queue: Queue) -> None:
    ran: list[str] = []

    @queue.process("work")
    async def handler(job: Any) -> str:
        ran.append(job.worker)
        return "ok"

    job = await queue.create("work", {}).save()
    ghost_id, ghost_token = await claim_by_ghost(queue, "work")
    assert ghost_id == job.id
    stalled = asyncio.Event()
    queue.on("job stalled", lambda job_id, job_type: stalled.set())
    async with running(queue):
        assert await job.wait(10) == "ok"
        await asyncio.wait_for(stalled.wait(), 10)
    stored = await queue.get_job(job.job_id)
    assert stored.stalls == 1
    assert ran
    assert ran[0] != "ghost"
    # the dead worker's late ack is refused by the fencing token: still complete, once
    codes = await scripts(queue).complete([Complete(ghost_id, ghost_token, b'"late"', "")])
    assert codes == [-2]
    assert (await queue.get_job(job.job_id)).result == "ok"


async def test_job_fails_after_too_many_stalls(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    q = Queue(url=redis_url, prefix=prefix, lease=0.2, max_stalls=0)
    try:

        @q.process("other")
        async def handler(job: Any) -> None:
            return None

        job = await q.create("doomed", {}).save()
        await claim_by_ghost(q, "doomed")
        async with running(q):  # its sweep finds the expired lease
            with pytest.raises(JobFailed, match="job stalled more than allowable limit"):
                await job.wait(10)
        errors = await q.get_errors(job.job_id)
        assert errors[-1]["error"] == "job stalled more than allowable limit"
    finally:
        await q.close()
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


async def test_progress_from_a_worker_that_lost_its_lease_is_refused(queue: Queue) -> None:
    from pykue import JobNotFound

    removed = await queue.create("work", {}).save()
    _, token = await claim_by_ghost(queue, "work")
    await removed.remove()
    removed.token = token
    with pytest.raises(JobNotFound):
        await removed.progress(10)

    fenced = await queue.create("work", {}).save()
    _, token = await claim_by_ghost(queue, "work")
    fenced.token = token - 1  # an earlier claim's token
    with pytest.raises(LeaseLost):
        await fenced.progress(10)
    fenced.token = token
    await fenced.progress(10)
    assert (await queue.get_job(fenced.job_id)).percent == 10
    await fenced.remove()


async def test_pause_stops_claims_and_resume_restarts(queue: Queue) -> None:
    @queue.process("pausable")
    async def handler(job: Any) -> str:
        return "ran"

    assert await queue.pause("pausable") is True
    assert await queue.pause("pausable") is False
    job = await queue.create("pausable", {}).save()
    async with running(queue):
        with pytest.raises(TimeoutError):
            await job.wait(0.5)  # paused: nothing may claim it
        assert (await queue.get_job(job.job_id)).state is JobState.INACTIVE
        assert await queue.resume("pausable") is True
        assert await job.wait(10) == "ran"


async def test_remove_on_complete_policies(queue: Queue, raw: redis.Redis, prefix: str) -> None:
    @queue.process("tidy", concurrency=1)
    async def handler(job: Any) -> int:
        return int(job.data["n"])

    gone = await queue.create("tidy", {"n": 0}, remove_on_complete=True).save()
    keep = [await queue.create("tidy", {"n": n}, remove_on_complete=2).save() for n in (1, 2, 3)]
    async with running(queue):
        assert await gone.wait(10) == 0
        for job in keep:
            await job.wait(10)
    assert job_ids(raw, prefix) == {keep[1].id, keep[2].id}
    assert raw.hlen(Keys(prefix).unique) == 0


async def test_queue_wide_events(queue: Queue) -> None:
    @queue.process("qe")
    async def handler(job: Any) -> str:
        if job.data.get("fail"):
            raise ValueError("nope")
        await job.progress(1, 2)
        return "fine"

    await queue.connect()
    seen: list[tuple[Any, ...]] = []
    done = asyncio.Event()
    queue.on("job progress", lambda i, pct, data: seen.append(("progress", i, pct)))
    queue.on("job complete", lambda i, result: seen.append(("complete", i, result)))

    def failed(i: int, error: str) -> None:
        seen.append(("failed", i, error))
        done.set()

    queue.on("job failed", failed)
    ok = await queue.create("qe", {}).save()
    bad = await queue.create("qe", {"fail": True}).save()
    async with running(queue):
        await asyncio.wait_for(done.wait(), 10)
    assert seen == [
        ("progress", ok.id, 50),
        ("complete", ok.id, "fine"),
        ("failed", bad.id, "nope"),
    ]


async def test_one_claim_takes_as_many_jobs_as_slots_in_priority_order(queue: Queue) -> None:
    low = await queue.create("batch", {}, priority="low").save()
    normal = [await queue.create("batch", {"n": n}).save() for n in range(3)]
    reply = await scripts(queue).claim("batch", 3, "test-worker", 60_000, "request-1")
    claimed = [each.id for each in reply.jobs]
    assert claimed == [job.id for job in normal]
    counts = await queue.counts("batch")
    assert (counts["active"], counts["inactive"]) == (3, 1)
    # the same call resent (its reply lost) hands back the same jobs and takes no more
    again = await scripts(queue).claim("batch", 3, "test-worker", 60_000, "request-1")
    assert again.jobs == reply.jobs
    assert (await queue.counts("batch"))["active"] == 3
    assert (await queue.get_job(low.id)).state is JobState.INACTIVE
    for job in normal:  # hand them back so the invariant check sees a tidy queue
        stored = await queue.get_job(job.id)
        assert stored.worker == "test-worker"
        await scripts(queue).release(job.job_id, stored.token)


async def test_an_idle_worker_blocks_on_its_wake_marker(queue: Queue, raw: redis.Redis) -> None:
    @queue.process("sleepy")
    async def handler(job: Any) -> str:
        return "awake"

    async with running(queue):
        deadline = time.monotonic() + 10
        while not any(c["cmd"] == "blpop" for c in raw.client_list() if c.get("flags") == "b"):
            assert time.monotonic() < deadline, "no client ever blocked in BLPOP"
            await asyncio.sleep(0.01)
        job = await queue.create("sleepy", {}).save()
        assert await job.wait(10) == "awake"


async def test_a_thread_cut_off_by_its_ttl_keeps_its_slot_until_it_ends(queue: Queue) -> None:
    gate = threading.Event()

    @queue.process("threads", concurrency=1)
    def handler(job: Any) -> str:
        if job.data["n"] == 0:
            gate.wait(10)  # runs on past its TTL: a thread cannot be stopped
        return "done"

    first = await queue.create("threads", {"n": 0}, ttl=0.2).save()
    second = await queue.create("threads", {"n": 1}).save()
    async with running(queue):
        with pytest.raises(JobFailed, match="TTL exceeded"):
            await first.wait(10)
        worker = queue._worker
        assert worker is not None
        assert worker.per_type["threads"] == 1  # still held by the running thread
        assert (await queue.get_job(second.id)).state is JobState.INACTIVE
        gate.set()
        assert await second.wait(10) == "done"


async def test_keep_count_drops_the_oldest_even_within_one_millisecond(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    jobs = [await queue.create("burst", {}, remove_on_complete=2).save() for _ in range(10)]
    reply = await scripts(queue).claim("burst", 10, "test-worker", 60_000, uuid.uuid4().hex)
    tokens = {each.id: each.token for each in reply.jobs}
    # one batch: every completion gets the same Redis time, so the scores tie
    acks = [Complete(job.job_id, tokens[job.job_id], b'"ok"', "count:2") for job in jobs]
    assert await scripts(queue).complete(acks) == [0] * 10
    assert job_ids(raw, prefix) == {jobs[-2].id, jobs[-1].id}


async def test_wait_finds_a_finished_job_whose_events_were_trimmed(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    q = Queue(url=redis_url, prefix=prefix, lease=2.0, events_maxlen=100)
    try:

        @q.process("early")
        async def handler(job: Any) -> str:
            return "long ago"

        job = await q.create("early", {}).save()
        async with running(q):
            assert await job.wait(10) == "long ago"
        await q.add_bulk([q.create("filler", {}) for _ in range(500)])
        first = raw.xrange(Keys(prefix).events, count=1)[0][0]
        assert first > job.cursor  # the job's own events are gone from the stream
        assert await job.wait(5) == "long ago"
    finally:
        await q.close()
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


async def test_more_handlers_than_pooled_connections_wait_for_one(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    from pykue.connection import MAX_CONNECTIONS

    total, finished = 2 * MAX_CONNECTIONS, asyncio.Event()
    done = 0

    @queue.process("crowd", concurrency=int(MAX_CONNECTIONS * 1.5))
    async def handler(job: Any) -> None:
        nonlocal done
        await job.progress(50)  # every handler holds the pool at once, and then acks
        done += 1
        if done == total:
            finished.set()

    await queue.add_bulk([queue.create("crowd", {}) for _ in range(total)])
    async with running(queue):
        await asyncio.wait_for(finished.wait(), 60)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for state in ("active", "inactive"):
        assert (await queue.counts("crowd"))[state] == 0


def script_calls(raw: redis.Redis) -> int:
    stats = raw.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


async def test_completions_are_acked_many_per_script_call(queue: Queue, raw: redis.Redis) -> None:
    done = asyncio.Event()
    completed: list[int] = []

    def on_complete(job_id: int, result: Any) -> None:
        completed.append(job_id)
        if len(completed) == 300:
            done.set()

    queue.on("job complete", on_complete)
    await queue.add_bulk([queue.create("quick", {"n": n}) for n in range(300)])  # after on()

    @queue.process("quick", concurrency=50)
    async def handler(job: Any) -> int:
        return int(job.data["n"])

    raw.config_resetstat()
    async with running(queue):
        await asyncio.wait_for(done.wait(), 20)
    # one call per job would be 300 completes and at least 6 claims
    assert script_calls(raw) < 120
    results = {
        job.data["n"]: job.result for job in await queue.jobs("complete", type="quick", stop=999)
    }
    assert results == {n: n for n in range(300)}


async def test_a_bulk_add_keeps_the_list_order_and_sends_500_jobs_per_call(
    queue: Queue, raw: redis.Redis
) -> None:
    jobs = [queue.create("ordered", {"n": n}) for n in range(1201)]
    raw.config_resetstat()
    await queue.add_bulk(jobs)
    assert script_calls(raw) == 3
    ids = [job.job_id for job in jobs]
    assert ids == list(range(ids[0], ids[0] + 1201))
    assert all(job.created for job in jobs)
    assert (await queue.counts("ordered"))["inactive"] == 1201
    assert (await queue.get_job(ids[700])).data == {"n": 700}


async def test_a_worker_carries_on_after_the_server_forgets_its_scripts(
    queue: Queue, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # After a restart without persistence of the script cache (or SCRIPT FLUSH), a claim
    # that carries acks goes as a raw EVALSHA pipeline: it must load the scripts again.
    second_batch = asyncio.Event()
    done = asyncio.Event()
    seen: list[int] = []

    @queue.process("forgetful", concurrency=4)
    async def handler(job: Any) -> None:
        seen.append(job.data["n"])
        if len(seen) == 4:
            raw.script_flush()
            second_batch.set()
        if len(seen) == 8:
            done.set()

    await queue.add_bulk([queue.create("forgetful", {"n": n}) for n in range(8)])
    async with running(queue):
        await asyncio.wait_for(done.wait(), 10)
        assert second_batch.is_set()
    counts = await queue.counts("forgetful")
    assert counts["complete"] == 8
    assert sorted(seen) == list(range(8))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_loop_dying_of_an_unexpected_error_stops_the_worker_loudly(
    queue: Queue, caplog: pytest.LogCaptureFixture
) -> None:
    """Carrying on would leave the type unserved without a word; stopping lets a
    supervisor see it. (Here: an idle claim loop finds the queue's lease made unusable;
    a corrupt job no longer does it, see the next tests.)"""

    @queue.process("work")
    async def handler(job: Any) -> int:
        return 1

    job = await queue.create("work", {"n": 1}).save()
    task = asyncio.create_task(queue.run(handle_signals=False))
    assert await job.wait(10) == 1
    queue.lease = "soon"  # type: ignore[assignment]
    await queue.create("other", {}).save()  # nothing for "work": its loop goes idle
    with pytest.raises(TypeError):
        await asyncio.wait_for(task, 20)
    stops = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(stops) == 1
    assert stops[0].endswith("stops on an unexpected error")
    queue.lease = 2.0


async def test_corrupt_jobs_fail_for_good_and_the_worker_goes_on(
    queue: Queue, raw: redis.Redis
) -> None:
    """Hashes written by hand, by an old version or another tool: each such job fails
    once, for good ("corrupt job: ..."), and the jobs after it run."""
    ran: list[int] = []

    @queue.process("work")
    async def handler(job: Any) -> int:
        ran.append(job.job_id)
        return 1

    corruptions: list[dict[str, str | bytes]] = [
        {"data": "{not json"},
        {"priority": "high", "attempts_made": "many"},
        {"data": b'{"name": "\xff\xfe"}'},  # not UTF-8
        {"type": "someone-else"},
    ]
    bad = [await queue.create("work", {"n": n}, attempts=3).save() for n in range(len(corruptions))]
    for job, fields in zip(bad, corruptions, strict=True):
        raw.hset(queue.keys.job(job.job_id), mapping=fields)  # type: ignore[arg-type]
    typeless = await queue.create("work", {"n": "no type"}, attempts=3).save()
    raw.hdel(queue.keys.job(typeless.job_id), "type")  # the scripts that end it need one
    bad.append(typeless)
    good = await queue.create("work", {"n": "good"}).save()
    async with running(queue) as task:
        assert await good.wait(10) == 1
        for job in bad:
            with pytest.raises(JobFailed, match="corrupt job: "):
                await job.wait(10)
        after = await queue.create("work", {"n": "after"}).save()
        assert await after.wait(10) == 1
        assert not task.done()
    assert ran == [good.job_id, after.job_id]
    for job in bad:
        stored = await queue.get_job(job.job_id)
        assert stored.state is JobState.FAILED
        assert stored.attempts_made == 1  # never retried: it is poison
        assert len(await queue.get_errors(job.job_id)) == 1
    raw.hset(queue.keys.job(bad[2].job_id), "data", "{}")  # the fixture's client decodes


class StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class NotesRaise(Exception):
    @property
    def __notes__(self) -> list[str]:  # traceback formatting reads it
        raise RuntimeError("no notes for you")


@pytest.mark.parametrize(
    ("error", "stored"),
    [
        (ValueError("bad name \udcff.txt"), "bad name \\udcff.txt"),
        (StrRaises(), "StrRaises"),
        (NotesRaise("formatting fails"), "formatting fails"),
        (ValueError("x" * 100_000), "x" * (4096 - 9) + "... [cut]"),
    ],
    ids=["surrogate", "str-raises", "traceback-raises", "huge"],
)
async def test_a_handler_error_that_cannot_be_stored_as_is_still_ends_the_attempt(
    queue: Queue, error: Exception, stored: str
) -> None:
    """The failure path always ends the attempt, once, with what can be said of the error."""
    calls = 0

    @queue.process("work")
    async def handler(job: Any) -> None:
        nonlocal calls
        calls += 1
        raise error

    job = await queue.create("work", {}).save()
    async with running(queue):
        with pytest.raises(JobFailed) as failed:
            await job.wait(10)
    assert calls == 1
    fresh = await queue.get_job(job.job_id)
    assert (fresh.state, fresh.error, fresh.attempts_made) == (JobState.FAILED, stored, 1)
    assert stored[:50] in str(failed.value)
    [record] = await queue.get_errors(job.job_id)
    assert record["error"] == stored
    assert 0 < len(record["traceback"]) <= 65536


async def test_a_result_over_max_payload_fails_the_attempt(redis_url: str, prefix: str) -> None:
    q = Queue(url=redis_url, prefix=prefix, lease=2.0, max_payload=1000)

    @q.process("work")
    async def handler(job: Any) -> str:
        return "x" * 2000

    try:
        job = await q.create("work", {}).save()
        async with running(q):
            with pytest.raises(JobFailed, match="result is 2002 bytes, over the limit of 1000"):
                await job.wait(10)
    finally:
        await q.close()


async def test_a_job_key_that_is_not_a_hash_stops_neither_claims_nor_the_sweep(
    queue: Queue, raw: redis.Redis
) -> None:
    """A job key overwritten with a string (by hand, by another tool): the claim drops
    it and the sweep forgets its lease; the jobs after it run (the scripts used to fail
    with WRONGTYPE on every call that met it)."""

    @queue.process("work")
    async def handler(job: Any) -> int:
        return 1

    poison = await queue.create("work", {}).save()
    key = queue.keys.job(poison.job_id)
    raw.delete(key)
    raw.set(key, "not a hash")
    raw.zadd(queue.keys.leases, {str(poison.job_id): 0})  # as if its worker died long ago
    raw.zadd(queue.keys.state("delayed"), {str(poison.job_id): 0})  # and were due long ago
    good = await queue.create("work", {}).save()
    later = await queue.create("work", {}, delay=0.2).save()  # promoted past the poison
    async with running(queue):
        assert await good.wait(10) == 1
        assert await later.wait(10) == 1
        assert raw.zscore(queue.keys.state("delayed"), str(poison.job_id)) is None
        wait_for_sweep = time.monotonic() + 10
        while raw.zscore(queue.keys.leases, str(poison.job_id)) is not None:
            assert time.monotonic() < wait_for_sweep, "the sweep never got past it"
            await asyncio.sleep(0.05)
    raw.delete(key)
