"""Scenario 14: a schedule every second while its workers are SIGKILLed and restarted.
Every occurrence must make its job once: none missed, none made twice."""

from __future__ import annotations

import asyncio
import collections
import random
import time
from pathlib import Path

from pykue import JobState, Queue
from tests.chaos.conftest import FULL
from tests.chaos.support import PREFIX, ChaosRedis, Child, read_lines, record, worker_child
from tests.chaos.test_crashes import started
from tests.helpers import assert_invariants, wait_until
from tests.test_limits_processes import check_runs, occurrences, schedule_jobs

EVERY_MS = 1000
# Job k is on time while occurrence k + 1 has not come (schedules.py): made at most one
# period late, so two jobs are at most two periods apart, however the kills fall. A
# longer gap means an occurrence was skipped. (A worker is only killed while another
# runs: some worker is alive all along, so no time without one adds to the bound.)
MAX_GAP_MS = 2 * EVERY_MS


def running(child: Child) -> bool:
    return child.alive() and started(child)


async def test_schedule_makes_each_run_once_while_workers_are_killed(
    chaos_redis: ChaosRedis, queue: Queue, tmp_path: Path
) -> None:
    """3 worker processes, all running the schedule loop. Round after round, one or two
    of the running workers are SIGKILLed (never the last one running) and replaced by
    new processes: half the rounds at the moment a run is due (Redis's clock, +-5 ms),
    when every worker wakes to fire it, the others 0.4 to 1.2 s after the last round."""
    seconds = 30.0 if FULL else 9.0
    rng = random.Random(14)
    options = ("--concurrency", "2", "--max-stalls", "1000")

    def worker(name: object) -> Child:
        return worker_child(tmp_path, chaos_redis.url, name, *options)

    workers = [worker(n) for n in range(3)]
    client = chaos_redis.client()
    kills, aimed, skipped, fewest_left = 0, 0, 0, 3
    try:
        for child in workers:
            wait_until(lambda child=child: running(child), "the workers to start", 30)
        schedule = await queue.schedule("work", key="chaos-tick", every=EVERY_MS / 1000)
        assert schedule.next_run_at is not None
        began = time.monotonic()
        while time.monotonic() - began < seconds:
            if rng.random() < 0.5:  # at the moment a run is due, when every worker fires
                now_s, micros = client.time()
                due = (await queue.get_schedule("chaos-tick")).next_run_at or 0
                pause = (due - int(now_s) * 1000 - int(micros) // 1000) / 1000
                await asyncio.sleep(max(0.0, pause + rng.uniform(-0.005, 0.005)))
                aimed += 1
            else:  # or at any other phase of the second
                await asyncio.sleep(rng.uniform(0.4, 1.2))
            for child in workers:
                assert child.alive(), child.output()  # none dies but by a kill
            up = [n for n, child in enumerate(workers) if running(child)]
            if len(up) < 2:
                skipped += 1  # killing one would leave no worker: wait for a restart
                continue
            victims = rng.sample(up, min(rng.randint(1, 2), len(up) - 1))
            for slot in victims:
                workers[slot].kill()
                kills += 1
            fewest_left = min(fewest_left, len(up) - len(victims))
            for slot in victims:
                workers[slot] = worker(f"{slot}-{kills}")
        now_s, micros = client.time()
        until = int(now_s) * 1000 + int(micros) // 1000
        assert await queue.unschedule("chaos-tick")
        elapsed = time.monotonic() - began

        made = await schedule_jobs(queue, "work", "chaos-tick")
        expected = occurrences(schedule.next_run_at, EVERY_MS, until)
        assert abs(len(made) - expected) <= 1, (len(made), expected)
        figures = check_runs(made, schedule.next_run_at, EVERY_MS, MAX_GAP_MS)
        assert (await queue.totals()).scheduled == len(made)
        wait_until(
            lambda: client.zcard("{chaos}:jobs:complete") == len(made),
            "every scheduled job to complete",
            30,
        )
        for child in workers:
            wait_until(lambda child=child: running(child), "the last workers to start", 30)
            assert child.stop() == 0, child.output()
    finally:
        for child in workers:
            child.kill()
        client.close()

    stored = [await queue.get_job(job.job_id) for job in made]
    assert {job.state for job in stored} == {JobState.COMPLETE}
    assert kills >= seconds / 2, "the storm killed too few workers to prove anything"
    effects = collections.Counter(int(line[0]) for line in read_lines(tmp_path / "effects"))
    assert set(effects) == {job.job_id for job in made}
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "14 schedule under worker SIGKILL",
        seconds=round(elapsed, 1),
        every_s=EVERY_MS / 1000,
        workers=3,
        kills=kills,
        kill_rounds_at_a_due_run=aimed,
        kills_skipped=skipped,
        fewest_running_after_a_kill=fewest_left,
        occurrences=expected,
        jobs=len(made),
        max_late_ms=figures["max_late_ms"],
        min_gap_s=round(figures["min_gap_ms"] / 1000, 3),
        max_gap_s=round(figures["max_gap_ms"] / 1000, 3),
        gap_bound_s=MAX_GAP_MS / 1000,
        duplicate_side_effects=sum(1 for n in effects.values() if n > 1),
    )
