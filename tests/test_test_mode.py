"""Test mode (Kue's queue.testMode): captured in memory, Redis never touched."""

from __future__ import annotations

from typing import Any

import pytest

from pykue import InvalidJob, InvalidState, JobFailed, Queue

UNREACHABLE = "redis://127.0.0.1:1"  # nothing listens there: any Redis call would fail


@pytest.fixture
def offline() -> Queue:
    return Queue(url=UNREACHABLE, prefix="offline")


async def test_capture_without_redis(offline: Queue) -> None:
    offline.test_mode.enter()
    first = await offline.create("email", {"to": "a"}).save()
    second = await offline.create("sms", {"to": "b"}, priority="high").save()
    assert [(j.type, j.data) for j in offline.test_mode.jobs] == [
        ("email", {"to": "a"}), ("sms", {"to": "b"}),
    ]  # fmt: skip
    assert (first.id, second.id) == (1, 2)
    assert (await offline.get_job(2)).priority == -10
    assert offline._client is None  # never connected
    with pytest.raises(InvalidState, match="enter\\(process=True\\)"):
        await first.wait()
    offline.test_mode.clear()
    assert offline.test_mode.jobs == []
    offline.test_mode.exit()
    assert offline.test_mode.active is False


async def test_validation_still_applies_in_test_mode(offline: Queue) -> None:
    offline.test_mode.enter()
    with pytest.raises(InvalidJob):
        await offline.create("email", {"x": float("nan")}).save()
    assert offline.test_mode.jobs == []


async def test_process_mode_runs_handlers_and_events(offline: Queue) -> None:
    @offline.process("notify")
    async def handler(job: Any) -> str:
        await job.progress(0, 100)
        if job.data["phone"] == "bad":
            raise ValueError("blacklisted")
        await job.progress(50, 100)
        await job.log("sent")
        return "ok"

    seen: list[tuple[Any, ...]] = []
    offline.on("job complete", lambda job_id, result: seen.append(("q-complete", job_id)))
    offline.test_mode.enter(process=True)
    good = offline.create("notify", {"phone": "1"})
    good.on("progress", lambda pct, data: seen.append(("progress", pct)))
    good.on("complete", lambda result: seen.append(("complete", result)))
    await good.save()
    bad = offline.create("notify", {"phone": "bad"}, attempts=2)
    bad.on("failed attempt", lambda error, made: seen.append(("attempt", error, made)))
    bad.on("failed", lambda error: seen.append(("failed", error)))
    await bad.save()
    assert seen == [
        ("progress", 0), ("progress", 50), ("complete", "ok"), ("q-complete", 1),
        ("attempt", "blacklisted", 1), ("failed", "blacklisted"),
    ]  # fmt: skip
    assert await good.wait() == "ok"
    with pytest.raises(JobFailed, match="blacklisted"):
        await bad.wait()
    assert offline.test_mode.logs(good) == ["sent"]
    assert offline._client is None
    offline.test_mode.exit()


async def test_progress_and_log_are_checked_in_test_mode(offline: Queue) -> None:
    offline.test_mode.enter()
    job = await offline.create("email", {}).save()
    with pytest.raises(InvalidJob, match="out of range"):
        await job.progress(50, 5e-324)
    with pytest.raises(InvalidJob, match="not valid text"):
        await job.log("\udcff")
    with pytest.raises(InvalidJob, match="over the limit"):
        await job.log("x" * (offline.max_payload + 1))
    assert offline.test_mode.logs(job) == []
    assert job.percent == 0
    await job.save()  # saved already: left as it is
    assert len(offline.test_mode.jobs) == 1
