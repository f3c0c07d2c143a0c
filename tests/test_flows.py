"""Job dependencies in the Redis engine (issue 16): flows, chains and groups run in
dependency order, results pass along, the waiting state shows everywhere a state does.
Failure policies, retries, removal and set_state: tests/test_flows_failures.py; bad
graphs refused with Redis unchanged: tests/test_flows_refusals.py."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from pykue import JobState, Queue, metrics
from pykue.job import Job
from pykue.keys import Keys
from tests.helpers import assert_invariants
from tests.test_worker import running

WAIT = 30.0  # seconds a test waits for an event before failing


def snapshot(redis_url: str, *prefixes: str) -> dict[bytes, tuple[bytes | None, bool]]:
    """Every key under ``prefixes`` with its serialized value and whether it expires:
    equal snapshots mean nothing was written in between (a TTL counts down meanwhile)."""
    client = redis.Redis.from_url(redis_url)
    try:
        found: dict[bytes, tuple[bytes | None, bool]] = {}
        for prefix in prefixes:
            pattern = Keys(prefix).base.replace("{", "\\{").replace("}", "\\}") + ":*"
            for key in client.scan_iter(match=pattern, count=1000):
                dumped: Any = client.dump(key)
                found[key] = (dumped, int(client.pttl(key)) > 0)  # type: ignore[arg-type]
        return found
    finally:
        client.close()


@dataclass
class Track:
    """A job's own events, in order, from its save on (listeners registered before it)."""

    seen: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, name: str, args: tuple[Any, ...]) -> None:
        self.seen.append((name, args))
        self.changed.set()

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]

    async def until(self, name: str, count: int = 1) -> tuple[Any, ...]:
        """The arguments of the ``count``-th ``name`` event, once it came."""
        async with asyncio.timeout(WAIT):
            while True:
                found = [args for seen, args in self.seen if seen == name]
                if len(found) >= count:
                    return found[count - 1]
                self.changed.clear()
                await self.changed.wait()


EVENTS = ("enqueue", "ready", "start", "complete", "failed", "state", "retry", "remove")


def track(job: Job) -> Track:
    log = Track()
    for name in EVENTS:
        job.on(name, lambda *args, name=name: log.add(name, args))
    return log


def edges(jobs: Iterable[Job]) -> list[tuple[int, int]]:
    """(dependency id, dependent id) for each saved job's dependencies."""
    return [(dep, job.job_id) for job in jobs for dep in job.dependency_ids]


async def fresh(queue: Queue, job: Job) -> Job:
    return await queue.get_job(job.job_id)


