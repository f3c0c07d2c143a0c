"""Test mode with job dependencies (issue 16): flows answer as on Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from pykue import DependencyFailed, InvalidJob, InvalidState, Job, JobFailed, JobState, Queue
from pykue.errors import PykueError
from pykue.flows import MAX_DEPTH

UNREACHABLE = "redis://127.0.0.1:1"  # nothing listens there: any Redis call would fail
EVENTS = ("enqueue", "ready", "start", "complete", "failed", "state", "retry", "remove")


@pytest.fixture
def offline() -> Queue:
    return Queue(url=UNREACHABLE, prefix="offline")


async def outcome(call: Awaitable[Any]) -> Any:
    """What a call returned, or the pykue error it raised (its class and message)."""
    try:
        return await call
    except PykueError as exc:
        return (type(exc).__name__, str(exc))


def heard(q: Queue) -> list[tuple[Any, ...]]:
    """Every job event the queue's listeners get, in order."""
    seen: list[tuple[Any, ...]] = []
    for name in EVENTS:
        q.on("job " + name, lambda *args, name=name: seen.append((name, *args)))
    return seen


def listen(job: Job) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []
    for name in EVENTS:
        job.on(name, lambda *args, name=name: seen.append((name, *args)))
    return seen


def view(job: Job) -> tuple[Any, ...]:
    return (
        job.id, str(job.state), job.error, job.failed_by,
        job.pending_dependencies, job.depends_on,
    )  # fmt: skip


async def test_a_chain_runs_in_order_passing_parent_result(offline: Queue) -> None:
    got: list[tuple[int, Any, dict[int, Any]]] = []

    @offline.process("step")
    async def step(job: Any) -> int:
        got.append((job.id, job.parent_result, await job.dependency_results()))
        return int(job.data["n"]) + (job.parent_result or 0)

    offline.test_mode.enter(process=True)
    first = offline.create("step", {"n": 1})
    events = listen(first)
    last = offline.create("step", {"n": 100})
    last_events = listen(last)
    steps = await offline.chain([first, offline.create("step", {"n": 10}), last])
    assert [s.result for s in steps] == [1, 11, 111]
    assert got == [(1, None, {}), (2, 1, {1: 1}), (3, 11, {2: 11})]
    assert [s.depends_on for s in steps] == [[], [1], [2]]  # ids once saved
    assert events == [("enqueue",), ("start",), ("complete", 1)]
    assert last_events == [("enqueue",), ("ready", "inactive"), ("start",), ("complete", 111)]
    # outside a handler the outcomes are read afresh, as from Redis
    assert (last.parent_result, await last.dependency_results()) == (None, {2: 11})
    assert await offline.dependents(1) == [2]
    tree = await offline.tree(3)
    assert tree["depends_on"][0]["depends_on"][0] == {
        "id": 1, "type": "step", "state": "complete", "outcome": "complete", "depends_on": [],
    }  # fmt: skip


async def test_a_chain_waits_without_process_and_counts_waiting(offline: Queue) -> None:
    offline.test_mode.enter()
    seen = heard(offline)
    steps = await offline.chain([offline.create("step", {"n": n}) for n in range(3)])
    assert [str(s.state) for s in steps] == ["inactive", "waiting", "waiting"]
    assert [s.pending_dependencies for s in steps] == [0, 1, 1]
    counts = await offline.counts()
    assert (counts["inactive"], counts["waiting"]) == (1, 2)
    assert [j.id for j in await offline.jobs("waiting")] == [2, 3]
    stats = {s.name: s.counts["waiting"] for s in await offline.type_stats()}
    assert stats == {"step": 2}
    offline.test_mode.enter(process=True)
    with pytest.raises(InvalidState, match="waits for 1 of its dependencies"):
        await steps[2].wait()
    assert steps[2].to_dict()["depends_on"] == [2]
    assert seen == [("enqueue", 1, "step"), ("enqueue", 2, "step"), ("enqueue", 3, "step")]


