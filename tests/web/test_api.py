"""The JSON API, route by route, against a real queue on the suite's Redis."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import httpx2
import pytest
import redis
import uvicorn

from pykue import JobFailed, JobState, Queue
from pykue.keys import Keys
from pykue.web import create_app
from tests.helpers import RedisServer
from tests.test_worker import running
from tests.web.serving import TOKEN


def snapshot(raw: redis.Redis, prefix: str) -> dict[str, Any]:
    """Everything of the queue but the event stream (reads leave no trace elsewhere)."""
    keys = sorted(k for k in raw.scan_iter(match="{" + prefix + "}*") if not k.endswith("events"))
    return {key: raw.dump(key) for key in keys}


async def finish(queue: Queue, jobs: list[Any], handler: Any) -> None:
    queue.process("work", handler)
    async with running(queue):
        for job in jobs:
            with contextlib.suppress(JobFailed):
                await job.wait(10)


async def test_stats_types_and_job(api: httpx2.AsyncClient, queue: Queue) -> None:
    ok = await queue.create("work", {"n": 1}).save()
    bad = await queue.create("work", {"n": 2}).save()

    async def handler(job: Any) -> int:
        await job.log("working on %s", job.data["n"])
        if job.data["n"] == 2:
            raise ValueError("two is bad")
        return 1

    await finish(queue, [ok, bad], handler)
    stats = (await api.get("/stats")).json()
    assert {k: v for k, v in stats.items() if k != "workTime"} == {
        "inactiveCount": 0,
        "activeCount": 0,
        "completeCount": 1,
        "failedCount": 1,
        "delayedCount": 0,
        "waitingCount": 0,
    }
    assert isinstance(stats["workTime"], int)
    assert stats["workTime"] >= 0
    assert (await api.get("/job/types")).json() == ["work"]
    shown = (await api.get(f"/job/{ok.id}")).json()
    assert (shown["id"], shown["state"], shown["result"]) == (ok.id, "complete", 1)
    assert (await api.get(f"/job/{ok.id}/log")).json() == ["working on 1"]
    errors = (await api.get(f"/job/{bad.id}/errors")).json()
    assert [e["error"] for e in errors] == ["two is bad"]
    assert "ValueError" in errors[0]["traceback"]
    assert (await api.get("/jobs/work/failed/stats")).json() == {"count": 1}
    types = (await api.get("/types")).json()
    assert types == [
        {
            "type": "work",
            "paused": False,
            "counts": {
                "inactive": 0,
                "active": 0,
                "complete": 1,
                "failed": 1,
                "delayed": 0,
                "waiting": 0,
            },
            "limits": {"rate": None, "concurrency": None, "key_rate": None},
        }
    ]
    minutes = (await api.get("/throughput")).json()["minutes"]
    assert len(minutes) == 60
    assert sum(m["complete"] for m in minutes) == 1
    assert sum(m["failed"] for m in minutes) == 1


async def test_job_lists_by_range_state_type_and_order(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    ids = [(await queue.create("a" if n % 2 else "b", {"n": n}).save()).id for n in range(6)]
    everything = (await api.get("/jobs/0..9/asc")).json()
    assert [j["id"] for j in everything] == ids
    newest_two = (await api.get("/jobs/inactive/0..1/desc")).json()
    assert [j["id"] for j in newest_two] == ids[-2:][::-1]
    only_a = (await api.get("/jobs/a/inactive/0..9/asc")).json()
    assert [j["id"] for j in only_a] == ids[1::2]
    assert (await api.get("/inactive/a")).json() == ids[1::2]


async def test_create_one_and_many(api: httpx2.AsyncClient, queue: Queue) -> None:
    one = await api.post(
        "/job", json={"type": "email", "data": {"to": "x"}, "options": {"priority": "high"}}
    )
    assert one.status_code == 201
    assert one.json()["message"] == "job created"
    stored = await queue.get_job(one.json()["id"])
    assert (stored.priority, stored.data) == (-10, {"to": "x"})
    many = await api.post("/job", json=[{"type": "email"}, {"type": "sms", "data": {"n": 1}}])
    assert [r["message"] for r in many.json()] == ["job created"] * 2
    assert (await queue.counts())["inactive"] == 3
    twice = await api.post("/job", json=[{"type": "email", "options": {"unique": "u1"}}] * 2)
    first, second = twice.json()
    assert first["message"] == "job created"
    assert second == {"message": "job exists", "id": first["id"]}


async def test_state_priority_retry_remove_pause(api: httpx2.AsyncClient, queue: Queue) -> None:
    first = await queue.create("work", {}).save()
    second = await queue.create("work", {}).save()
    assert (await api.put(f"/job/{second.id}/priority/critical")).status_code == 200
    assert (await api.get("/inactive/work")).json() == [second.id, first.id]
    assert (await api.put(f"/job/{first.id}/state/failed")).json() == {
        "message": "job state updated"
    }
    assert (await queue.get_job(first.id)).state is JobState.FAILED
    assert (await api.post(f"/job/{first.id}/retry")).json() == {
        "message": f"job {first.id} retried"
    }
    assert (await queue.get_job(first.id)).state is JobState.INACTIVE
    retry_again = await api.post(f"/job/{first.id}/retry")
    assert retry_again.status_code == 409
    assert (await api.post("/types/work/pause")).json() == {"type": "work", "paused": True}
    assert await queue.is_paused("work")
    assert (await api.post("/types/work/resume")).json() == {"type": "work", "paused": False}
    assert (await api.delete(f"/job/{second.id}")).json() == {"message": f"job {second.id} removed"}
    assert (await api.get(f"/job/{second.id}")).status_code == 404


async def test_search(api: httpx2.AsyncClient, queue: Queue) -> None:
    alice = await queue.create("email", {"to": "Alice@example.com"}).save()
    await queue.create("sms", {"to": "bob"}).save()
    assert (await api.get("/job/search", params={"q": "alice"})).json() == [alice.id]
    assert (await api.get("/job/search", params={"q": str(alice.id)})).json() == [alice.id]
    assert len((await api.get("/job/search", params={"q": "to"})).json()) == 2
    assert (await api.get("/job/search", params={"q": " "})).status_code == 400


BAD = [
    ("GET", "/job/abc", None, 400),
    ("GET", "/job/0", None, 400),
    ("GET", "/job/" + "9" * 30, None, 400),
    ("GET", "/job/999999", None, 404),
    ("GET", "/job/999999/log", None, 404),
    ("GET", "/jobs/0..5000/asc", None, 400),
    ("GET", "/jobs/5..1/asc", None, 400),
    ("GET", "/jobs/x..y/asc", None, 400),
    ("GET", "/jobs/0..9/sideways", None, 400),
    ("GET", "/jobs/sleeping/0..9/asc", None, 400),
    ("GET", "/jobs/a b/inactive/0..9/asc", None, 400),
    ("GET", "/jobs/work/sleeping/stats", None, 400),
    ("GET", "/inactive/bad*name", None, 400),
    ("POST", "/job", b"not json", 400),
    ("POST", "/job", [], 400),
    ("POST", "/job", {"data": {}}, 400),
    ("POST", "/job", {"type": "x", "data": [1]}, 400),
    ("POST", "/job", {"type": "x", "options": {"priority": "urgent"}}, 400),
    ("POST", "/job", {"type": "x", "options": {"colour": "red"}}, 400),
    ("POST", "/job", {"type": "x", "extra": 1}, 400),
    ("POST", "/job", [{"type": "x"}, {"type": "bad name"}], 400),
    ("PUT", "/job/1/state/sleeping", None, 400),
    ("PUT", "/job/1/state/active", None, 400),
    ("PUT", "/job/999999/state/failed", None, 404),
    ("PUT", "/job/1/priority/urgent", None, 400),
    ("PUT", "/job/1/priority/99999999999", None, 400),
    ("DELETE", "/job/999999", None, 404),
    ("POST", "/job/999999/retry", None, 404),
    ("POST", "/job/1/retry", None, 409),
    ("POST", "/types/bad*name/pause", None, 400),
    ("GET", "/no/such/route/here/at/all", None, 404),
    ("PATCH", "/stats", None, 405),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD)
async def test_bad_input_answers_json_and_changes_nothing(
    api: httpx2.AsyncClient,
    queue: Queue,
    raw: redis.Redis,
    prefix: str,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    await queue.create("work", {"n": 1}).save()  # job 1, inactive
    before = snapshot(raw, prefix)
    if isinstance(body, bytes):
        json_type = {"Content-Type": "application/json"}
        response = await api.request(method, path, content=body, headers=json_type)
    else:
        response = await api.request(method, path, json=body)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)
    assert response.json()["error"]
    assert snapshot(raw, prefix) == before


async def test_write_routes_need_the_token(
    guarded: httpx2.AsyncClient, queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    await queue.connect()
    assert (await guarded.get("/config")).json() == {
        "tokenRequired": True,
        "prefix": prefix,
        "overview": None,
    }
    refused = await guarded.post("/job", json={"type": "x"})
    assert refused.status_code == 401
    assert "token" in refused.json()["error"]
    wrong = await guarded.post("/job", json={"type": "x"}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    assert raw.zcard(Keys(prefix).state("inactive")) == 0
    allowed = await guarded.post(
        "/job", json={"type": "x"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.status_code == 201
    assert (await guarded.get("/stats")).status_code == 200  # reading needs no token


async def test_metrics(api: httpx2.AsyncClient, queue: Queue) -> None:
    job = await queue.create("work", {}).save()

    async def handler(job: Any) -> None:
        return None

    await finish(queue, [job], handler)
    text = (await api.get("/metrics")).text
    lines = text.splitlines()
    assert f'pykue_jobs{{queue="{queue.keys.prefix}",state="complete"}} 1' in lines
    assert f'pykue_jobs_completed_total{{queue="{queue.keys.prefix}"}} 1' in lines
    assert f'pykue_job_duration_seconds_count{{queue="{queue.keys.prefix}"}} 1' in lines
    assert f'pykue_queue_wait_seconds_bucket{{queue="{queue.keys.prefix}",le="+Inf"}} 1' in lines
    assert "# TYPE pykue_job_duration_seconds histogram" in lines


async def test_openapi_and_dashboard_page(api: httpx2.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    assert "/stats" in schema["paths"]
    assert "/jobs/{job_type}/{state}/{span_text}/{order}" in schema["paths"]
    page = await api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_redis_down_is_a_503() -> None:
    server = RedisServer.start()
    q = Queue(url=server.url, prefix="down")
    await q.connect()
    transport = httpx2.ASGITransport(app=create_app(q))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as client:
            assert (await client.get("/stats")).status_code == 200
            server.kill()
            down = await client.get("/stats")
            assert down.status_code == 503
            assert "Redis" in down.json()["error"]
            server.restart()
            assert (await client.get("/stats")).status_code == 200
    finally:
        await q.close()
        server.stop()


async def test_events_stream_a_jobs_progress_and_completion(queue: Queue) -> None:
    await queue.connect()
    # a socket listening before the server starts: connections wait in its backlog
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(queue), log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    gate = asyncio.Event()

    @queue.process("live")
    async def handler(job: Any) -> str:
        await gate.wait()
        await job.progress(50, 100, {"step": "half"})
        return "done"

    try:
        seen: list[dict[str, Any]] = []
        url = f"http://127.0.0.1:{port}/events"
        async with (
            httpx2.AsyncClient(timeout=30) as client,
            client.stream("GET", url) as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            job = await queue.create("live", {}).save()
            async with running(queue):
                gate.set()
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        if event["id"] == job.id:
                            seen.append(event)
                        if event["event"] == "complete":
                            break
        names = [e["event"] for e in seen]
        assert names == ["enqueue", "start", "progress", "complete"]
        assert (seen[2]["progress"], seen[2]["data"]) == (50, {"step": "half"})
        assert seen[3]["result"] == "done"
    finally:
        server.should_exit = True
        await serving


async def test_events_resume_after_the_last_event_id(queue: Queue, raw: redis.Redis) -> None:
    await queue.connect()
    first = await queue.create("resumed", {}).save()
    second = await queue.create("resumed", {}).save()
    first_event = raw.xrange(queue.keys.events, count=1)[0][0]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(queue), log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        headers = {"Last-Event-ID": first_event}
        async with (
            httpx2.AsyncClient(timeout=30) as client,
            client.stream("GET", f"http://127.0.0.1:{port}/events", headers=headers) as stream,
        ):
            async for line in stream.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    break
        # the event after the one the browser saw last: the second job's enqueue
        assert (event["event"], event["id"]) == ("enqueue", second.id)
        assert first.id != second.id
    finally:
        server.should_exit = True
        await serving


async def test_events_skip_an_entry_pykue_never_wrote(queue: Queue, raw: redis.Redis) -> None:
    """``XADD {p}:events * event enqueue id x type t`` by hand: the stream goes on past it,
    and the browser's Last-Event-ID moves past it too (no replay on reconnect)."""
    await queue.connect()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(queue), log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with (
            httpx2.AsyncClient(timeout=30) as client,
            client.stream("GET", f"http://127.0.0.1:{port}/events") as stream,
        ):
            lines = stream.aiter_lines()
            assert await anext(lines) == "retry: 2000"
            bad = raw.xadd(queue.keys.events, {"event": "enqueue", "id": "x", "type": "t"})
            worse = raw.xadd(queue.keys.events, {"event": "complete", "id": "1", "result": "{"})
            job = await queue.create("after", {}).save()
            seen: list[str] = []
            async for line in lines:
                if line:
                    seen.append(line)
                if line.startswith("data: ") and json.loads(line[6:])["id"] == job.id:
                    break
        # an id alone: no event for the page, but its Last-Event-ID moves on
        assert seen[:2] == [f"id: {bad}", f"id: {worse}"]
        assert seen[2].startswith("id: ")
        assert json.loads(seen[3][6:])["event"] == "enqueue"
        assert len(seen) == 4
    finally:
        server.should_exit = True
        await serving
