"""Bad dependency graphs are refused with a clear InvalidJob (an InvalidArgument) and
nothing written: an unknown id, a cycle, another queue, too deep, too wide, too big.
The longer tables of bad values are in tests/chaos/bad_input."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from pykue import InvalidArgument, InvalidJob, Queue
from pykue.flows import MAX_DEPENDENCIES, MAX_DEPENDENTS, MAX_DEPTH, MAX_FLOW, MAX_LINKS
from tests.helpers import assert_invariants, delete_prefix
from tests.test_flows import snapshot


async def test_an_unknown_dependency_refuses_the_whole_call(
    queue: Queue, redis_url: str, prefix: str
) -> None:
    known = await queue.create("a", {}).save()
    before = snapshot(redis_url, prefix)
    alone = queue.create("a", {})
    bad = queue.create("b", {}, depends_on=[known, 99])
    with pytest.raises(InvalidJob) as refused:
        await queue.add_bulk([alone, bad])
    assert str(refused.value) == (
        "dependency 99 not found (it must exist when its dependent is saved)"
    )
    assert isinstance(refused.value, InvalidArgument)
    assert (alone.id, bad.id) == (None, None)
    assert snapshot(redis_url, prefix) == before
    bad.depends_on = [known]  # mended, the same objects save
    await queue.add_bulk([alone, bad])
    assert (alone.id, bad.id) == (2, 3)  # the refused call took no ids


async def test_a_cycle_is_refused_before_anything_is_sent(
    queue: Queue, redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    await queue.create("a", {}).save()
    before = snapshot(redis_url, prefix)
    a, b, c = queue.create("a", {}), queue.create("b", {}), queue.create("c", {})
    a.depends_on, b.depends_on, c.depends_on = [c], [a], [b]
    with pytest.raises(InvalidJob, match="dependency cycle: 'a' -> 'c' -> 'b' -> 'a'"):
        await queue.add_bulk([a, b, c])
    selfish = queue.create("s", {})
    selfish.depends_on = [selfish]
    with pytest.raises(InvalidJob, match="dependency cycle: 's' -> 's'"):
        await selfish.save()
    assert [job.id for job in (a, b, c, selfish)] == [None] * 4
    assert snapshot(redis_url, prefix) == before
    assert_invariants(raw, prefix)


async def test_a_dependency_in_another_queue_is_refused(
    queue: Queue, redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    other = Queue(url=redis_url, prefix=f"{prefix}-other")
    try:
        theirs = other.create("a", {})
        mine = queue.create("b", {}, depends_on=[theirs])
        with pytest.raises(InvalidJob) as refused:
            await queue.add_bulk([mine])
        assert "all jobs of a flow live in one queue (one Redis Cluster slot)" in str(refused.value)
        with pytest.raises(InvalidJob, match="one Redis Cluster slot"):
            await queue.add_bulk([theirs])  # a job of another queue, saved through this one
        assert snapshot(redis_url, prefix, f"{prefix}-other") == {}
    finally:
        await other.close()
        delete_prefix(raw, f"{prefix}-other")


async def test_depth_is_refused_past_the_limit_whether_saved_or_not(
    queue: Queue, redis_url: str, prefix: str
) -> None:
    # one call: the whole chain is checked on the client
    steps = [queue.create("s", {"n": n}) for n in range(MAX_DEPTH + 2)]
    with pytest.raises(InvalidJob, match=f"nest deeper than {MAX_DEPTH} levels"):
        await queue.chain(steps)
    assert snapshot(redis_url, prefix) == {}
    far = [queue.create("s", {"n": n}) for n in range(5 * MAX_DEPTH)]
    with pytest.raises(InvalidJob, match="nest deeper"):  # no RecursionError on the way
        await queue.chain(far)
    # saved in parts: the script adds the depth of what is stored
    saved = await queue.chain([queue.create("s", {"n": n}) for n in range(MAX_DEPTH + 1)])
    last = await queue.get_job(saved[-1].job_id)
    assert last.pending_dependencies == 1
    before = snapshot(redis_url, prefix)
    with pytest.raises(InvalidJob, match=f"nest deeper than {MAX_DEPTH} levels"):
        await queue.create("s", {}, depends_on=[last.job_id]).save()
    assert snapshot(redis_url, prefix) == before
    await queue.create("s", {}, depends_on=[saved[-2].job_id]).save()  # at the limit: fine


async def test_too_many_dependencies_or_too_big_a_flow_is_refused(
    queue: Queue, redis_url: str, prefix: str
) -> None:
    with pytest.raises(InvalidJob, match=f"more than {MAX_DEPENDENCIES}"):
        queue.create("p", {}, depends_on=list(range(1, MAX_DEPENDENCIES + 2)))
    with pytest.raises(InvalidJob, match="names job 7 twice"):
        queue.create("p", {}, depends_on=[7, 7])
    children = [queue.create("c", {}) for _ in range(MAX_FLOW)]
    with pytest.raises(InvalidJob, match=f"more than {MAX_FLOW} jobs or {MAX_LINKS} dep"):
        await queue.add_flow(queue.create("p", {}, children=children))
    assert snapshot(redis_url, prefix) == {}
    parent = queue.create("p", {}, children=children[: MAX_FLOW - 1])
    await queue.add_flow(parent)  # 1,000 new jobs: one call
    assert (await queue.get_job(parent.job_id)).pending_dependencies == MAX_FLOW - 1


@pytest.mark.parametrize("mode", ["redis", "test mode"])
async def test_a_job_may_have_at_most_max_dependents(queue: Queue, mode: str) -> None:
    if mode == "test mode":
        queue.test_mode.enter()
    base = await queue.create("a", {}).save()
    for _ in range(MAX_DEPENDENTS // 500):
        await queue.add_bulk([queue.create("w", {}, depends_on=[base]) for _n in range(500)])
    late = queue.create("w", {}, depends_on=[base])
    with pytest.raises(InvalidJob, match=f"job 1 would have more than {MAX_DEPENDENTS} dep"):
        await late.save()
    assert late.id is None
    assert len(await queue.dependents(base.job_id)) == MAX_DEPENDENTS


async def test_a_refusal_after_earlier_calls_says_what_was_saved(queue: Queue) -> None:
    plain = [queue.create("a", {}) for _ in range(600)]  # two calls of plain jobs first
    bad = queue.create("b", {}, depends_on=[99_999])
    with pytest.raises(InvalidJob) as refused:
        await queue.add_bulk([*plain, bad])
    assert str(refused.value).endswith(
        "; 500 of 601 jobs were saved by the calls before the refused one (they have ids)"
    )
    assert sum(job.id is not None for job in plain) == 500
    assert bad.id is None


def script_calls(raw: redis.Redis) -> int:
    """EVALSHA calls the server has run so far (every pykue script goes that way)."""
    stats: Any = raw.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_a_flow_over_max_links_is_refused_and_calls_are_cut_by_links(
    queue: Queue, redis_url: str, raw: redis.Redis, prefix: str
) -> None:
    bases = await queue.add_bulk([queue.create("a", {}) for _ in range(MAX_DEPENDENCIES)])
    wide = [queue.create("w", {}, depends_on=bases)]
    for _ in range(MAX_LINKS // MAX_DEPENDENCIES - 1):  # a chain, 1,000 links a step
        wide.append(queue.create("w", {}, depends_on=[wide[-1], *bases[1:]]))
    flow = [*wide, queue.create("p", {}, depends_on=[wide[-1]])]
    before = snapshot(redis_url, prefix)
    with pytest.raises(InvalidJob, match=f"with {MAX_LINKS + 1} dependencies"):
        await queue.add_bulk(flow)
    assert all(job.id is None for job in flow)
    assert snapshot(redis_url, prefix) == before
    # jobs not linked to each other go in calls of MAX_LINKS links at most
    apart = [queue.create("w", {}, depends_on=bases) for _ in range(41)]
    calls = script_calls(raw)
    await queue.add_bulk(apart)
    assert script_calls(raw) - calls == 3  # 41,000 links: 20 + 20 + 1 jobs
    assert [len(await queue.dependents(b.job_id)) for b in bases[:2]] == [41, 41]
