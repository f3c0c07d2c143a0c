"""Limits and schedules across real worker processes (tests/programs/limits_worker.py).

Each handler records its start atomically in Redis (see the program): the peak of
handlers running at once, and every start with its job id, limit key, pid, the
handler's Redis time and the claim's time (``job.started_at``, written by claim.lua).
The rate checks count the claim times: the limits govern claims, and a handler begins
a few ms after its claim, so two batches of claims a window apart can record handler
starts a little less than a window apart. The handler times are checked too, on
windows shortened by that slack (``HANDLER_SLACK_MS``).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from pykue import Job, JobState, Queue
from pykue.keys import Keys
from tests.chaos.support import Child
from tests.helpers import wait_until

PROGRAM = Path(__file__).parent / "programs" / "limits_worker.py"
HANDLER_SLACK_MS = 200  # a handler's start may lag its claim by this much


@dataclass(frozen=True)
class Start:
    id: int
    key: str  # the limit key, "" for none
    pid: int
    at: int  # the handler's start (Redis TIME, ms)
    claimed: int  # the claim's time (job.started_at, ms)


def record_key(prefix: str, name: str) -> str:
    """The program's keys, under the test's prefix (the queue fixture deletes them)."""
    return "{" + prefix + "}:test:" + name


def starts_of(raw: redis.Redis, prefix: str) -> list[Start]:
    return [Start(**json.loads(e)) for e in raw.lrange(record_key(prefix, "starts"), 0, -1)]


def peak(raw: redis.Redis, prefix: str) -> int:
    return int(raw.get(record_key(prefix, "max")) or 0)


def busiest_window(times: list[int], width_ms: int) -> int:
    """The most of ``times`` (ms) inside any window [t, t + width_ms)."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + width_ms) - i for i, t in enumerate(ordered)), default=0
    )


def ended(raw: redis.Redis, prefix: str, job_type: str) -> int:
    keys = Keys(prefix)
    return int(
        raw.zcard(keys.type_state(job_type, "complete"))
        + raw.zcard(keys.type_state(job_type, "failed"))
    )


