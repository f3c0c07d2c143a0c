"""Test mode (Kue's queue.testMode): captured in memory, Redis never touched."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
import redis

from pykue import InvalidJob, InvalidState, Job, JobFailed, JobNotFound, JobState, Queue
from pykue.errors import PykueError
from pykue.keys import STATES

UNREACHABLE = "redis://127.0.0.1:1"  # nothing listens there: any Redis call would fail


@pytest.fixture
def offline() -> Queue:
    return Queue(url=UNREACHABLE, prefix="offline")


async def test_capture_without_redis(offline: Queue) -> None:
    offline.test_mode.enter()
    first = await offline.create("email", {"to": "a"}).save()
    second = await offline.create("sms", {"to": "b"}, priority="high").save()
    assert [(j.type, j.data) for j in offline.test_mode.jobs] == [
        ("email", {"to": "a"}), ("sms", {"to": "b"}),
    ]  # fmt: skip
    assert (first.id, second.id) == (1, 2)
    assert (await offline.get_job(2)).priority == -10
    assert offline._redis._client is None  # never connected
    with pytest.raises(InvalidState, match="enter\\(process=True\\)"):
        await first.wait()
    offline.test_mode.clear()
    assert offline.test_mode.jobs == []
    offline.test_mode.exit()
    assert offline.test_mode.active is False


async def test_validation_still_applies_in_test_mode(offline: Queue) -> None:
    offline.test_mode.enter()
    with pytest.raises(InvalidJob):
        await offline.create("email", {"x": float("nan")}).save()
    assert offline.test_mode.jobs == []


async def test_process_mode_runs_handlers_and_events(offline: Queue) -> None:
    @offline.process("notify")
    async def handler(job: Any) -> str:
        await job.progress(0, 100)
        if job.data["phone"] == "bad":
            raise ValueError("blacklisted")
        await job.progress(50, 100)
        await job.log("sent")
        return "ok"

    seen: list[tuple[Any, ...]] = []
    offline.on("job complete", lambda job_id, result: seen.append(("q-complete", job_id)))
    offline.test_mode.enter(process=True)
    good = offline.create("notify", {"phone": "1"})
    good.on("progress", lambda pct, data: seen.append(("progress", pct)))
    good.on("complete", lambda result: seen.append(("complete", result)))
    await good.save()
    bad = offline.create("notify", {"phone": "bad"}, attempts=2)
    bad.on("failed attempt", lambda error, made: seen.append(("attempt", error, made)))
    bad.on("failed", lambda error: seen.append(("failed", error)))
    await bad.save()
    assert seen == [
        ("progress", 0), ("progress", 50), ("complete", "ok"), ("q-complete", 1),
        ("attempt", "blacklisted", 1), ("failed", "blacklisted"),
    ]  # fmt: skip
    assert await good.wait() == "ok"
    with pytest.raises(JobFailed, match="blacklisted"):
        await bad.wait()
    assert offline.test_mode.logs(good) == ["sent"]
    assert offline._redis._client is None
    offline.test_mode.exit()


async def test_progress_and_log_are_checked_in_test_mode(offline: Queue) -> None:
    offline.test_mode.enter()
    job = await offline.create("email", {}).save()
    with pytest.raises(InvalidJob, match="out of range"):
        await job.progress(50, 5e-324)
    with pytest.raises(InvalidJob, match="not valid text"):
        await job.log("\udcff")
    with pytest.raises(InvalidJob, match="over the limit"):
        await job.log("x" * (offline.max_payload + 1))
    assert offline.test_mode.logs(job) == []
    assert job.percent == 0
    await job.save()  # saved already: left as it is
    assert len(offline.test_mode.jobs) == 1


# -- test mode answers as Redis does ---------------------------------------------------


async def outcome(call: Awaitable[Any]) -> Any:
    """What a call returned, or the pykue error it raised (its class and message)."""
    try:
        return await call
    except PykueError as exc:
        return (type(exc).__name__, str(exc))


def ids(jobs: list[Job]) -> list[int | None]:
    return [job.id for job in jobs]


async def admin_scenario(q: Queue) -> list[Any]:
    """Producer and admin calls, without processing, and what each answered."""
    seen: list[Any] = []
    batch = [
        q.create("email", {"to": "Ann"}),
        q.create("sms", {"to": "bob"}, priority="high"),
        q.create("email", {"to": "cy"}, priority="high"),
        q.create("email", {"n": 4}, delay=60),
        q.create("push", {"k": 1}, unique="once"),
        q.create("push", {"k": 2}, unique="once"),  # the same key in the same call
    ]
    await q.add_bulk(batch)
    again = await q.create("push", {"k": 3}, unique="once").save()
    after = await q.create("sms", {"to": "dee"}).save()
    seen.append([(job.id, job.created, str(job.state)) for job in [*batch, again, after]])
    seen += [await q.counts(), await q.counts("email"), await q.types()]
    seen.append(await q.inactive_ids("email"))
    for state in (None, "inactive", "delayed", "active"):
        for job_type in (None, "email"):
            seen.append(ids(await q.jobs(state, type=job_type)))
            seen.append(ids(await q.jobs(state, type=job_type, start=1, stop=2, order="desc")))
    for text in ("ann", "EMAIL", "3", '"k"', "nothing"):
        seen.append(await q.search(text))
    seen.append(await q.search("email", limit=2))
    await q.set_priority(1, "critical")
    seen.append(await q.inactive_ids("email"))
    for job_id, state in ((2, "failed"), (3, "complete"), (4, "inactive"), (1, "delayed")):
        await q.set_state(job_id, state)
    await q.set_state(3, "complete")  # already there: nothing changes
    seen += [await q.counts(), ids(await q.jobs("failed")), ids(await q.jobs("complete"))]
    seen.append(await outcome(q.retry(1)))
    seen.append(await outcome(q.retry(2)))
    job = await q.get_job(2)
    seen.append((str(job.state), job.attempts_made, job.error, job.priority, job.type, job.data))
    seen += [await outcome(q.retry(999)), await outcome(q.get_job(999))]
    seen += [await q.pause("sms"), await q.pause("sms"), await q.is_paused("sms")]
    seen += [await q.resume("sms"), await q.resume("sms"), await q.is_paused("sms")]
    seen += [await q.pause("never-saved"), await q.is_paused("never-saved")]
    await q.remove(5)
    seen += [await outcome(q.get_job(5)), await outcome(q.remove(5))]
    freed = await q.create("push", {"k": 4}, unique="once").save()
    seen.append((freed.id, freed.created))
    seen.append([(s.name, s.paused, s.counts) for s in await q.type_stats()])
    seen += [await q.get_log(1), await q.get_errors(1), await q.counts("never-saved")]
    return seen


async def test_admin_calls_answer_as_on_redis_and_write_nothing(
    queue: Queue, raw: redis.Redis
) -> None:
    before = sorted(raw.keys("*"))
    queue.test_mode.enter()
    in_memory = await admin_scenario(queue)
    assert sorted(raw.keys("*")) == before  # not one key written...
    assert queue._redis._client is None  # ...nor a connection made
    queue.test_mode.exit()
    assert queue.test_mode.jobs == []
    on_redis = await admin_scenario(queue)
    assert raw.exists("{" + queue.keys.prefix + "}:job:1")  # exit() went back to Redis
    assert in_memory == on_redis


ADMIN_EVENTS = ("enqueue", "state", "retry", "priority", "remove")


async def events_scenario(q: Queue) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Admin calls and the events they deliver to the queue's listeners and the job's."""
    queue_seen: list[tuple[Any, ...]] = []
    job_seen: list[tuple[Any, ...]] = []
    for name in (*("job " + event for event in ADMIN_EVENTS), "pause", "resume"):
        q.on(name, lambda *args, name=name: queue_seen.append((name, *args)))
    job = q.create("email", {})
    for event in ADMIN_EVENTS:
        job.on(event, lambda *args, event=event: job_seen.append((event, *args)))
    removed = asyncio.Event()
    job.on("remove", removed.set)
    await job.save()
    await q.set_state(job.job_id, "failed")
    await q.retry(job.job_id)
    await q.set_priority(job.job_id, "high")
    assert await q.pause("email") is True
    assert await q.pause("email") is False  # unchanged: no event
    await q.resume("email")
    await q.remove(job.job_id)
    await asyncio.wait_for(removed.wait(), 10)  # Redis's reader delivers them a little later
    return queue_seen, job_seen