async def test_a_group_then_a_chord(offline: Queue) -> None:
    got: dict[int, Any] = {}

    @offline.process("part")
    async def part(job: Any) -> Any:
        got[job.id] = await job.dependency_results()
        return job.data["n"] if "n" in job.data else sum(got[job.id].values())

    offline.test_mode.enter(process=True)
    parts = [offline.create("part", {"n": n}) for n in (1, 2, 3)]
    total = offline.create("part", {})
    saved = await offline.group(parts, then=total)
    assert saved == [*parts, total]
    assert (total.state, total.result) == (JobState.COMPLETE, 6)
    assert got[total.job_id] == {1: 1, 2: 2, 3: 3}
    assert total.depends_on == [1, 2, 3]
    plain = await offline.group([offline.create("part", {"n": 9})])
    assert plain[0].result == 9


async def test_policy_fail_is_transitive_and_retry_unfails(offline: Queue) -> None:
    @offline.process("work")
    async def work(job: Any) -> str:
        if job.data.get("boom"):
            raise ValueError("boom")
        return "ok"

    offline.test_mode.enter(process=True)
    seen = heard(offline)
    root = offline.create("work", {"boom": True})
    middle = offline.create("work", {}, depends_on=[root])
    top = await offline.create("work", {}, depends_on=[middle]).save()
    assert view(middle) == (2, "failed", "dependency 1 failed: boom", 1, 1, [1])
    assert view(top) == (3, "failed", "dependency 2 failed: dependency 1 failed: boom", 2, 1, [2])
    errors = await offline.get_errors(3)
    assert [(e["attempt"], e["error"], e["traceback"]) for e in errors] == [
        (0, "dependency 2 failed: dependency 1 failed: boom", ""),
    ]  # fmt: skip
    with pytest.raises(JobFailed, match="dependency 2 failed"):
        await top.wait()
    assert (await offline.totals()).failed == 3
    assert seen[-3:] == [
        ("failed", 1, "boom"),
        ("failed", 2, "dependency 1 failed: boom"),
        ("failed", 3, "dependency 2 failed: dependency 1 failed: boom"),
    ]
    del seen[:]
    root.data["boom"] = False  # the stored job itself: the retry succeeds
    await offline.retry(1)
    assert [view(j)[:4] for j in (root, middle, top)] == [
        (1, "complete", None, None), (2, "complete", None, None), (3, "complete", None, None),
    ]  # fmt: skip
    assert seen[:3] == [
        ("retry", 1, "work"), ("state", 2, "failed", "waiting"), ("state", 3, "failed", "waiting"),
    ]  # fmt: skip
    assert ("ready", 2, "inactive") in seen
    assert ("ready", 3, "inactive") in seen


async def test_policy_ignore_runs_with_the_failure(offline: Queue) -> None:
    got: list[Any] = []

    @offline.process("work")
    async def work(job: Any) -> str:
        got.append((job.parent_result, await job.dependency_results()))
        if job.data.get("boom"):
            raise ValueError("boom")
        return "ran"

    offline.test_mode.enter(process=True)
    bad = offline.create("work", {"boom": True})
    good = offline.create("work", {})
    lenient = offline.create("work", {}, depends_on=[bad, good], on_dependency_failure="ignore")
    await offline.add_bulk([lenient])
    assert (lenient.state, lenient.result, lenient.failed_by) == (JobState.COMPLETE, "ran", None)
    assert got[-1] == (None, {1: DependencyFailed(1, "boom"), 2: "ran"})
    assert lenient.to_dict()["on_dependency_failure"] == "ignore"
    assert (await offline.tree(3))["depends_on"][0]["outcome"] == "ignored"


async def test_policy_wait_waits_for_a_retry(offline: Queue) -> None:
    @offline.process("work")
    async def work(job: Any) -> str:
        if job.data.get("boom"):
            raise ValueError("boom")
        return "ran"

    offline.test_mode.enter(process=True)
    bad = offline.create("work", {"boom": True})
    patient = await offline.create(
        "work", {}, depends_on=[bad], on_dependency_failure="wait"
    ).save()
    assert (bad.state, patient.state, patient.pending_dependencies) == (
        JobState.FAILED, JobState.WAITING, 1,
    )  # fmt: skip
    assert await offline.dependents(1) == [2]
    assert (await offline.tree(2))["depends_on"][0]["outcome"] == "failed"
    bad.data["boom"] = False
    await offline.retry(1)
    assert (patient.state, patient.result) == (JobState.COMPLETE, "ran")


