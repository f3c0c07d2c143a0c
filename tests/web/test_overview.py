"""The overview over several queues: counts asked per queue and summed, each queue's
own dashboard and API under q/PREFIX/, an unreachable queue shown beside the rest."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import redis

from pykue import InvalidJob, JobFailed, Queue
from pykue.web import create_overview_app
from tests.helpers import assert_invariants, delete_prefix, free_port
from tests.test_worker import running

TOKEN = "s3cret"


@pytest.fixture
async def queues(redis_url: str, prefix: str, raw: redis.Redis) -> AsyncIterator[list[Queue]]:
    made = [Queue(url=redis_url, prefix=f"{prefix}.{name}", lease=2.0) for name in "abc"]
    try:
        yield made
    finally:
        for queue in made:
            await queue.shutdown(timeout=5)
            await queue.close()
            assert_invariants(raw, queue.keys.prefix)
            delete_prefix(raw, queue.keys.prefix)


@contextlib.asynccontextmanager
async def client(app: Any) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as api:
        yield api


async def fill(queues: list[Queue]) -> None:
    """Queue a: 2 complete + 1 failed; b: 1 delayed + 1 inactive, type paused; c: empty."""
    a, b, _ = queues

    @a.process("work")
    async def handler(job: Any) -> str:
        if job.data.get("fail"):
            raise ValueError("no")
        return "done"

    jobs = [await a.create("work", {"fail": n == 2}).save() for n in range(3)]
    async with running(a):
        for job in jobs:
            with contextlib.suppress(JobFailed):
                await job.wait(10)
    await b.create("later", {}, delay=600).save()
    await b.create("later", {}).save()
    await b.pause("later")


async def test_counts_are_asked_per_queue_and_summed(queues: list[Queue]) -> None:
    await fill(queues)
    async with client(create_overview_app(queues)) as api:
        listed = (await api.get("/queues")).json()
        kue = (await api.get("/stats")).json()
        config = (await api.get("/config")).json()
    a, b, c = (entry for entry in listed["queues"])
    assert [entry["prefix"] for entry in listed["queues"]] == [q.keys.prefix for q in queues]
    assert a["counts"] == {
        "inactive": 0, "active": 0, "complete": 2, "failed": 1, "delayed": 0, "waiting": 0,
    }  # fmt: skip
    assert (b["counts"]["inactive"], b["counts"]["delayed"], b["paused"]) == (1, 1, ["later"])
    assert (a["types"], b["types"], c["types"], c["paused"]) == (1, 1, 0, [])
    assert sum(c["counts"].values()) == 0
    assert listed["all"] == {
        "inactive": 1, "active": 0, "complete": 2, "failed": 1, "delayed": 1,
        "waiting": 0, "workTime": a["workTime"],
    }  # fmt: skip
    assert a["workTime"] >= 0
    assert listed["unreachable"] == 0
    assert kue == {
        "inactiveCount": 1, "activeCount": 0, "completeCount": 2, "failedCount": 1,
        "delayedCount": 1, "waitingCount": 0, "workTime": a["workTime"],
    }  # fmt: skip
    assert config == {"tokenRequired": False, "prefixes": [q.keys.prefix for q in queues]}


async def test_each_queue_has_its_own_dashboard_and_api(queues: list[Queue]) -> None:
    await fill(queues)
    a, b, _ = (q.keys.prefix for q in queues)
    async with client(create_overview_app(queues, token=TOKEN)) as api:
        assert (await api.get(f"/q/{a}/stats")).json()["failedCount"] == 1
        assert (await api.get(f"/q/{b}/stats")).json()["delayedCount"] == 1
        failed = (await api.get(f"/q/{a}/jobs/failed/0..10/asc")).json()
        assert [job["error"] for job in failed] == ["no"]
        config = (await api.get(f"/q/{a}/config")).json()
        assert config == {"tokenRequired": True, "prefix": a, "overview": "../../"}
        page = await api.get(f"/q/{a}/")
        assert page.status_code == 200
        assert 'id="overview-link"' in page.text
        overview = await api.get("/")
        assert overview.status_code == 200
        assert "static/overview.js" in overview.text
        assert (await api.get("/static/overview.js")).status_code == 200
        # the token guards every queue's writes; the retry then goes to queue a only
        refused = await api.post(f"/q/{a}/job/{failed[0]['id']}/retry")
        assert refused.status_code == 401
        assert "token" in refused.json()["error"]
        retried = await api.post(
            f"/q/{a}/job/{failed[0]['id']}/retry", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert retried.json() == {"message": f"job {failed[0]['id']} retried"}
        missing = await api.get("/q/not-a-queue-here/stats")
        assert missing.status_code == 404
        assert "error" in missing.json()
    assert (await queues[0].counts())["inactive"] == 1
    assert (await queues[1].counts())["inactive"] == 1  # untouched by a's retry


async def test_an_unreachable_queue_shows_its_error_beside_the_others(
    queues: list[Queue], redis_url: str
) -> None:
    await fill(queues)
    nowhere = f"redis://127.0.0.1:{free_port()}"  # nothing listens there
    lost = Queue(url=nowhere, prefix="elsewhere")
    try:
        async with client(create_overview_app([*queues, lost])) as api:
            listed = (await api.get("/queues")).json()
            assert listed["unreachable"] == 1
            assert listed["queues"][-1]["prefix"] == "elsewhere"
            assert "Redis cannot be reached" in listed["queues"][-1]["error"]
            assert listed["all"]["complete"] == 2  # the reachable queues still add up
        async with client(create_overview_app([lost])) as api:
            alone = await api.get("/stats")
            assert alone.status_code == 503
            assert "cannot be reached" in alone.json()["error"]
    finally:
        await lost.close()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ([], "1 to 1024 queues"),
        ("abc", "a list of Queues"),
        ([object()], "a list of Queues"),
        ("twice", "own prefix; given twice"),
    ],
)
async def test_bad_queue_lists_are_refused(redis_url: str, given: Any, message: str) -> None:
    if given == "twice":
        given = [Queue(url=redis_url, prefix="same"), Queue(url=redis_url, prefix="same")]
    with pytest.raises(InvalidJob, match=message):
        create_overview_app(given)