@pytest.fixture
def spawn(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Start a limits_worker.py process; every one still alive is killed afterwards."""
    children: list[Child] = []

    def start(*extra: str) -> Child:
        # an absolute program path: Child joins it onto its programs folder unchanged
        child = Child(
            str(PROGRAM), [redis_url, prefix, *extra], tmp_path / f"worker-{len(children)}.log"
        )
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


def ready(*children: Child) -> None:
    """Wait until each worker runs its loops (it logs 'processing')."""
    for child in children:
        wait_until(
            lambda child=child: "processing" in child.output() or not child.alive(),
            "the worker to start",
            20,
        )
        assert child.alive(), child.output()


def stop(*children: Child) -> None:
    for child in children:
        assert child.stop() == 0, child.output()
        assert "Traceback" not in child.output(), child.output()


async def test_concurrency_cap_holds_across_processes(
    queue: Queue, raw: redis.Redis, prefix: str, spawn: Callable[..., Child]
) -> None:
    await queue.set_limits("capped", concurrency=3)
    workers = [spawn("--type", "capped", "--concurrency", "10", "--sleep", "0.05") for _ in "ab"]
    ready(*workers)
    jobs = await queue.add_bulk([queue.create("capped", {"n": n}) for n in range(60)])
    wait_until(lambda: ended(raw, prefix, "capped") == 60, "the 60 jobs to end", 30)
    stop(*workers)

    assert {(await queue.get_job(j.job_id)).state for j in jobs} == {JobState.COMPLETE}
    assert peak(raw, prefix) == 3  # reached, never exceeded, with 20 slots on offer
    starts = starts_of(raw, prefix)
    assert sorted(s.id for s in starts) == sorted(j.job_id for j in jobs)  # each ran once
    assert {s.pid for s in starts} == {w.pid for w in workers}  # both processes took jobs


async def test_rate_limit_holds_across_processes(
    queue: Queue, raw: redis.Redis, prefix: str, spawn: Callable[..., Child]
) -> None:
    """20 starts per second, 2 processes of 10 slots: over 5 s about 100 starts, and no
    window of a second ever holds more than 20. 150 jobs keep the workers busy past the
    5 s (at most 120 can start in them); the rest are left waiting."""
    await queue.set_limits("rated", rate=(20, 1.0))
    workers = [spawn("--type", "rated", "--concurrency", "10", "--sleep", "0.2") for _ in "ab"]
    ready(*workers)
    await queue.add_bulk([queue.create("rated", {"n": n}) for n in range(150)])

    def window_over() -> bool:
        claims = [s.claimed for s in starts_of(raw, prefix)]
        return bool(claims) and max(claims) >= min(claims) + 5000

    wait_until(window_over, "a start 5 s after the first", 20)
    stop(*workers)

    starts = starts_of(raw, prefix)
    first = min(s.claimed for s in starts)
    in_window = [s for s in starts if s.claimed < first + 5000]
    assert 80 <= len(in_window) <= 120, len(in_window)
    assert busiest_window([s.claimed for s in starts], 1000) <= 20
    assert busiest_window([s.at for s in starts], 1000 - HANDLER_SLACK_MS) <= 20
    assert {s.pid for s in in_window} == {w.pid for w in workers}
    assert len({s.id for s in starts}) == len(starts)  # none started twice


async def test_key_rate_holds_per_key_and_keyless_jobs_flow(
    queue: Queue, raw: redis.Redis, prefix: str, spawn: Callable[..., Child]
) -> None:
    """2 starts per second per limit key: 6 jobs of A and 6 of B each take over 2 s to
    start, and the keyless jobs saved after them are not held up behind A's limit."""
    await queue.set_limits("keyed", key_rate=(2, 1.0))
    workers = [spawn("--type", "keyed", "--concurrency", "10", "--sleep", "0.05") for _ in "ab"]
    ready(*workers)
    jobs = [queue.create("keyed", {"n": n}, limit_key=key) for key in "AB" for n in range(6)]
    jobs += [queue.create("keyed", {"n": n}) for n in range(6)]
    await queue.add_bulk(jobs)
    wait_until(lambda: ended(raw, prefix, "keyed") == len(jobs), "every job to end", 30)
    stop(*workers)

    assert {(await queue.get_job(j.job_id)).state for j in jobs} == {JobState.COMPLETE}
    starts = starts_of(raw, prefix)
    assert len(starts) == len(jobs)
    by_key = {key: [s for s in starts if s.key == key] for key in ("A", "B", "")}
    assert [len(v) for v in by_key.values()] == [6, 6, 6]
    for key in "AB":
        assert busiest_window([s.claimed for s in by_key[key]], 1000) <= 2, key
        assert busiest_window([s.at for s in by_key[key]], 1000 - HANDLER_SLACK_MS) <= 2, key
    last_a = max(s.claimed for s in by_key["A"])
    assert max(s.claimed for s in by_key[""]) < last_a  # the keyless jobs did not wait for A
    assert min(s.claimed for s in by_key["B"]) < last_a  # nor did B
    assert (await queue.totals()).limited >= 1


async def test_sigkilled_workers_slot_comes_back_after_its_lease(
    queue: Queue, raw: redis.Redis, prefix: str, spawn: Callable[..., Child]
) -> None:
    """Cap 1, lease 1 s: the process holding the only slot is SIGKILLed; the slot comes
    back when its lease expires, and the other process runs the held job and the rest,
    never two at once."""
    await queue.set_limits("single", concurrency=1)
    options = ("--type", "single", "--concurrency", "5", "--lease", "1.0", "--sleep", "0.05")
    workers = [spawn(*options) for _ in "ab"]
    ready(*workers)
    held = await queue.create("single", {"hold": True}).save()
    rest = await queue.add_bulk([queue.create("single", {"n": n}) for n in range(5)])
    holder_pid = wait_until(
        lambda: next((s.pid for s in starts_of(raw, prefix) if s.id == held.job_id), None),
        "the held job to start",
        20,
    )
    holder = next(w for w in workers if w.pid == holder_pid)
    other = next(w for w in workers if w is not holder)
    seconds, micros = raw.time()
    killed_at = seconds * 1000 + micros // 1000
    holder.kill()
    # its handler is gone without lowering the running count: lower it for it. The job
    # still held by the dead process shows that nothing else started meanwhile.
    raw.decr(record_key(prefix, "running"))
    stored = await queue.get_job(held.job_id)
    assert stored.state is JobState.ACTIVE
    assert f":{holder_pid}:" in (stored.worker or "")

    results = [await job.wait(20) for job in [held, *rest]]
    stop(other)
    assert results == [other.pid] * 6
    assert (await queue.get_job(held.job_id)).stalls == 1
    assert peak(raw, prefix) == 1
    after = [s for s in starts_of(raw, prefix) if s.pid == other.pid]
    assert sorted(s.id for s in after) == sorted(j.job_id for j in [held, *rest])
    assert min(s.claimed for s in after) > killed_at  # the slot was held until the lease ran out
    assert int(raw.get(record_key(prefix, "running")) or 0) == 0


# -- schedules ---------------------------------------------------------------------------


async def schedule_jobs(queue: Queue, job_type: str, key: str) -> list[Job]:
    """The jobs ``key``'s schedule made, oldest first."""
    made: list[Job] = []
    start = 0
    while page := await queue.jobs(type=job_type, start=start, stop=start + 999):
        made += [job for job in page if job.schedule == key]
        start += 1000
    return sorted(made, key=lambda job: job.created_at or 0)


def check_runs(made: list[Job], first_run: int, every_ms: int, max_gap_ms: int) -> dict[str, Any]:
    """Job k must be occurrence k's (``first_run + k * every_ms``), made on time: at or
    after it and before the next one came (the rule of schedules.py); no two jobs less
    than half a period apart (no occurrence made twice) and no gap over ``max_gap_ms``.
    Returns the figures."""
    created = [job.created_at or 0 for job in made]
    late = [at - (first_run + k * every_ms) for k, at in enumerate(created)]
    gaps = [b - a for a, b in itertools.pairwise(created)]
    assert all(0 <= ms < every_ms for ms in late), late
    assert min(gaps) >= every_ms // 2, gaps
    assert max(gaps) <= max_gap_ms, gaps
    # as many jobs as occurrences from the first job's to the last's
    assert len(made) == round((created[-1] - created[0]) / every_ms) + 1
    return {"max_late_ms": max(late), "min_gap_ms": min(gaps), "max_gap_ms": max(gaps)}


def occurrences(first_run: int, every_ms: int, until: int) -> int:
    """How many runs of the chain first_run + k * every_ms came by ``until``."""
    return 0 if until < first_run else (until - first_run) // every_ms + 1


async def test_schedule_runs_exactly_once_across_processes(
    queue: Queue, raw: redis.Redis, prefix: str, spawn: Callable[..., Child]
) -> None:
    """3 processes, every one running the schedule loop, a schedule every second for
    10 s: one job per occurrence, none twice, none missed."""
    workers = [spawn("--type", "tick", "--concurrency", "2", "--sleep", "0.01") for _ in "abc"]
    ready(*workers)
    schedule = await queue.schedule("tick", key="each-second", every=1.0)
    assert schedule.next_run_at is not None
    await asyncio.sleep(10.0)  # the measurement window: the schedule is live for 10 s
    seconds, micros = raw.time()
    assert await queue.unschedule("each-second")
    until = seconds * 1000 + micros // 1000
    made = await schedule_jobs(queue, "tick", "each-second")
    expected = occurrences(schedule.next_run_at, 1000, until)
    assert abs(len(made) - expected) <= 1, (len(made), expected)
    check_runs(made, schedule.next_run_at, 1000, 2000)
    wait_until(lambda: ended(raw, prefix, "tick") == len(made), "the ticks to end", 20)
    stop(*workers)
    assert sorted(s.id for s in starts_of(raw, prefix)) == [job.job_id for job in made]
    assert (await queue.totals()).scheduled == len(made)