async def test_admin_events_as_on_redis(offline: Queue, queue: Queue) -> None:
    offline.test_mode.enter()
    in_memory = await events_scenario(offline)
    assert in_memory == (
        [
            ("job enqueue", 1, "email"), ("job state", 1, "inactive", "failed"),
            ("job retry", 1, "email"), ("job priority", 1, -10),
            ("pause", "email"), ("resume", "email"), ("job remove", 1, "email"),
        ],
        [("enqueue",), ("state", "inactive", "failed"), ("retry",), ("priority", -10), ("remove",)],
    )  # fmt: skip
    assert in_memory == await events_scenario(queue)


async def flaky(job: Any) -> dict[str, Any]:
    await job.progress(1, 2, {"half": True})
    await job.log("attempt %d", job.attempts_made + 1)
    if job.attempts_made == 0:
        raise ValueError("the first attempt fails")
    return {"n": job.data["n"]}


async def process_scenario(q: Queue) -> list[Any]:
    """A job whose first attempt fails, run by whatever runs ``flaky`` for q."""
    seen: list[tuple[Any, ...]] = []
    job = q.create("flaky", {"n": 7}, attempts=2)
    for event in ("enqueue", "start", "progress", "failed attempt", "complete"):
        job.on(event, lambda *args, event=event: seen.append((event, *args)))
    await job.save()
    result = await job.wait(timeout=20)
    await job.refresh()
    errors = await q.get_errors(job.job_id)
    totals = await q.totals()
    return [
        result,
        seen,
        (str(job.state), job.attempts_made, job.percent, job.progress_data, job.error),
        [(e["attempt"], e["error"], "ValueError" in e["traceback"]) for e in errors],
        [line for line in await q.get_log(job.job_id) if line.startswith("attempt")],
        await q.counts("flaky"),
        (totals.completed, totals.failed, totals.failed_attempts),
    ]


