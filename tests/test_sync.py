"""pykue.sync: the producer/admin API from plain threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pykue import ConnectionFailed, InvalidArgument, InvalidState, JobFailed, JobNotFound, Queue
from pykue.sync import Queue as SyncQueue
from tests.helpers import assert_invariants, delete_prefix
from tests.test_producer import MARGIN, silent_redis


@pytest.fixture
def sync_queue(redis_url: str, prefix: str, raw: redis.Redis) -> Iterator[SyncQueue]:
    q = SyncQueue(redis_url, prefix=prefix)
    try:
        yield q
    finally:
        q.close()
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def test_sync_producer_and_admin_from_many_threads(sync_queue: SyncQueue) -> None:
    ids: list[int] = []
    lock = threading.Lock()

    def produce(n: int) -> None:
        for i in range(10):
            job = sync_queue.create("email", {"n": n, "i": i}).save()
            with lock:
                ids.append(job.id)

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ids) == list(range(1, 41))
    assert sync_queue.counts()["inactive"] == 40
    assert sync_queue.counts("email")["inactive"] == 40
    assert sync_queue.types() == ["email"]
    listed = sync_queue.jobs("inactive", start=0, stop=4)
    assert [j.id for j in listed] == [1, 2, 3, 4, 5]
    assert sync_queue.get_job(3).data["i"] in range(10)
    sync_queue.remove(3)
    with pytest.raises(JobNotFound):
        sync_queue.get_job(3)
    assert sync_queue.pause("email") is True
    assert sync_queue.resume("email") is True


def test_sync_wait_for_jobs_processed_by_an_async_worker(
    sync_queue: SyncQueue, redis_url: str, prefix: str
) -> None:
    worker = Queue(url=redis_url, prefix=prefix)

    @worker.process("calc", concurrency=2)
    async def handler(job: Any) -> int:
        if job.data["x"] < 0:
            raise ValueError("negative")
        return int(job.data["x"]) * 10

    stop = threading.Event()

    def run_worker() -> None:
        async def main() -> None:
            task = asyncio.create_task(worker.run(handle_signals=False))
            await asyncio.to_thread(stop.wait)
            await worker.shutdown()
            await task
            await worker.close()

        asyncio.run(main())

    thread = threading.Thread(target=run_worker)
    thread.start()
    try:
        progress: list[int] = []
        job = sync_queue.create("calc", {"x": 4})
        job.on("complete", lambda result: progress.append(result))
        job.save()
        assert job.wait(timeout=10) == 40
        bad = sync_queue.create("calc", {"x": -1}).save()
        with pytest.raises(JobFailed, match="negative"):
            bad.wait(timeout=10)
        assert sync_queue.get_job(bad.id).refresh().state.value == "failed"
        assert sync_queue.get_errors(bad.id)[0]["error"] == "negative"
        sync_queue.retry(bad.id)
        with pytest.raises(JobFailed):
            sync_queue.get_job(bad.id).wait(timeout=10)
    finally:
        stop.set()
        thread.join(20)
    assert progress == [40]


def test_sync_save_gives_up_after_save_timeout() -> None:
    with pytest.raises(InvalidArgument, match="save_timeout must be"):
        SyncQueue("redis://127.0.0.1:1", save_timeout=0)
    with silent_redis() as url:
        queue = SyncQueue(url, prefix="silent", save_timeout=0.3)
        try:
            job = queue.create("email", {})
            started = time.monotonic()
            with pytest.raises(ConnectionFailed, match="saving it again is safe"):
                job.save()
            assert time.monotonic() - started < 0.3 + MARGIN
            assert job.id is None
        finally:
            queue.close()


def test_sync_flows_chains_groups_and_their_views(
    sync_queue: SyncQueue, redis_url: str, prefix: str
) -> None:
    children = [sync_queue.create("resize", {"size": s}) for s in (64, 256)]
    upload = sync_queue.add_flow(sync_queue.create("upload", {}, children=children))
    assert [job.state for job in (*children, upload)] == ["inactive", "inactive", "waiting"]
    steps = sync_queue.chain([sync_queue.create("step", {"n": n}) for n in range(3)])
    parts = [sync_queue.create("part", {}), sync_queue.create("part", {})]
    summary = sync_queue.create("sum", {}, on_dependency_failure="ignore")
    assert sync_queue.group(parts, then=summary) == [*parts, summary]
    assert sync_queue.dependents(children[0].id) == [upload.id]
    tree = sync_queue.tree(upload.id)
    assert [(n["id"], n["state"]) for n in tree["depends_on"]] == [(1, "inactive"), (2, "inactive")]
    with pytest.raises(InvalidArgument, match="chain takes a job from this queue's create"):
        sync_queue.chain([steps[0], "not a job"])  # type: ignore[list-item]
    with pytest.raises(InvalidState, match="waited for by jobs 3"):
        sync_queue.remove(children[0].id)
    children[0].remove(force=True)
    assert sync_queue.get_job(upload.id).error == "dependency 1 removed"

    async def finish(job: Any) -> Any:
        return job.data.get("n", 0) + (job.parent_result or 0)

    worker_queue = Queue(url=redis_url, prefix=prefix)
    for job_type in ("step", "part", "sum", "resize"):
        worker_queue.process(job_type, finish)

    async def work() -> None:
        task = asyncio.create_task(worker_queue.run(handle_signals=False))
        try:
            await (await worker_queue.get_job(summary.id)).wait(20)
            await (await worker_queue.get_job(steps[-1].id)).wait(20)
        finally:
            await worker_queue.shutdown()
            await task
            await worker_queue.close()

    asyncio.run(work())
    assert steps[-1].wait(5) == 3  # 0, then 0 + 1, then 1 + 2
    assert summary.dependency_results() == {parts[0].id: 0, parts[1].id: 0}
