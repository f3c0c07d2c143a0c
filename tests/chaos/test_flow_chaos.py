"""Scenario 15: flows (fan-ins, chains, chords) saved while their workers are SIGKILLed,
most often while the last dependency of a waiting job is running. Every job must end
complete, and no dependent may start before each of its dependencies has completed:
not before the rerun of one whose worker was killed."""

from __future__ import annotations

import asyncio
import collections
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from pykue import Job, JobState, Queue
from tests.chaos.conftest import FULL
from tests.chaos.support import LEASE, PREFIX, ChaosRedis, Child, record
from tests.chaos.test_crashes import started
from tests.helpers import assert_invariants, wait_until

KILL_LAST_CHANCE = 0.5  # of a run seen as the last dependency of a waiting job
RANDOM_KILL_EVERY = (1.5, 3.0)  # seconds between kills at any other moment
TYPE = "step"


@dataclass
class Run:
    """One run of a job as a worker recorded it (programs/flow_worker.py)."""

    job_id: int
    token: int
    pid: int
    began_ns: int
    ends_ns: int  # when its sleep is due to end
    saw: dict[int, int]  # dependency id -> token of the run whose result it was given
    finished_ns: int | None = None


@dataclass
class Records:
    """The records file read as it grows; only whole lines are taken."""

    path: Path
    offset: int = 0
    runs: dict[tuple[int, int], Run] = field(default_factory=dict)
    by_job: dict[int, list[Run]] = field(default_factory=lambda: collections.defaultdict(list))

    def read(self) -> list[Run]:
        """The runs that began since the last read (finish lines are filed too)."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            file.seek(self.offset)
            chunk = file.read()
        whole = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(whole)
        began = []
        for line in whole.decode().splitlines():
            parts = line.split()
            job_id, token, pid, at = (int(p) for p in parts[1:5])
            if parts[0] == "start":
                saw = {}
                if parts[6] != "-":
                    saw = dict(tuple(map(int, pair.split(":"))) for pair in parts[6].split(","))
                run = Run(job_id, token, pid, at, at + int(parts[5]) * 1_000_000, saw)
                self.runs[(job_id, token)] = run
                self.by_job[job_id].append(run)
                began.append(run)
            else:
                self.runs[(job_id, token)].finished_ns = at
        return began


def flow_worker(tmp_path: Path, url: str, name: object) -> Child:
    args = [url, PREFIX, str(tmp_path / "records"), "--lease", str(LEASE)]
    args += ["--concurrency", "2", "--max-stalls", "1000", "--type", TYPE]
    return Child("flow_worker.py", args, tmp_path / f"worker-{name}.log")


async def save_flow(queue: Queue, rng: random.Random, n: int) -> list[Job]:
    """Flow ``n``: a fan-in (a parent of 3 to 5 children), a chain of 3 to 5 steps or a
    chord (a group of 2 to 4, then one job), by turns."""
    size = rng.randint(3, 5)
    if n % 3 == 0:
        children = [queue.create(TYPE, {"flow": n, "child": k}) for k in range(size)]
        parent = queue.create(TYPE, {"flow": n, "parent": True}, children=children)
        return [*children, await queue.add_flow(parent)]
    if n % 3 == 1:
        return await queue.chain([queue.create(TYPE, {"flow": n, "step": k}) for k in range(size)])
    members = [queue.create(TYPE, {"flow": n, "member": k}) for k in range(size - 1)]
    return await queue.group(members, then=queue.create(TYPE, {"flow": n, "then": True}))


async def test_flows_run_each_dependent_after_its_dependencies_while_workers_are_killed(
    chaos_redis: ChaosRedis, queue: Queue, tmp_path: Path
) -> None:
    """3 worker processes (2 jobs each). Flows are saved one every 0.1 to 0.4 s while
    they run. A run that is the last unfinished dependency of a waiting job gets its
    worker SIGKILLed at a random moment of its work half the time; any worker is
    killed every 1.5 to 3 s besides. Each victim is replaced at once."""
    flows = 150 if FULL else 24
    rng = random.Random(15)
    records = Records(tmp_path / "records")
    workers = [flow_worker(tmp_path, chaos_redis.url, n) for n in range(3)]
    client = chaos_redis.client()
    deps: dict[int, list[int]] = {}  # job id -> its dependencies, as saved
    dependents: dict[int, list[int]] = collections.defaultdict(list)
    killed_pids: set[int] = set()
    aimed: dict[tuple[int, int], int] = {}  # run judged a last dependency -> when to kill, ns
    judged: set[tuple[int, int]] = set()
    kills, last_kills = 0, 0
    producing = True

    async def produce() -> None:
        nonlocal producing
        for n in range(flows):
            for job in await save_flow(queue, rng, n):
                deps[job.job_id] = [int(dep) for dep in job.depends_on]
                for dep in deps[job.job_id]:
                    dependents[dep].append(job.job_id)
            await asyncio.sleep(rng.uniform(0.1, 0.4))
        producing = False

    def kill(slot: int) -> None:
        nonlocal kills
        victim = workers[slot]
        victim.kill()
        killed_pids.add(victim.pid)
        kills += 1
        workers[slot] = flow_worker(tmp_path, chaos_redis.url, f"{slot}-{kills}")

    def last_dependency(run: Run) -> bool:
        """The run's job is the one dependency a waiting dependent still waits for."""
        for dependent in dependents.get(run.job_id, []):
            pending, state = client.hmget(f"{{{PREFIX}}}:job:{dependent}", "pending", "state")
            outcome = client.hexists(f"{{{PREFIX}}}:job:{dependent}:deps", run.job_id)
            if state == "waiting" and pending == "1" and not outcome:
                return True
        return False

    try:
        for child in workers:
            wait_until(lambda child=child: started(child), "the workers to start", 30)
        began = time.monotonic()
        producer = asyncio.create_task(produce())
        next_random_kill = began + rng.uniform(*RANDOM_KILL_EVERY)
        while producing or client.zcard(f"{{{PREFIX}}}:jobs:complete") < len(deps):
            assert time.monotonic() - began < (600 if FULL else 120), "the flows never completed"
            if producer.done():
                producer.result()  # a save that raised fails the scenario here
            await asyncio.sleep(0.02)
            for child in workers:
                assert child.alive(), child.output()  # none dies but by a kill
            records.read()
            now = time.monotonic_ns()
            alive = {child.pid: slot for slot, child in enumerate(workers)}
            running = [
                run
                for key, run in records.runs.items()
                if run.finished_ns is None and run.pid in alive and key not in judged
            ]
            for run in running:
                if run.ends_ns > now and last_dependency(run):
                    judged.add((run.job_id, run.token))
                    if rng.random() < KILL_LAST_CHANCE:
                        aimed[(run.job_id, run.token)] = rng.randint(now, run.ends_ns)
            for key, at in list(aimed.items()):
                run = records.runs[key]
                if run.pid not in alive or run.finished_ns is not None:
                    del aimed[key]  # its worker died anyway, or it ended first
                elif at <= now:
                    del aimed[key]
                    kill(alive.pop(run.pid))
                    last_kills += 1
            if time.monotonic() >= next_random_kill:
                up = [slot for slot, child in enumerate(workers) if started(child)]
                if up:
                    kill(rng.choice(up))
                next_random_kill = time.monotonic() + rng.uniform(*RANDOM_KILL_EVERY)
        await producer
        elapsed = time.monotonic() - began
        for child in workers:
            wait_until(lambda child=child: started(child), "the last workers to start", 30)
            assert child.stop() == 0, child.output()
        records.read()
    finally:
        for child in workers:
            child.kill()
        client.close()

    total = len(deps)
    counts = await queue.counts()
    assert counts == {**dict.fromkeys(counts, 0), "complete": total}, counts
    assert (await queue.totals()).completed == total  # no job completed twice
    stored = {job_id: await queue.get_job(job_id) for job_id in deps}
    reruns = collections.Counter[str]()
    for job_id, job in stored.items():
        assert job.state is JobState.COMPLETE, (job_id, job.state)
        assert job.attempts_made == 1, (job_id, job.attempts_made)  # no run failed
        runs = records.by_job[job_id]
        final = records.runs.get((job_id, job.token))
        assert final is not None, (job_id, runs)
        assert final.finished_ns is not None, (job_id, runs)
        assert job.result == {"token": job.token}
        # a job runs again only after its worker was killed (its lease then expires: a
        # stall each time)
        assert 1 <= len(runs) <= job.stalls + 1, (job_id, len(runs), job.stalls)
        for run in runs:
            assert run is final or run.pid in killed_pids, (job_id, run, final)
        if len(runs) > 1:
            reruns["dependencies" if dependents.get(job_id) else "others"] += 1
            if deps[job_id]:
                reruns["dependents"] += 1
        first_start = min(run.began_ns for run in runs)
        for dep in deps[job_id]:
            completed = records.runs[(dep, stored[dep].token)]
            assert completed.finished_ns is not None
            assert first_start > completed.finished_ns, (job_id, "started before", dep)
            for run in runs:  # every run was given the result of the run that completed it
                assert run.saw.get(dep) == stored[dep].token, (job_id, run, dep)
            assert job.started_at is not None
            assert stored[dep].completed_at is not None
            assert job.started_at >= stored[dep].completed_at, (job_id, dep)
        assert set(final.saw) == set(deps[job_id])
    assert last_kills >= 3, "too few kills caught a running last dependency to prove anything"
    assert reruns["dependencies"] >= 1, "no dependency was run again after a kill"
    assert_invariants(chaos_redis.client(), PREFIX)
    record(
        "15 flows under worker SIGKILL",
        seconds=round(elapsed, 1),
        flows=flows,
        jobs=total,
        dependencies=sum(map(len, deps.values())),
        workers=3,
        kills=kills,
        kills_while_a_last_dependency_ran=last_kills,
        last_dependency_runs_seen=len(judged),
        dependencies_run_again=reruns["dependencies"],
        dependents_run_again=reruns["dependents"],
        most_runs_of_a_job=max(len(runs) for runs in records.by_job.values()),
        started_before_a_dependency_completed=0,
    )