async def test_a_dependency_already_ended_at_save(offline: Queue) -> None:
    offline.test_mode.enter()
    seen = heard(offline)
    done = await offline.create("a", {}).save()
    bad = await offline.create("a", {}).save()
    await offline.set_state(done.job_id, "complete")
    await offline.set_state(bad.job_id, "failed")
    del seen[:]
    strict = await offline.create("b", {}, depends_on=[done.job_id, bad.job_id]).save()
    lenient = await offline.create(
        "b", {}, depends_on=[bad, done], on_dependency_failure="ignore", delay=5
    ).save()
    patient = await offline.create("b", {}, depends_on=[bad], on_dependency_failure="wait").save()
    assert view(strict) == (3, "failed", "dependency 2 failed: set to failed by hand", 2, 1, [1, 2])
    assert view(lenient) == (4, "delayed", None, None, 0, [2, 1])
    assert view(patient) == (5, "waiting", None, None, 1, [2])
    assert seen == [
        ("enqueue", 3, "b"), ("failed", 3, "dependency 2 failed: set to failed by hand"),
        ("enqueue", 4, "b"), ("enqueue", 5, "b"),
    ]  # fmt: skip
    assert await lenient.dependency_results() == {
        2: DependencyFailed(2, "set to failed by hand"), 1: None,
    }  # fmt: skip
    # retrying the dependent: it waits for the dependency that failed it
    await offline.retry(strict.job_id)
    assert view(strict) == (3, "waiting", None, None, 1, [1, 2])
    await offline.set_state(bad.job_id, "complete")  # by hand: they record it
    assert (strict.state, patient.state) == (JobState.INACTIVE, JobState.INACTIVE)
    assert ("ready", 3, "inactive") in seen
    assert ("state", 2, "failed", "complete") in seen


async def test_remove_is_refused_while_jobs_wait_unless_forced(offline: Queue) -> None:
    offline.test_mode.enter()
    seen = heard(offline)
    base = await offline.create("a", {}).save()
    first = await offline.create("b", {}, depends_on=[base]).save()
    second = await offline.create("b", {}, depends_on=[base], on_dependency_failure="ignore").save()
    with pytest.raises(InvalidState) as refused:
        await offline.remove(base.job_id)
    assert str(refused.value) == (
        "job 1 is waited for by jobs 2, 3: remove(force=True) removes it and fails them"
    )
    assert (await offline.get_job(1)) is base
    assert await offline.dependents(1) == [2, 3]
    del seen[:]
    await base.remove(force=True)
    assert view(first) == (2, "failed", "dependency 1 removed", 1, 0, [1])
    assert view(second)[:4] == (3, "failed", "dependency 1 removed", 1)  # whatever the policy
    assert seen == [
        ("failed", 2, "dependency 1 removed"), ("failed", 3, "dependency 1 removed"),
        ("remove", 1, "a"),
    ]  # fmt: skip
    assert await offline.dependents(1) == []
    assert (await offline.tree(2))["depends_on"] == [
        {"id": 1, "type": None, "state": None, "outcome": "removed", "depends_on": []}
    ]
    await offline.retry(first.job_id)  # nothing to wait for: it runs without it
    assert first.state is JobState.INACTIVE
    # a dependency all its dependents are done with goes without force
    await offline.set_state(first.job_id, "complete")
    after = await offline.create("c", {}, depends_on=[first]).save()
    await offline.set_state(after.job_id, "complete")
    await offline.remove(first.job_id)
    assert await offline.dependents(after.job_id) == []
    await offline.remove(after.job_id)  # its links go with it
    assert offline.test_mode.jobs == [second]