async def test_process_mode_runs_a_job_as_a_worker_does(offline: Queue, queue: Queue) -> None:
    offline.process("flaky", flaky)
    offline.test_mode.enter(process=True)
    in_memory = await process_scenario(offline)
    assert in_memory[0] == {"n": 7}
    queue.process("flaky", flaky)
    worker = asyncio.create_task(queue.run(handle_signals=False))
    try:
        on_redis = await process_scenario(queue)
    finally:
        await queue.shutdown()
        await worker
    assert in_memory == on_redis


async def test_a_duplicate_saves_nothing_and_hears_the_original(offline: Queue) -> None:
    offline.test_mode.enter()
    first = await offline.create("push", {"n": 1}, unique="once").save()
    heard: list[str] = []
    dup = offline.create("push", {"n": 2}, unique="once")
    dup.on("remove", lambda: heard.append("removed"))
    await dup.save()
    assert (dup.id, dup.created, dup.state) == (first.id, False, JobState.INACTIVE)
    assert offline.test_mode.jobs == [first]
    await offline.remove(first.id)
    assert heard == ["removed"]
    fresh = await offline.create("push", {}, unique="once").save()
    assert (fresh.id, fresh.created) == (3, True)  # the duplicate used id 2 up, as on Redis


async def test_process_mode_records_failed_attempts_and_retry_runs_again(
    offline: Queue,
) -> None:
    calls: list[int] = []

    @offline.process("flaky")
    def handler(job: Any) -> dict[str, int]:  # a plain def handler runs in a thread
        calls.append(job.id)
        job.log("try %d", len(calls))
        if len(calls) <= 2:
            raise ValueError(f"boom {len(calls)}")
        return {"tries": len(calls)}

    offline.test_mode.enter(process=True)
    job = await offline.create("flaky", {}, attempts=2).save()
    assert (job.state, job.attempts_made, job.error) == (JobState.FAILED, 2, "boom 2")
    errors = await offline.get_errors(job.job_id)
    assert [(e["attempt"], e["error"]) for e in errors] == [(1, "boom 1"), (2, "boom 2")]
    assert all("ValueError: boom" in e["traceback"] and e["at"] > 0 for e in errors)
    assert (await offline.counts("flaky"))["failed"] == 1
    with pytest.raises(JobFailed, match="boom 2"):
        await job.wait()
    await offline.retry(job.job_id)  # inactive again, so process mode runs it at once
    assert await job.wait() == {"tries": 3}
    assert (job.state, job.attempts_made, job.percent) == (JobState.COMPLETE, 1, 100)
    assert len(await offline.get_errors(job.job_id)) == 2  # retry keeps the records
    log = await offline.get_log(job.job_id)
    assert [line for line in log if line.startswith("try")] == ["try 1", "try 2", "try 3"]
    assert log == offline.test_mode.logs(job)
    totals = await offline.totals()
    assert (totals.completed, totals.failed, totals.failed_attempts) == (1, 1, 1)
    assert totals.duration.count == 3
    assert totals.latency.count == 3
    minutes = await offline.throughput(2)
    assert len(minutes) == 2
    assert sum(m["complete"] for m in minutes) == sum(m["failed"] for m in minutes) == 1
    assert calls == [1, 1, 1]


