"""The seams of issue 14: queue.admin owns queries and admin calls, Queue and pykue.sync
offer the same ones, errors come from pykue's one tree, and Worker is public."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import redis

import pykue
from pykue import (
    Admin,
    ConnectionFailed,
    InvalidArgument,
    InvalidJob,
    Job,
    JobNotFound,
    NotConnected,
    Queue,
    TypeStats,
    UsageError,
    Worker,
)
from pykue.admin import CALLS
from pykue.sync import Queue as SyncQueue
from tests.helpers import free_port

# Only an asyncio program can process jobs or be told to stop; the sync facade runs a
# coroutine of its own (run) and closes its loop thread (__enter__/__exit__).
ASYNC_ONLY = {"process", "run", "shutdown"}
SYNC_ONLY = {"run"}


def public(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if callable(value) and name[0] != "_"}


def test_queue_and_sync_queue_offer_every_admin_call() -> None:
    assert {"counts", "jobs", "retry", "set_state", "set_priority", "search"} <= set(CALLS)
    for cls in (Queue, SyncQueue):
        missing = [name for name in CALLS if not hasattr(cls, name)]
        assert not missing, f"{cls.__module__}.Queue lacks {missing}"
        for name in CALLS:
            theirs = inspect.signature(getattr(cls, name)).parameters
            ours = inspect.signature(getattr(Admin, name)).parameters
            assert list(theirs)[1:] == list(ours)[1:], f"{cls.__module__}.Queue.{name}"


def test_sync_queue_has_the_async_queues_public_methods() -> None:
    assert public(Queue) - ASYNC_ONLY == public(SyncQueue) - SYNC_ONLY


async def test_type_stats_match_the_per_type_calls(queue: Queue) -> None:
    await queue.add_bulk([queue.create(t, {}) for t in ("a", "b", "b", "c")])
    await queue.add_bulk([queue.create("a", {}, delay=60)])
    await queue.pause("b")
    found = await queue.type_stats()
    assert [each.name for each in found] == ["a", "b", "c"] == await queue.types()
    for each in found:
        assert isinstance(each, TypeStats)
        assert each.counts == await queue.counts(each.name)
        assert each.paused == await queue.is_paused(each.name)
    assert found[0].counts["delayed"] == 1
    assert found[1].counts["inactive"] == 2


async def test_every_state_pages_by_id_from_redis(queue: Queue) -> None:
    jobs = await queue.add_bulk(
        [queue.create("x" if n % 2 else "y", {"n": n}, delay=60 * (n % 3 == 0)) for n in range(12)]
    )
    ids = [job.job_id for job in jobs]
    assert [j.id for j in await queue.jobs(start=2, stop=5)] == ids[2:6]
    assert [j.id for j in await queue.jobs(start=0, stop=3, order="desc")] == ids[::-1][:4]
    xs = [job.job_id for job in jobs if job.type == "x"]
    assert [j.id for j in await queue.jobs(type="x", start=1, stop=100)] == xs[1:]
    await queue.remove(ids[3])
    assert [j.id for j in await queue.jobs(start=2, stop=4)] == [ids[2], ids[4], ids[5]]


@pytest.mark.parametrize("bad", [0, -1, "1", 1.0, True, None, 2**53])
async def test_a_badly_typed_id_is_an_invalid_argument(queue: Queue, bad: object) -> None:
    for call in (queue.get_job, queue.remove, queue.retry, queue.get_log, queue.get_errors):
        with pytest.raises(InvalidArgument, match="job id must be a positive int"):
            await call(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        await queue.set_priority(bad, 1)  # type: ignore[arg-type]


async def test_argument_errors_share_one_base(queue: Queue) -> None:
    assert issubclass(InvalidJob, InvalidArgument)
    assert issubclass(InvalidArgument, ValueError)
    with pytest.raises(InvalidArgument, match="order"):
        await queue.jobs(order="sideways")
    with pytest.raises(InvalidArgument, match="concurrency"):
        queue.process("t", lambda job: None, concurrency=0)
    with pytest.raises(InvalidArgument, match="only a worker"):
        await queue.set_state(1, "active")
    with pytest.raises(InvalidArgument, match="lease"):
        Queue(lease=0)


async def test_an_unreachable_redis_is_connection_failed_not_a_redis_error(prefix: str) -> None:
    queue = Queue(f"redis://127.0.0.1:{free_port()}", prefix=prefix, lease=0.5)
    try:
        for call in (queue.counts, queue.types, queue.type_stats):
            with pytest.raises(ConnectionFailed, match="cannot be reached") as caught:
                await call()
            assert not isinstance(caught.value, redis.RedisError)
    finally:
        await queue.close()


async def test_usage_errors_are_runtime_errors(queue: Queue) -> None:
    assert issubclass(NotConnected, UsageError)
    assert issubclass(UsageError, RuntimeError)
    job = await queue.create("t", {}).save()
    # the same job as seen by a queue that never connected: on() needs the connection
    elsewhere = Queue(queue.settings.url, prefix=queue.keys.prefix)
    seen = Job.from_hash(elsewhere, job.job_id, {b"type": b"t", b"state": b"inactive"})
    with pytest.raises(NotConnected):
        seen.on("complete", lambda result: None)
    queue.process("t", lambda job: None)
    running = asyncio.create_task(queue.run(handle_signals=False))
    try:
        await asyncio.sleep(0)  # let run() take the queue before asking again
        with pytest.raises(UsageError, match="already running"):
            await queue.run(handle_signals=False)
    finally:
        await queue.shutdown(timeout=5)
        await running


async def test_worker_is_public_and_owns_process_run_shutdown(queue: Queue) -> None:
    assert pykue.Worker is Worker
    done = asyncio.Event()

    async def handle(job: Job) -> str:
        done.set()
        return "ok"

    worker = Worker(queue)
    worker.process("w", handle, concurrency=2)
    job = await queue.create("w", {}).save()
    running = asyncio.create_task(worker.run(handle_signals=False))
    await done.wait()
    assert await job.wait(timeout=10) == "ok"
    await worker.shutdown(timeout=5)
    await running
    with pytest.raises(UsageError, match="runs once"):
        await worker.run(handle_signals=False)


async def test_admin_is_reachable_as_queue_admin(queue: Queue) -> None:
    job = await queue.create("t", {"find": "needle"}).save()
    assert await queue.admin.search("needle") == [job.id] == await queue.search("NEEDLE")
    with pytest.raises(JobNotFound):
        await queue.admin.get_job(job.job_id + 1)
