"""Job dependencies when something goes wrong, on Redis with a worker running: each
failure policy, a retry un-failing dependents, removal refused or forced, moves by hand,
and the invariant checker catching broken dependency bookkeeping."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from pykue import DependencyFailed, InvalidArgument, InvalidState, JobState, Queue
from pykue.errors import JobFailed
from tests.helpers import assert_invariants
from tests.test_flows import WAIT, fresh, snapshot, track
from tests.test_worker import running


class Switch:
    """A handler for type 'step' that fails while ``broken`` holds its job's name."""

    def __init__(self) -> None:
        self.broken: set[str] = set()
        self.ran: list[str] = []
        self.results: dict[str, Any] = {}

    async def __call__(self, job: Any) -> str:
        name = job.data["name"]
        self.ran.append(name)
        if name in self.broken:
            raise ValueError(f"{name} broke")
        self.results[name] = await job.dependency_results()
        return f"{name} done"


def step(queue: Queue, name: str, **options: Any) -> Any:
    return queue.create("step", {"name": name}, attempts=1, **options)


async def test_fail_fails_dependents_transitively_and_a_retry_unfails_them(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    handler = Switch()
    handler.broken.add("a")
    queue.process("step", handler)
    a, b, c = step(queue, "a"), step(queue, "b"), step(queue, "c")
    await queue.chain([a, b, c])
    c_log = track(c)
    moves: list[tuple[int, str, str]] = []  # a job's own listeners end with its end
    queue.on("job state", lambda job_id, was, now: moves.append((job_id, was, now)))
    async with running(queue):
        with pytest.raises(JobFailed, match="a broke"):
            await a.wait(WAIT)
        await c_log.until("failed")
        stored_b, stored_c = await fresh(queue, b), await fresh(queue, c)
        assert (stored_b.state, stored_b.error, stored_b.failed_by) == (
            JobState.FAILED,
            "dependency 1 failed: a broke",
            1,
        )
        assert (stored_c.state, stored_c.error, stored_c.failed_by) == (
            JobState.FAILED,
            "dependency 2 failed: dependency 1 failed: a broke",
            2,
        )
        assert [e["error"] for e in await queue.get_errors(c.job_id)] == [stored_c.error]
        assert handler.ran == ["a"]  # neither dependent ever started
        assert_invariants(raw, prefix)

        handler.broken.clear()
        await queue.retry(a.job_id)  # both go back to waiting, then run in order
        # read again: the saved object's wait() replays its events from the save on,
        # and the first of its ends was the failure
        assert await (await fresh(queue, c)).wait(WAIT) == "c done"
    assert handler.ran == ["a", "a", "b", "c"]
    assert [move for move in moves if move[1:] == ("failed", "waiting")] == [
        (2, "failed", "waiting"),
        (3, "failed", "waiting"),
    ]
    assert c_log.names().count("failed") == 1
    assert handler.results["c"] == {2: "b done"}
    assert (await fresh(queue, b)).failed_by is None
    assert_invariants(raw, prefix)


async def test_ignore_runs_the_dependent_with_the_failure_in_its_results(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    handler = Switch()
    handler.broken.add("bad")
    queue.process("step", handler)
    good, bad = step(queue, "good"), step(queue, "bad")
    summary = step(queue, "summary", on_dependency_failure="ignore")
    await queue.group([good, bad], then=summary)
    async with running(queue):
        assert await summary.wait(WAIT) == "summary done"
    assert handler.results["summary"] == {
        1: "good done",
        2: DependencyFailed(2, "bad broke"),
    }
    tree = await queue.tree(summary.job_id)
    assert [(n["id"], n["outcome"]) for n in tree["depends_on"]] == [
        (1, "complete"),
        (2, "ignored"),
    ]
    assert_invariants(raw, prefix)


async def test_wait_holds_the_dependent_until_a_retry_completes_its_dependency(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    handler = Switch()
    handler.broken.add("flaky")
    queue.process("step", handler)
    flaky = step(queue, "flaky")
    patient = step(queue, "patient", depends_on=[flaky], on_dependency_failure="wait")
    await queue.add_bulk([flaky, patient])
    async with running(queue):
        with pytest.raises(JobFailed):
            await flaky.wait(WAIT)
        held = await fresh(queue, patient)
        assert (held.state, held.pending_dependencies, held.error) == (JobState.WAITING, 1, None)
        outcome = (await queue.tree(patient.job_id))["depends_on"][0]["outcome"]
        assert outcome == "failed"
        assert_invariants(raw, prefix)
        handler.broken.clear()
        await queue.retry(flaky.job_id)
        assert await patient.wait(WAIT) == "patient done"
    assert handler.ran == ["flaky", "flaky", "patient"]
    assert handler.results["patient"] == {1: "flaky done"}
    assert_invariants(raw, prefix)


async def test_remove_is_refused_while_jobs_wait_unless_forced(
    queue: Queue, redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    base = await queue.create("step", {"name": "base"}).save()
    left = await queue.create("step", {"name": "left"}, depends_on=[base]).save()
    right = await queue.create("step", {"name": "right"}, depends_on=[base, left]).save()
    before = snapshot(redis_url, prefix)
    with pytest.raises(InvalidState) as refused:
        await queue.remove(base.job_id)
    assert str(refused.value) == (
        "job 1 is waited for by jobs 2, 3: remove(force=True) removes it and fails them"
    )
    with pytest.raises(InvalidArgument, match="force"):
        await queue.remove(base.job_id, force="yes")  # type: ignore[arg-type]
    assert snapshot(redis_url, prefix) == before

    right_log = track(right)
    await queue.remove(base.job_id, force=True)
    await right_log.until("failed")
    for job in (left, right):
        stored = await fresh(queue, job)
        assert (stored.state, stored.failed_by) == (JobState.FAILED, 1)
        assert stored.error == "dependency 1 removed"
    assert await queue.dependents(left.job_id) == [right.job_id]
    await queue.remove(right.job_id)  # nothing waits for it
    assert await queue.dependents(left.job_id) == []
    # retried by hand, it runs: a removed dependency counts as ended, as it did when its
    # removal failed it
    await queue.retry(left.job_id)
    assert (await fresh(queue, left)).state is JobState.INACTIVE
    assert_invariants(raw, prefix)


async def test_moves_by_hand_reach_dependents(queue: Queue, raw: redis.Redis, prefix: str) -> None:
    first = await queue.create("step", {"name": "first"}).save()
    then = await queue.create("step", {"name": "then"}, depends_on=[first]).save()
    with pytest.raises(InvalidArgument, match="waiting"):
        await queue.set_state(then.job_id, "waiting")
    await queue.set_state(first.job_id, "failed")
    stored = await fresh(queue, then)
    assert (stored.state, stored.error) == (
        JobState.FAILED,
        "dependency 1 failed: set to failed by hand",
    )
    await queue.set_state(first.job_id, "inactive")  # out of failed: it waits again
    assert (await fresh(queue, then)).state is JobState.WAITING
    await queue.set_state(first.job_id, "complete")  # without a result: null
    released = await fresh(queue, then)
    assert (released.state, released.pending_dependencies) == (JobState.INACTIVE, 0)
    assert await released.dependency_results() == {1: None}
    assert_invariants(raw, prefix)


async def test_the_invariant_checker_catches_broken_dependency_bookkeeping(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    first = await queue.create("step", {"name": "first"}).save()
    then = await queue.create("step", {"name": "then"}, depends_on=[first]).save()
    assert_invariants(raw, prefix)
    job_key = queue.keys.job(then.job_id)
    raw.hset(job_key, "pending", "0")  # as a lost decrement would leave it
    with pytest.raises(AssertionError, match="pending=0, but 1 deps not done"):
        assert_invariants(raw, prefix)
    raw.hset(job_key, "pending", "1")
    raw.srem(queue.keys.dependents(first.job_id), str(then.job_id))
    with pytest.raises(AssertionError, match="depends on 1, which does not list it"):
        assert_invariants(raw, prefix)
    raw.sadd(queue.keys.dependents(first.job_id), str(then.job_id))
    raw.zrem(queue.keys.state("waiting"), str(then.job_id))
    with pytest.raises(AssertionError, match="waiting"):
        assert_invariants(raw, prefix)
    raw.zadd(queue.keys.state("waiting"), {str(then.job_id): 0})
    assert_invariants(raw, prefix)


@pytest.mark.parametrize("mode", ["redis", "test mode"])
async def test_two_entries_that_turn_out_one_job_are_one_dependency(
    queue: Queue, raw: redis.Redis, prefix: str, mode: str
) -> None:
    if mode == "test mode":
        queue.test_mode.enter()
    first, again = queue.create("a", {}, unique="k"), queue.create("a", {}, unique="k")
    report = queue.create("r", {}, depends_on=[first, again])
    await queue.add_bulk([first, again, report])
    assert (first.id, again.id) == (1, 1)  # the unique key gave both entries one job
    assert (report.depends_on, report.pending_dependencies) == ([1], 1)
    await queue.set_state(1, "complete")
    assert (await fresh(queue, report)).state is JobState.INACTIVE
    if mode == "redis":
        assert_invariants(raw, prefix)


@pytest.mark.parametrize("mode", ["redis", "test mode"])
async def test_a_dependency_failed_after_it_counted_as_done_fails_nothing(
    queue: Queue, raw: redis.Redis, prefix: str, mode: str
) -> None:
    if mode == "test mode":
        queue.test_mode.enter()
    done, later = await queue.create("a", {}).save(), await queue.create("a", {}).save()
    strict = await queue.create("r", {}, depends_on=[done, later]).save()
    lenient = await queue.create(
        "r", {}, depends_on=[done, later], on_dependency_failure="ignore"
    ).save()
    await queue.set_state(done.job_id, "complete")
    await queue.set_state(done.job_id, "failed")  # by hand, after its dependents counted it
    await queue.remove(done.job_id)  # nothing waits for it any more: no force needed
    for job in (strict, lenient):
        held = await fresh(queue, job)
        assert (held.state, held.pending_dependencies) == (JobState.WAITING, 1)
    await queue.set_state(later.job_id, "complete")
    for job in (strict, lenient):
        assert (await fresh(queue, job)).state is JobState.INACTIVE
    if mode == "redis":
        assert_invariants(raw, prefix)


async def test_dependents_written_by_hand_read_as_the_ids_among_them(
    queue: Queue, raw: redis.Redis
) -> None:
    first = await queue.create("a", {}).save()
    then = await queue.create("b", {}, depends_on=[first]).save()
    raw.sadd(queue.keys.dependents(first.job_id), "9" * 5000, "\u00b2", "x", "0", "-4")
    assert await queue.dependents(first.job_id) == [then.job_id]
    raw.srem(queue.keys.dependents(first.job_id), "9" * 5000, "\u00b2", "x", "0", "-4")