async def test_bad_graphs_are_refused_and_nothing_saved(offline: Queue) -> None:
    offline.test_mode.enter()
    lone = offline.create("a", {})
    with pytest.raises(InvalidJob) as unknown:
        await offline.add_bulk([lone, offline.create("b", {}, depends_on=[99])])
    assert str(unknown.value).startswith("dependency 99 not found (it must exist when")
    assert (offline.test_mode.jobs, lone.id) == ([], None)
    one = offline.create("a", {})
    two = offline.create("a", {}, depends_on=[one])
    one.depends_on.append(two)
    with pytest.raises(InvalidJob, match="dependency cycle: 'a' -> 'a' -> 'a'"):
        await two.save()
    with pytest.raises(InvalidJob, match="on_dependency_failure must be one of"):
        offline.create("a", {}, depends_on=[1], on_dependency_failure="later")
    assert offline.test_mode.jobs == []
    first = await offline.create("a", {}).save()
    assert first.id == 1  # a refused save took no id
    # depth counts through saved jobs too (enqueue.lua's check)
    steps = await offline.chain([offline.create("a", {}) for _ in range(MAX_DEPTH)])
    deepest = await offline.create("a", {}, depends_on=[steps[-1]]).save()  # depth MAX_DEPTH
    assert deepest.state is JobState.WAITING
    with pytest.raises(InvalidJob, match=f"deeper than {MAX_DEPTH} levels"):
        await offline.create("a", {}, depends_on=[deepest.job_id]).save()
    assert len(offline.test_mode.jobs) == MAX_DEPTH + 2


async def test_set_state_by_hand_moves_dependents(offline: Queue) -> None:
    offline.test_mode.enter(process=True)
    ran: list[Any] = []

    @offline.process("b")
    async def b(job: Any) -> None:
        ran.append(await job.dependency_results())

    dep = await offline.create("a", {}).save()  # no handler: stays inactive
    waiting = await offline.create("b", {}, depends_on=[dep]).save()
    await offline.set_state(dep.job_id, "failed")
    assert view(waiting)[:4] == (2, "failed", "dependency 1 failed: set to failed by hand", 1)
    await offline.set_state(dep.job_id, "inactive")  # out of failed: it waits again
    assert view(waiting)[:4] == (2, "waiting", None, None)
    await offline.set_state(dep.job_id, "complete")
    assert (waiting.state, ran) == (JobState.COMPLETE, [{1: None}])  # released, then run
    with pytest.raises(InvalidJob, match="only unfinished dependencies"):
        await offline.set_state(dep.job_id, "waiting")


async def test_clear_forgets_links(offline: Queue) -> None:
    offline.test_mode.enter()
    base = await offline.create("a", {}).save()
    await offline.create("b", {}, depends_on=[base]).save()
    offline.test_mode.clear()
    assert await offline.dependents(1) == []
    fresh = await offline.create("a", {}).save()
    assert (fresh.id, await offline.dependents(fresh.job_id)) == (3, [])


# -- the same flows on Redis and in test mode ----------------------------------------