async def test_fan_in_of_100_children_runs_the_parent_once_after_all(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    last_may_end = asyncio.Event()
    parent_runs: list[dict[int, Any]] = []

    @queue.process("child", concurrency=10)
    async def child(job: Any) -> dict[str, int]:
        if job.data["n"] == 0:
            await last_may_end.wait()  # the dependency the parent waits for last
        return {"n": job.data["n"]}

    @queue.process("parent")
    async def parent_handler(job: Any) -> list[int]:
        results = await job.dependency_results()
        parent_runs.append(results)
        return [value["n"] for value in results.values()]

    children = [queue.create("child", {"n": n}) for n in range(100)]
    order = list(children)
    random.Random(16).shuffle(order)
    parent = queue.create("parent", {}, children=order)
    assert await queue.add_flow(parent) is parent
    assert parent.state == JobState.WAITING
    assert all(c.id is not None and c.state == JobState.INACTIVE for c in children)
    assert parent.depends_on == [c.id for c in order]
    assert (await fresh(queue, parent)).pending_dependencies == 100
    assert await queue.dependents(children[0].job_id) == [parent.id]
    async with running(queue):
        await asyncio.gather(*(c.wait(timeout=WAIT) for c in children[1:]))
        held = await fresh(queue, parent)
        assert (held.state, held.pending_dependencies) == (JobState.WAITING, 1)
        assert parent_runs == []
        last_may_end.set()
        result = await parent.wait(timeout=WAIT)
    assert result == [c.data["n"] for c in order]
    assert len(parent_runs) == 1
    assert list(parent_runs[0]) == [c.id for c in order]  # depends_on order, not id order
    done = await fresh(queue, parent)
    assert (done.state, done.pending_dependencies) == (JobState.COMPLETE, 0)
    assert_invariants(raw, prefix)


async def test_a_chain_of_20_steps_passes_each_result_to_the_next(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    ran: list[int] = []

    @queue.process("step", concurrency=4)
    async def step(job: Any) -> list[int]:
        ran.append(job.data["k"])
        return [*(job.parent_result or []), job.data["k"]]

    steps = [queue.create("step", {"k": k}) for k in range(20)]
    assert await queue.chain(steps) == steps
    assert steps[0].state == JobState.INACTIVE
    assert steps[0].depends_on == []
    for before, after in itertools.pairwise(steps):
        assert after.depends_on == [before.id]
        assert after.state == JobState.WAITING
    assert_invariants(raw, prefix)
    async with running(queue):
        assert await steps[-1].wait(timeout=WAIT) == list(range(20))
    assert ran == list(range(20))
    assert_invariants(raw, prefix)


async def test_a_chord_runs_its_summary_once_after_every_job(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    ended: dict[int, float] = {}
    summary_started: list[float] = []

    @queue.process("part", concurrency=5)
    async def part(job: Any) -> int:
        await asyncio.sleep(0.01 * (job.data["n"] % 3))  # they end in no set order
        ended[job.id] = time.monotonic()
        return int(job.data["n"]) * 10

    @queue.process("summary")
    async def summary_handler(job: Any) -> int:
        summary_started.append(time.monotonic())
        return sum((await job.dependency_results()).values())

    parts = [queue.create("part", {"n": n}) for n in range(8)]
    summary = queue.create("summary", {})
    assert await queue.group(parts, then=summary) == [*parts, summary]
    assert summary.depends_on == [p.id for p in parts]
    async with running(queue):
        assert await summary.wait(timeout=WAIT) == sum(n * 10 for n in range(8))
    assert len(summary_started) == 1
    assert summary_started[0] >= max(ended.values())
    assert sorted(ended) == [p.id for p in parts]
    assert_invariants(raw, prefix)


async def test_add_flow_saves_a_two_level_tree_and_runs_it_bottom_up(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    runs: list[str] = []

    @queue.process("fetch", concurrency=4)
    async def fetch(job: Any) -> str:
        runs.append(job.data["url"])
        return str(job.data["url"]).upper()

    @queue.process("resize", concurrency=2)
    async def resize(job: Any) -> dict[str, Any]:
        runs.append(f"resize {job.data['size']}")
        return {"size": job.data["size"], "from": list((await job.dependency_results()).values())}

    @queue.process("upload")
    async def upload(job: Any) -> list[Any]:
        runs.append("upload")
        return list((await job.dependency_results()).values())

    leaves = [[queue.create("fetch", {"url": f"u{s}{k}"}) for k in range(2)] for s in (64, 256)]
    middle = [
        queue.create("resize", {"size": size}, children=kids)
        for size, kids in zip((64, 256), leaves, strict=True)
    ]
    root = queue.create("upload", {}, children=middle)
    await queue.add_flow(root)
    every = [root, *middle, *(leaf for kids in leaves for leaf in kids)]
    assert all(job.id is not None for job in every)
    assert [j.state for j in every] == [JobState.WAITING] * 3 + [JobState.INACTIVE] * 4
    tree = await queue.tree(root.job_id)
    assert tree["state"] == "waiting"
    assert tree["dependents"] == []
    assert [node["id"] for node in tree["depends_on"]] == [m.id for m in middle]
    assert [[leaf["id"] for leaf in node["depends_on"]] for node in tree["depends_on"]] == [
        [leaf.id for leaf in kids] for kids in leaves
    ]
    assert {leaf["outcome"] for node in tree["depends_on"] for leaf in node["depends_on"]} == {None}
    async with running(queue):
        result = await root.wait(timeout=WAIT)
    assert result == [
        {"size": 64, "from": ["U640", "U641"]},
        {"size": 256, "from": ["U2560", "U2561"]},
    ]
    assert runs[-1] == "upload"
    assert runs.count("upload") == 1
    for size, kids in zip((64, 256), leaves, strict=True):
        assert runs.index(f"resize {size}") > max(runs.index(k.data["url"]) for k in kids)
    tree = await queue.tree(root.job_id)
    assert tree["state"] == "complete"
    assert {node["outcome"] for node in tree["depends_on"]} == {"complete"}
    assert_invariants(raw, prefix)


async def test_save_of_a_dependent_saves_its_unsaved_dependencies(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    a, b = queue.create("fetch", {"n": 1}), queue.create("fetch", {"n": 2})
    c = queue.create("fetch", {"n": 3}, depends_on=[a])  # two levels of unsaved jobs
    report = queue.create("report", {}, depends_on=[c, b])
    assert await report.save() is report
    assert all(job.id is not None for job in (a, b, c))
    assert report.depends_on == [c.id, b.id]
    assert (report.state, c.state, a.state, b.state) == (
        JobState.WAITING,
        JobState.WAITING,
        JobState.INACTIVE,
        JobState.INACTIVE,
    )
    stored = await fresh(queue, report)
    assert stored.depends_on == [c.id, b.id]
    assert stored.pending_dependencies == 2
    assert stored.to_dict()["depends_on"] == [c.id, b.id]
    assert stored.to_dict()["pending_dependencies"] == 2
    assert stored.to_dict()["on_dependency_failure"] == "fail"
    assert stored.to_dict()["failed_by"] is None
    assert (await queue.counts())["inactive"] == 2
    await a.save()  # saved already: left as it is
    counts = await queue.counts()
    assert (counts["inactive"], counts["waiting"]) == (2, 2)
    assert_invariants(raw, prefix)


async def test_add_bulk_takes_dependents_before_their_dependencies(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    starts: list[int] = []

    @queue.process("fetch", concurrency=2)
    async def fetch(job: Any) -> int:
        starts.append(job.id)
        return int(job.data["n"])

    @queue.process("report")
    async def report_handler(job: Any) -> dict[str, Any]:
        starts.append(job.id)
        return {str(k): v for k, v in (await job.dependency_results()).items()}

    a, b = queue.create("fetch", {"n": 1}), queue.create("fetch", {"n": 2})
    report = queue.create("report", {}, depends_on=[a, b])
    alone = queue.create("fetch", {"n": 3})
    assert await queue.add_bulk([report, alone, b, a]) == [report, alone, b, a]
    assert report.depends_on == [a.id, b.id]
    assert a.job_id < report.job_id
    assert b.job_id < report.job_id
    assert len({job.id for job in (a, b, report, alone)}) == 4
    counts = await queue.counts()
    assert (counts["inactive"], counts["waiting"]) == (3, 1)
    async with running(queue):
        assert await report.wait(timeout=WAIT) == {str(a.id): 1, str(b.id): 2}
        await alone.wait(timeout=WAIT)
    assert starts.index(report.job_id) > max(starts.index(a.job_id), starts.index(b.job_id))
    assert sum(1 for job_id in starts if job_id == report.id) == 1
    assert_invariants(raw, prefix)


async def test_a_dependency_complete_before_its_dependent_is_saved(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    @queue.process("fetch")
    async def fetch(job: Any) -> dict[str, str]:
        return {"got": job.data["url"]}

    @queue.process("report")
    async def report_handler(job: Any) -> list[Any]:
        results = await job.dependency_results()
        return [job.parent_result, {str(k): v for k, v in results.items()}]

    a = await queue.create("fetch", {"url": "u"}).save()
    async with running(queue):
        assert await a.wait(timeout=WAIT) == {"got": "u"}
        report = queue.create("report", {}, depends_on=[a.job_id])
        await report.save()
        assert report.state == JobState.INACTIVE  # nothing left to wait for
        assert raw.hgetall(Keys(prefix).deps(report.job_id)) == {str(a.id): 'c{"got":"u"}'}
        assert await report.wait(timeout=WAIT) == [{"got": "u"}, {str(a.id): {"got": "u"}}]
    assert (await fresh(queue, report)).pending_dependencies == 0
    assert await queue.dependents(a.job_id) == [report.id]
    assert_invariants(raw, prefix)


async def test_a_delayed_dependent_is_released_to_delayed_then_runs(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    @queue.process("first")
    async def first(job: Any) -> str:
        return "one"

    @queue.process("later")
    async def later_handler(job: Any) -> Any:
        return job.parent_result

    a = queue.create("first", {})
    later = queue.create("later", {}, depends_on=[a], delay=0.5)
    log = track(later)
    await later.save()
    assert later.state == JobState.WAITING  # its delay waits for the release
    stored = await fresh(queue, later)
    assert stored.run_at is None
    async with running(queue):
        assert await log.until("ready") == ("delayed",)
        assert await later.wait(timeout=WAIT) == "one"
    done_a, done_later = await fresh(queue, a), await fresh(queue, later)
    assert done_a.completed_at is not None
    assert done_later.started_at is not None
    assert done_later.started_at >= done_a.completed_at + 500  # Redis's clock, both
    assert log.names()[:3] == ["enqueue", "ready", "start"]
    assert_invariants(raw, prefix)


async def test_no_dependent_starts_before_its_dependencies_end_under_a_running_worker(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    times: dict[int, list[float]] = {}

    @queue.process("node", concurrency=6)
    async def node(job: Any) -> int:
        times.setdefault(job.id, []).append(time.monotonic())
        await asyncio.sleep(0.005 * (job.data["n"] % 4))  # uneven run times
        times[job.id].append(time.monotonic())
        return int(job.data["n"])

    count = iter(range(1000))

    def make(*deps: Job) -> Job:
        return queue.create("node", {"n": next(count)}, children=list(deps))

    shared = make()  # a diamond: two middle jobs wait for it
    middle = [make(make(), shared), make(make(), make(), shared), make()]
    root = make(*middle)
    chain = [make() for _ in range(6)]
    async with running(queue):
        warm = await queue.create("node", {"n": 0}).save()
        await warm.wait(timeout=WAIT)  # the worker is claiming before the flow is saved
        await queue.add_flow(root)
        await queue.chain(chain)
        await asyncio.gather(root.wait(timeout=WAIT), chain[-1].wait(timeout=WAIT))
    stored = await queue.jobs()
    links = edges(stored)
    assert len(links) == 3 + 2 + 3 + 5  # every edge of the flow and the chain
    for dep, dependent in links:
        assert times[dependent][0] >= times[dep][1], f"{dependent} started before {dep} ended"
    assert all(len(pair) == 2 for pair in times.values())  # each ran once
    assert len(times) == len(stored) == 1 + 8 + 6
    assert_invariants(raw, prefix)


async def test_waiting_shows_in_counts_lists_type_stats_and_metrics(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    a = queue.create("fetch", {})
    waiting = [queue.create("report", {"n": n}, depends_on=[a]) for n in range(2)]
    await queue.add_bulk(waiting)
    assert (await queue.counts())["waiting"] == 2
    assert (await queue.counts("report"))["waiting"] == 2
    assert (await queue.counts("fetch"))["waiting"] == 0
    stats = {s.name: s.counts for s in await queue.type_stats()}
    assert stats["report"]["waiting"] == 2
    assert stats["report"]["inactive"] == 0
    assert stats["fetch"]["inactive"] == 1
    listed = await queue.jobs(state="waiting")
    assert [job.id for job in listed] == [job.id for job in waiting]
    assert all(job.state == JobState.WAITING for job in listed)
    assert [j.id for j in await queue.jobs(JobState.WAITING, type="report")] == [
        j.id for j in waiting
    ]
    assert await queue.jobs(state="waiting", type="fetch") == []
    text = await metrics.render(queue)
    assert f'pykue_jobs{{queue="{prefix}",state="waiting"}} 2\n' in text
    assert f'pykue_jobs{{queue="{prefix}",state="inactive"}} 1\n' in text
    # a waiting job wakes no worker: nothing claims it while its dependency is pending
    claim = await queue._redis.scripts.claim("report", 5, "test-worker", 60_000, "c1")
    assert claim.jobs == []
    assert_invariants(raw, prefix)


async def test_enqueue_and_ready_events_name_the_state(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    @queue.process("fetch")
    async def fetch(job: Any) -> int:
        return 1

    @queue.process("report")
    async def report_handler(job: Any) -> int:
        return 2

    a = queue.create("fetch", {})
    report = queue.create("report", {}, depends_on=[a])
    log_a, log_report = track(a), track(report)
    await report.save()
    async with running(queue):
        assert await report.wait(timeout=WAIT) == 2
        await log_report.until("complete")
    assert log_report.names() == ["enqueue", "ready", "start", "complete"]
    assert log_report.seen[1] == ("ready", ("inactive",))
    assert "ready" not in log_a.names()  # a job without dependencies is never released
    stream = raw.xrange(Keys(prefix).events)
    enqueued = {int(f["id"]): f["state"] for _, f in stream if f.get("event") == "enqueue"}
    assert enqueued == {a.job_id: "inactive", report.job_id: "waiting"}
    ready = [f for _, f in stream if f.get("event") == "ready"]
    assert ready == [
        {"event": "ready", "id": str(report.id), "type": "report", "state": "inactive"},
    ]
    assert_invariants(raw, prefix)
