"""The guard in front of the dashboard, the overview and both example apps: the Host
allow-list, cross-site and non-JSON writes refused, the body cap, the token (reads too
with token_reads), OPTIONS and HEAD, and JSON answers for everything unexpected."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import redis

from pykue import InvalidJob, Queue
from pykue.web import create_app, create_overview_app
from tests.helpers import ROOT, RedisServer, free_port
from tests.web.serving import served

sys.path.insert(0, str(ROOT / "examples"))
stock = importlib.import_module("9_stock")
seat = importlib.import_module("100_seat")

TOKEN = "s3cret"
CAP = 4 << 20  # 4 x the default max_payload


@contextlib.asynccontextmanager
async def client(app: Any, base: str = "http://localhost") -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=base) as api:
        yield api


@pytest.fixture
def nowhere() -> Queue:
    """A queue whose Redis is gone: any request that reached Redis would answer 503."""
    return Queue(url=f"redis://127.0.0.1:{free_port()}", prefix="nowhere")


def apps(queue: Queue) -> dict[str, Any]:
    return {
        "dashboard": create_app(queue),
        "overview": create_overview_app([queue]),
        "stock": stock.app,
        "seat": seat.app,
    }


@pytest.mark.parametrize("name", ["dashboard", "overview", "stock", "seat"])
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3000", "localhost.evil.example", "127.0.0.1.nip.io"]
)
async def test_a_foreign_host_is_refused_before_redis(nowhere: Queue, name: str, host: str) -> None:
    app = apps(nowhere)[name]
    path = {"dashboard": "/stats", "overview": "/queues", "stock": "/list_products/1"}.get(
        name, "/available_seats"
    )
    async with client(app) as api:
        for method in ("GET", "POST", "DELETE"):
            refused = await api.request(method, path, headers={"Host": host})
            assert refused.status_code == 421, refused.text
            assert refused.headers["content-type"] == "application/json"
            key = "status" if name in ("stock", "seat") else "error"
            assert "host" in refused.json()[key]
            assert "location" not in refused.headers
        if name == "stock":  # needs no Redis: the same request from a loopback name works
            assert (await api.get("/list_products")).status_code == 200


async def test_the_trailing_slash_redirect_never_names_a_foreign_host(nowhere: Queue) -> None:
    async with client(create_overview_app([nowhere])) as api:
        foreign = await api.get("/q/nowhere", headers={"Host": "evil.example"})
        assert foreign.status_code == 421
        assert "location" not in foreign.headers
        mine = await api.get("/q/nowhere")
        assert mine.status_code == 307
        assert mine.headers["location"] == "http://localhost/q/nowhere/"


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:3000", "app.localhost", "127.0.0.1", "127.8.9.10:80"]
)
async def test_loopback_names_and_ip_addresses_are_allowed(nowhere: Queue, host: str) -> None:
    async with client(create_app(nowhere)) as api:
        assert (await api.get("/config", headers={"Host": host})).status_code == 200
    for literal in ("[::1]:3000", "192.168.1.20:3000"):
        async with client(create_app(nowhere)) as api:
            assert (await api.get("/config", headers={"Host": literal})).status_code == 200


async def test_allowed_hosts_adds_names(nowhere: Queue) -> None:
    for allowed in (["jobs.example.com"], "jobs.example.com", ["JOBS.example.com."], ["*"]):
        app = create_overview_app([nowhere], allowed_hosts=allowed)
        async with client(app) as api:
            for path in ("/config", "/q/nowhere/config"):
                answer = await api.get(path, headers={"Host": "jobs.example.com:443"})
                assert answer.status_code == 200, (allowed, path)
            other = await api.get("/config", headers={"Host": "other.example.com"})
            assert other.status_code == (200 if allowed == ["*"] else 421)


async def test_same_origin_writes_pass_and_cross_site_ones_do_not(
    queue: Queue, raw: redis.Redis
) -> None:
    await queue.connect()
    async with client(create_app(queue)) as api:
        job = {"type": "email", "data": {}}
        for headers in (
            {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
            {"Origin": "http://localhost"},
            {"Sec-Fetch-Site": "none"},
            {},  # not a browser: curl, a script
        ):
            assert (await api.post("/job", json=job, headers=headers)).status_code == 201
        for headers in (
            {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
            {"Origin": "http://evil.example"},
            {"Origin": "https://localhost"},
        ):
            refused = await api.post("/job", json=job, headers=headers)
            assert refused.status_code == 403, headers
        refused = await api.post(
            "/job", content=json.dumps(job), headers={"Content-Type": "text/plain"}
        )
        assert refused.status_code == 415
    assert raw.zcard(queue.keys.state("inactive")) == 4


async def test_a_body_over_the_cap_is_refused_without_reading_it(nowhere: Queue) -> None:
    """Sent in 64 KiB chunks with no Content-Length: the guard stops at the cap."""
    chunk = b"x" * 65536
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < 100 << 20}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"localhost"), (b"content-type", b"application/json")]
    headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/job",
        "raw_path": b"/job",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("localhost", 80),
        "client": ("127.0.0.1", 5000),
    }
    await create_app(nowhere)(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"error": f"the body is over the limit of {CAP} bytes"}
    assert pulled <= CAP + len(chunk), f"{pulled} bytes read for a cap of {CAP}"


async def test_a_100_mb_chunked_body_to_a_real_server_is_cut_off(queue: Queue) -> None:
    """What the audit sent: the server answers 413 and closes long before 100 MB."""
    await queue.connect()
    async with served(create_app(queue)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /job HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
        sent = 0
        answer = asyncio.ensure_future(reader.read(65536))
        with contextlib.suppress(ConnectionError):
            while sent < 100 << 20 and not answer.done():
                writer.write(chunk)
                await writer.drain()
                sent += 65536
        head = await asyncio.wait_for(answer, 10)
        writer.close()
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"over the limit" in head
    assert sent < 50 << 20, f"the client could send {sent} bytes"


async def test_the_example_apps_cap_bodies_too() -> None:
    async with client(stock.app) as api:
        refused = await api.request("GET", "/list_products", content=b"x" * 20_000)
        assert (refused.status_code, refused.json()) == (
            413,
            {"status": "the body is over the limit of 16384 bytes"},
        )
        cross = await api.get("/reserve_product/1", headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403  # its GET routes change things


async def test_the_token_compares_in_constant_time_and_any_case_of_bearer(
    queue: Queue, raw: redis.Redis
) -> None:
    await queue.connect()
    async with client(create_app(queue, token=TOKEN)) as api:
        for scheme in ("Bearer", "bearer", "BEARER"):
            headers = {"Authorization": f"{scheme} {TOKEN}"}
            created = await api.post("/job", json={"type": "x"}, headers=headers)
            assert created.status_code == 201, scheme
        for wrong in (
            f"Bearer {TOKEN}x",
            "Bearer",
            f"Basic {TOKEN}",
            TOKEN,
            "Bearer \u00e9".encode("latin-1"),
        ):
            refused = await api.post("/job", json={"type": "x"}, headers={"Authorization": wrong})
            assert refused.status_code == 401, wrong
            assert refused.headers["www-authenticate"] == "Bearer"
    assert raw.zcard(queue.keys.state("inactive")) == 3


async def test_token_reads_puts_reads_behind_the_token(queue: Queue) -> None:
    job = await queue.create("x", {"secret": 1}).save()
    good = {"Authorization": f"Bearer {TOKEN}"}
    async with client(create_app(queue, token=TOKEN, token_reads=True)) as api:
        for path in (f"/job/{job.id}", "/stats", "/jobs/0..9/asc", "/metrics", "/events"):
            refused = await api.get(path)
            assert refused.status_code == 401, path
            assert "secret" not in refused.text
        assert (await api.get(f"/job/{job.id}", headers=good)).json()["data"] == {"secret": 1}
        assert (await api.get("/metrics", headers=good)).status_code == 200
        # what the page needs before it has the token stays open
        config = (await api.get("/config")).json()
        assert (config["tokenRequired"], config["tokenReads"]) == (True, True)
        assert (await api.get("/")).status_code == 200
        assert (await api.get("/static/app.js")).status_code == 200
        # only the event stream takes it in the URL (EventSource cannot send headers)
        assert (await api.get(f"/stats?token={TOKEN}")).status_code == 401
    async with served(create_app(queue, token=TOKEN, token_reads=True)) as port:
        url = f"http://127.0.0.1:{port}/events"
        async with httpx2.AsyncClient(timeout=10) as http:
            async with http.stream("GET", url, params={"token": TOKEN}) as stream:
                assert stream.status_code == 200
            async with http.stream("GET", url, params={"token": "guess"}) as stream:
                assert stream.status_code == 401
    overview = create_overview_app([queue], token=TOKEN, token_reads=True)
    async with client(overview) as api:
        assert (await api.get("/queues")).status_code == 401
        assert (await api.get("/queues", headers=good)).status_code == 200
        assert (await api.get(f"/q/{queue.keys.prefix}/stats")).status_code == 401
        assert (await api.get("/config")).json()["tokenReads"] is True
    with pytest.raises(InvalidJob, match="needs a token"):
        create_app(queue, token_reads=True)


async def test_options_lists_every_method_and_head_answers_like_get(queue: Queue) -> None:
    job = await queue.create("x", {}).save()
    async with client(create_app(queue)) as api:
        options = await api.options(f"/job/{job.id}")
        assert options.status_code == 204
        assert options.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"
        assert (await api.options("/job")).headers["allow"] == "OPTIONS, POST"
        get, head = await api.get(f"/job/{job.id}"), await api.head(f"/job/{job.id}")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == get.headers["content-length"]
        assert (await api.head("/job/0")).status_code == 400
    async with client(create_overview_app([queue])) as api:
        mounted = await api.options(f"/q/{queue.keys.prefix}/job/{job.id}")
        assert mounted.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"
    async with served(create_app(queue)) as port, httpx2.AsyncClient(timeout=10) as http:
        head = await http.head(f"http://127.0.0.1:{port}/events")  # the stream ends at once
        assert (head.status_code, head.headers["content-type"]) == (
            200,
            "text/event-stream; charset=utf-8",
        )


async def test_anything_unexpected_answers_json(queue: Queue, raw: redis.Redis) -> None:
    await queue.connect()
    job = await queue.create("x", {}).save()
    raw.set(queue.keys.log(job.id), "not a list")  # keys overwritten by another tool
    raw.delete(queue.keys.types)
    raw.set(queue.keys.types, "not a set")
    try:
        async with client(create_app(queue)) as api:
            for path in ("/job/types", f"/job/{job.id}/log"):
                crashed = await api.get(path)
                assert crashed.status_code == 500, path
                assert crashed.headers["content-type"] == "application/json"
                assert crashed.json()["error"].startswith("internal error: ")
    finally:
        raw.delete(queue.keys.types)


async def test_a_corrupt_job_is_shown_with_its_reason(queue: Queue, raw: redis.Redis) -> None:
    sound = await queue.create("x", {"n": 1}).save()
    broken = await queue.create("x", {"n": 2}).save()
    raw.hset(queue.keys.job(broken.id), "data", "not json")
    async with client(create_app(queue)) as api:
        shown = await api.get(f"/job/{broken.id}")
        assert shown.status_code == 200
        assert (shown.json()["id"], shown.json()["corrupt"]) == (broken.id, "data is not JSON")
        listed = await api.get("/jobs/inactive/0..9/asc")
        assert listed.status_code == 200
        rows = {row["id"]: row for row in listed.json()}
        assert rows[broken.id]["corrupt"] == "data is not JSON"
        assert "corrupt" not in rows[sound.id]


async def test_a_503_says_when_to_retry(prefix: str) -> None:
    server = RedisServer.start()
    queue = Queue(url=server.url, prefix=prefix)
    try:
        await queue.connect()
        async with client(create_app(queue)) as api:
            server.kill()
            down = await api.get("/stats")
            assert (down.status_code, down.headers.get("retry-after")) == (503, "1")
    finally:
        await queue.close()
        server.stop()