async def admin_flow_scenario(q: Queue) -> list[Any]:
    """Dependencies moved by hand (no worker), and what each call answered and heard."""
    seen: list[Any] = []
    events = heard(q)
    last_removed = asyncio.Event()
    q.on("job remove", lambda job_id, _type: job_id == 8 and last_removed.set())
    a, b = q.create("fetch", {"n": 1}), q.create("fetch", {"n": 2})
    report = q.create("report", {}, depends_on=[a, b])
    lenient = q.create("notify", {}, depends_on=[report], on_dependency_failure="ignore")
    patient = q.create("audit", {}, depends_on=[a], on_dependency_failure="wait", delay=30)
    await q.add_bulk([lenient, patient])
    jobs = (a, b, report, lenient, patient)
    seen.append([view(job) for job in jobs])

    async def fresh() -> list[Any]:
        return [view(await q.get_job(job.job_id)) for job in jobs]

    seen += [await q.counts(), await q.dependents(1), await q.tree(4)]
    await q.set_state(2, "complete")
    await q.set_state(1, "failed")
    seen += [await fresh(), await outcome(q.remove(1)), await q.tree(4)]
    seen.append([(e["attempt"], e["error"]) for e in await q.get_errors(3)])
    await q.retry(1)
    seen.append(await fresh())
    await q.set_state(1, "complete")
    seen.append(await fresh())
    await q.set_state(3, "complete")
    seen.append(await (await q.get_job(4)).dependency_results())
    x = await q.create("x", {}).save()
    y = await q.create("y", {}, depends_on=[x]).save()
    seen.append(await outcome(q.remove(x.job_id)))
    await q.remove(x.job_id, force=True)
    seen += [view(await q.get_job(y.job_id)), await q.tree(y.job_id), await q.dependents(6)]
    await q.retry(y.job_id)
    seen.append(view(await q.get_job(y.job_id)))
    seen.append(await outcome(q.create("z", {}, depends_on=[999]).save()))
    done = await q.create("z", {}, depends_on=[y]).save()  # y is inactive: it waits
    await q.set_state(y.job_id, "failed")
    seen += [view(await q.get_job(done.job_id)), await q.counts()]
    assert done.id == 8  # the refused save took no id
    await q.remove(done.job_id)
    await asyncio.wait_for(last_removed.wait(), 10)  # Redis's reader delivers them later
    seen.append(events)
    return seen


async def test_flows_by_hand_answer_as_on_redis(offline: Queue, queue: Queue) -> None:
    offline.test_mode.enter()
    in_memory = await admin_flow_scenario(offline)
    on_redis = await admin_flow_scenario(queue)
    assert in_memory[0][2] == (3, "waiting", None, None, 2, [1, 2])
    assert ("InvalidState", "job 1 is waited for by jobs 3, 5: "
            "remove(force=True) removes it and fails them") in in_memory  # fmt: skip
    for n, (mine, theirs) in enumerate(zip(in_memory, on_redis, strict=True)):
        assert mine == theirs, n


async def work(job: Any) -> Any:
    if job.data.get("boom"):
        raise ValueError("boom")
    results = await job.dependency_results()
    return {"n": job.data.get("n", 0), "parent": job.parent_result, "deps": repr(results)}


async def process_flow_scenario(q: Queue) -> list[Any]:
    """A chain and a chord with a failing part, run by whatever runs ``work`` for q."""
    steps = [q.create("work", {"n": n}) for n in (1, 2, 3)]
    parts = [q.create("work", {"n": 4}), q.create("work", {"boom": True})]
    lenient = q.create("work", {"n": 5}, on_dependency_failure="ignore")
    strict = q.create("work", {"n": 6}, depends_on=[parts[1]])
    heard_by = {id(job): listen(job) for job in (*steps, *parts, lenient, strict)}
    await q.chain(steps)
    await q.group(parts, then=lenient)
    await strict.save()
    results = [await outcome(job.wait(timeout=20)) for job in (*steps, lenient, strict)]
    fresh = [await q.get_job(job.job_id) for job in (*steps, *parts, lenient, strict)]
    return [
        results,
        [view(job) for job in fresh],
        [heard_by[id(job)] for job in (*steps, *parts, lenient, strict)],
        await q.tree(lenient.job_id),
    ]


async def test_flows_in_process_mode_run_as_a_worker_runs_them(
    offline: Queue, queue: Queue
) -> None:
    offline.process("work", work)
    offline.test_mode.enter(process=True)
    in_memory = await process_flow_scenario(offline)
    assert in_memory[0][:3] == [
        {"n": 1, "parent": None, "deps": "{}"},
        {"n": 2, "parent": {"n": 1, "parent": None, "deps": "{}"}, "deps": in_memory[0][1]["deps"]},
        in_memory[0][2],
    ]
    assert in_memory[0][4] == ("JobFailed", "job 7 failed: dependency 5 failed: boom")
    queue.process("work", work)
    worker = asyncio.create_task(queue.run(handle_signals=False))
    try:
        on_redis = await process_flow_scenario(queue)
    finally:
        await queue.shutdown()
        await worker
    for n, (mine, theirs) in enumerate(zip(in_memory, on_redis, strict=True)):
        assert mine == theirs, n