async def test_process_mode_waits_for_no_clock_and_no_paused_type(offline: Queue) -> None:
    ran: list[int] = []

    @offline.process("work")
    async def handler(job: Any) -> str:
        ran.append(job.id)
        if job.data.get("fail_first") and job.attempts_made == 0:
            raise ValueError("first try fails")
        return "done"

    offline.test_mode.enter(process=True)
    later = await offline.create("work", {}, delay=30).save()
    assert (later.state, ran) == (JobState.DELAYED, [])
    with pytest.raises(InvalidState, match="set_state"):
        await later.wait()
    await offline.set_state(later.job_id, "inactive")  # promoted by hand: it runs now
    assert (await later.wait(), ran) == ("done", [1])

    await offline.pause("work")
    held = await offline.create("work", {}).save()
    second = await offline.create("work", {}, priority="high").save()
    assert held.state is second.state is JobState.INACTIVE
    with pytest.raises(InvalidState, match="paused"):
        await held.wait()
    assert await offline.inactive_ids("work") == [3, 2]
    await offline.resume("work")  # the waiting jobs run, in claim order
    assert ran == [1, 3, 2]

    backed_off = offline.create(
        "work", {"fail_first": True}, attempts=2, backoff={"type": "fixed", "delay": 5}
    )
    attempts: list[Any] = []
    backed_off.on("failed attempt", lambda error, made: attempts.append((error, made)))
    await backed_off.save()
    assert (backed_off.state, attempts) == (JobState.DELAYED, [("first try fails", 1)])
    await offline.set_state(backed_off.job_id, "inactive")
    assert await backed_off.wait() == "done"

    orphan = await offline.create("unhandled", {}).save()
    with pytest.raises(InvalidState, match="no handler"):
        await orphan.wait()


async def test_process_mode_refuses_the_outcome_of_a_job_moved_while_running(
    offline: Queue,
) -> None:
    @offline.process("self-moving")
    async def handler(job: Any) -> str:
        if job.data["how"] == "remove":
            await offline.remove(job.id)
        else:
            await offline.set_state(job.id, "failed")
        return "late"

    completed: list[int] = []
    offline.on("job complete", lambda job_id, result: completed.append(job_id))
    offline.test_mode.enter(process=True)
    moved = await offline.create("self-moving", {"how": "set_state"}).save()
    removed = await offline.create("self-moving", {"how": "remove"}).save()
    assert (moved.state, moved.result, completed) == (JobState.FAILED, None, [])
    with pytest.raises(JobNotFound):
        await offline.get_job(removed.job_id)
    with pytest.raises(JobNotFound, match="not found"):
        await removed.wait()
    assert offline.test_mode.jobs == [moved]


async def test_process_mode_applies_remove_on_complete(offline: Queue) -> None:
    @offline.process("once")
    async def handler(job: Any) -> int:
        return int(job.data["n"])

    offline.test_mode.enter(process=True)
    gone = await offline.create("once", {"n": 1}, remove_on_complete=True).save()
    with pytest.raises(JobNotFound):
        await offline.get_job(gone.job_id)
    assert await gone.wait() == 1  # the job object still knows how it ended
    for n in range(2, 6):
        await offline.create("once", {"n": n}, remove_on_complete=2).save()
    assert [job.data["n"] for job in await offline.jobs("complete")] == [4, 5]
    assert (await offline.counts("once"))["complete"] == 2


async def test_clear_forgets_all_but_the_ids(offline: Queue) -> None:
    offline.test_mode.enter()
    await offline.create("email", {}, unique="k").save()
    await offline.pause("email")
    offline.test_mode.clear()
    assert await offline.types() == []
    assert await offline.is_paused("email") is False
    assert await offline.counts() == dict.fromkeys(STATES, 0)
    again = await offline.create("email", {}, unique="k").save()
    assert (again.id, again.created) == (2, True)  # ids never name two jobs
    offline.test_mode.enter(process=True)  # entering again keeps what is captured
    assert (offline.test_mode.jobs, offline.test_mode.process) == ([again], True)
    offline.test_mode.exit()
    assert (offline.test_mode.active, offline.test_mode.process) == (False, False)
