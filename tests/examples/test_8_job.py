"""Task 11: create_push_notifications_jobs tested with pykue's test mode (Kue's testMode).

The queue enters test mode before the tests (jobs are captured, not processed, and
nothing is written to Redis), is cleared after each test and leaves test mode after
all of them, as the seed asks.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pykue import InvalidJob, Queue
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "examples"))
job_module = importlib.import_module("8_job")
create_push_notifications_jobs = job_module.create_push_notifications_jobs

JOBS = [
    {"phoneNumber": "4153518780", "message": "This is the code 1234 to verify your account"},
    {"phoneNumber": "4153518781", "message": "This is the code 4562 to verify your account"},
]


@pytest.fixture(scope="module")
def queue() -> Iterator[Queue]:
    # An address nothing answers at: any Redis write would fail the test loudly.
    q = Queue(url="redis://127.0.0.1:1", prefix="test-8-job")
    q.test_mode.enter()
    try:
        yield q
    finally:
        q.test_mode.exit()


@pytest.fixture(autouse=True)
def cleared(queue: Queue) -> Iterator[None]:
    yield
    queue.test_mode.clear()


@pytest.mark.parametrize("jobs", [None, "jobs", 42, {"phoneNumber": "1"}, ("a", "b")])
async def test_display_an_error_if_jobs_is_not_an_array(queue: Queue, jobs: Any) -> None:
    with pytest.raises(TypeError, match=r"^Jobs is not an array$"):
        await create_push_notifications_jobs(jobs, queue)
    assert queue.test_mode.jobs == []


async def test_create_two_new_jobs_in_the_queue(
    queue: Queue, capsys: pytest.CaptureFixture[str]
) -> None:
    created = await create_push_notifications_jobs(JOBS, queue)
    jobs = queue.test_mode.jobs
    assert [job.type for job in jobs] == ["push_notification_code_3"] * 2
    assert [job.data for job in jobs] == JOBS
    assert created == jobs
    assert capsys.readouterr().out.splitlines() == [
        f"Notification job created: {jobs[0].id}",
        f"Notification job created: {jobs[1].id}",
    ]
    assert jobs[1].id == jobs[0].id + 1


async def test_an_empty_list_creates_nothing(queue: Queue) -> None:
    assert await create_push_notifications_jobs([], queue) == []
    assert queue.test_mode.jobs == []


async def test_clear_empties_the_captured_jobs(queue: Queue) -> None:
    await create_push_notifications_jobs(JOBS[:1], queue)
    assert len(queue.test_mode.jobs) == 1
    queue.test_mode.clear()
    assert queue.test_mode.jobs == []


async def test_a_bad_item_creates_no_job_at_all(queue: Queue) -> None:
    with pytest.raises(InvalidJob):
        await create_push_notifications_jobs([JOBS[0], ["not", "an", "object"]], queue)
    assert queue.test_mode.jobs == []


async def test_jobs_are_not_processed_in_plain_test_mode(queue: Queue) -> None:
    processed: list[Any] = []
    queue.process("push_notification_code_3", processed.append)
    try:
        await create_push_notifications_jobs(JOBS, queue)
    finally:
        queue.handlers.clear()
    assert processed == []
    assert {str(job.state) for job in queue.test_mode.jobs} == {"inactive"}


async def test_with_processing_the_events_are_logged(capsys: pytest.CaptureFixture[str]) -> None:
    q = Queue(url="redis://127.0.0.1:1", prefix="test-8-job-run")
    q.test_mode.enter(process=True)
    try:

        @q.process("push_notification_code_3")
        async def send(job: Any) -> None:
            await job.progress(50, 100)
            if job.data["phoneNumber"] == "4153518781":
                raise ValueError("Phone number 4153518781 is blacklisted")

        first, second = await create_push_notifications_jobs(JOBS, q)
        assert capsys.readouterr().out.splitlines() == [
            f"Notification job {first.id} 50% complete",
            f"Notification job {first.id} completed",
            f"Notification job created: {first.id}",
            f"Notification job {second.id} 50% complete",
            f"Notification job {second.id} failed: Phone number 4153518781 is blacklisted",
            f"Notification job created: {second.id}",
        ]
    finally:
        q.test_mode.exit()
