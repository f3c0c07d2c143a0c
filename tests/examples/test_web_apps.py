"""Tasks 12-13: the stock and seat web apps, route by route and under concurrent load.

Route tests drive the app in process (FastAPI's TestClient runs its start-up);
load tests start the real server (uvicorn, two processes) as a user would.
"""

from __future__ import annotations

import asyncio
import collections
import importlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import pytest
import redis
from fastapi.testclient import TestClient

from pykue import Queue
from tests.helpers import ROOT, RedisServer, assert_invariants, delete_prefix, free_port

sys.path.insert(0, str(ROOT / "examples"))
stock = importlib.import_module("9_stock")
seat = importlib.import_module("100_seat")

LOCAL = "http://localhost"  # the guard answers only for loopback names and IPs
ITEM_KEYS = [f"item.{n}" for n in range(1, 5)]
SEAT_KEYS = ["available_seats", "reservation_enabled"]
PRODUCTS = [
    {"itemId": 1, "itemName": "Suitcase 250", "price": 50, "initialAvailableQuantity": 4},
    {"itemId": 2, "itemName": "Suitcase 450", "price": 100, "initialAvailableQuantity": 10},
    {"itemId": 3, "itemName": "Suitcase 650", "price": 350, "initialAvailableQuantity": 2},
    {"itemId": 4, "itemName": "Suitcase 1050", "price": 550, "initialAvailableQuantity": 5},
]
BAD_REQUESTS = [
    ("GET", "/list_products/abc", 400),
    ("GET", "/list_products/-1", 400),
    ("GET", "/list_products/1.5", 400),
    ("GET", "/list_products/" + "9" * 40, 400),
    ("GET", "/list_products/%20", 400),
    ("GET", "/reserve_product/abc", 400),
    ("GET", "/reserve_product/" + "9" * 40, 400),
    ("GET", "/reserve_product/0", 404),
    ("GET", "/reserve_product/12", 404),
    ("POST", "/reserve_product/1", 405),
    ("DELETE", "/list_products", 405),
    ("GET", "/no_such_route", 404),
    ("POST", "/reserve_seat", 405),
    ("GET", "/reserve_seat/1", 404),
    ("PUT", "/process", 405),
]


@pytest.fixture
def app_env(
    redis_url: str, prefix: str, raw: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The apps' settings point at the suite's Redis; their fixed keys are removed after."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PYKUE_PREFIX", prefix)
    raw.delete(*ITEM_KEYS, *SEAT_KEYS)
    try:
        yield prefix
    finally:
        raw.delete(*ITEM_KEYS, *SEAT_KEYS)
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


@pytest.fixture
def stock_client(app_env: str) -> Iterator[TestClient]:
    with TestClient(stock.app, base_url=LOCAL) as client:
        yield client


@pytest.fixture
def seat_client(app_env: str, redis_url: str) -> Iterator[TestClient]:
    seat.open_reservations(redis_url)
    with TestClient(seat.app, base_url=LOCAL) as client:
        yield client


def test_list_products(stock_client: TestClient) -> None:
    response = stock_client.get("/list_products")
    assert response.status_code == 200
    assert response.json() == PRODUCTS


def test_product_with_its_current_quantity(stock_client: TestClient) -> None:
    assert stock_client.get("/list_products/1").json() == {**PRODUCTS[0], "currentQuantity": 4}
    missing = stock_client.get("/list_products/12")
    assert (missing.status_code, missing.json()) == (404, {"status": "Product not found"})


def test_reserve_until_the_stock_is_gone(stock_client: TestClient, raw: redis.Redis) -> None:
    for _ in range(4):
        assert stock_client.get("/reserve_product/1").json() == {
            "status": "Reservation confirmed",
            "itemId": 1,
        }
    refused = stock_client.get("/reserve_product/1")
    assert refused.status_code == 409
    assert refused.json() == {"status": "Not enough stock available", "itemId": 1}
    assert stock_client.get("/list_products/1").json()["currentQuantity"] == 0
    assert raw.get("item.1") == "0"
    assert stock_client.get("/list_products/2").json()["currentQuantity"] == 10
    gone = stock_client.get("/reserve_product/12")
    assert (gone.status_code, gone.json()) == (404, {"status": "Product not found"})


def test_seats_reserved_through_the_queue(seat_client: TestClient) -> None:
    assert seat_client.get("/available_seats").json() == {"numberOfAvailableSeats": "50"}
    assert seat_client.get("/reserve_seat").json() == {"status": "Reservation in process"}
    assert seat_client.get("/process").json() == {"status": "Queue processing"}
    deadline = time.monotonic() + 10
    while seat_client.get("/available_seats").json()["numberOfAvailableSeats"] == "50":
        assert time.monotonic() < deadline, "the background worker never ran the job"
        time.sleep(0.01)  # the job runs in the app's own worker; its effect is the signal
    assert seat_client.get("/available_seats").json() == {"numberOfAvailableSeats": "49"}


def test_reservations_are_blocked_once_disabled(seat_client: TestClient, raw: redis.Redis) -> None:
    raw.set("reservation_enabled", "0")  # as the last seat's job leaves it, for every process
    blocked = seat_client.get("/reserve_seat")
    assert (blocked.status_code, blocked.json()) == (409, {"status": "Reservation are blocked"})


@pytest.mark.parametrize(("method", "path", "status"), BAD_REQUESTS)
def test_bad_requests_answer_json_and_change_nothing(
    stock_client: TestClient, raw: redis.Redis, redis_url: str, method: str, path: str, status: int
) -> None:
    seat.open_reservations(redis_url)
    with TestClient(seat.app, base_url=LOCAL) as seat_client:
        before = raw.mget(ITEM_KEYS + SEAT_KEYS)
        app_client = seat_client if "seat" in path or "process" in path else stock_client
        response = app_client.request(method, path)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert isinstance(response.json()["status"], str)
        assert raw.mget(ITEM_KEYS + SEAT_KEYS) == before


def test_redis_down_answers_503_json_and_recovers(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = RedisServer.start()
    monkeypatch.setenv("REDIS_URL", server.url)
    monkeypatch.setenv("PYKUE_PREFIX", prefix)
    try:
        with TestClient(stock.app, base_url=LOCAL) as client:
            assert client.get("/list_products/1").json()["currentQuantity"] == 4
            server.kill()
            down = client.get("/reserve_product/1")
            assert down.status_code == 503
            assert down.json()["status"].startswith("Service unavailable")
            assert down.headers["retry-after"] == "1"
            assert client.get("/list_products").status_code == 200  # needs no Redis
            server.restart()
            assert client.get("/reserve_product/1").json()["status"] == "Reservation confirmed"
    finally:
        server.stop()


# -- the real servers under load ----------------------------------------------------


@pytest.fixture
async def server_env(app_env: str, redis_url: str) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "PYKUE_PREFIX": app_env}


async def start_server(name: str, env: dict[str, str]) -> tuple[Any, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / name),
        "--port",
        str(port),
        "--workers",
        "2",
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx2.AsyncClient() as client:
        for _ in range(300):  # until both processes are up
            try:
                if (await client.get(f"{base}/openapi.json")).status_code == 200:
                    return proc, base
            except httpx2.TransportError:
                pass
            assert proc.returncode is None, (await proc.stderr.read()).decode()
            await asyncio.sleep(0.05)
    raise AssertionError(f"{name} did not start")


async def stop_server(proc: Any) -> list[str]:
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert "Traceback" not in err.decode(), err.decode()
    return out.decode().splitlines()


async def hammer(
    base: str, path: str, times: int, connections: int = 100
) -> collections.Counter[tuple[int, str]]:
    limits = httpx2.Limits(max_connections=connections)
    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(*(client.get(path) for _ in range(times)))
    return collections.Counter((r.status_code, r.json()["status"]) for r in responses)


async def test_stock_never_oversells_under_load(server_env: dict[str, str]) -> None:
    proc, base = await start_server("9_stock.py", server_env)
    try:
        outcome = await hammer(base, "/reserve_product/1", 500)
        assert outcome == {
            (200, "Reservation confirmed"): 4,
            (409, "Not enough stock available"): 496,
        }
        async with httpx2.AsyncClient(base_url=base) as client:
            assert (await client.get("/list_products/1")).json()["currentQuantity"] == 0
    finally:
        await stop_server(proc)


async def test_500_requests_at_once_wait_for_a_connection(server_env: dict[str, str]) -> None:
    """More requests in flight than the Redis pool has connections: they wait for one
    instead of answering 503 "Too many connections"."""
    proc, base = await start_server("9_stock.py", server_env)
    try:
        outcome = await hammer(base, "/reserve_product/2", 500, connections=500)
        assert outcome == {
            (200, "Reservation confirmed"): 10,
            (409, "Not enough stock available"): 490,
        }
    finally:
        await stop_server(proc)


@pytest.fixture
async def watcher(redis_url: str, app_env: str) -> AsyncIterator[Queue]:
    queue = Queue(url=redis_url, prefix=app_env)
    await queue.connect()
    try:
        yield queue
    finally:
        await queue.close()


async def test_seats_never_oversell_under_load(
    server_env: dict[str, str], watcher: Queue, raw: redis.Redis
) -> None:
    ended: collections.Counter[str] = collections.Counter()
    all_ended = asyncio.Event()

    def count(outcome: str) -> None:
        ended[outcome] += 1
        if sum(ended.values()) == 500:
            all_ended.set()

    watcher.on("job complete", lambda job_id, result: count("complete"))
    watcher.on("job failed", lambda job_id, error: count(f"failed: {error}"))
    await watcher._redis.events().ready()  # listening before any job exists
    proc, base = await start_server("100_seat.py", server_env)
    try:
        outcome = await hammer(base, "/reserve_seat", 500)
        assert outcome == {(200, "Reservation in process"): 500}
        async with httpx2.AsyncClient(base_url=base) as client:
            assert (await client.get("/process")).json() == {"status": "Queue processing"}
            await asyncio.wait_for(all_ended.wait(), 60)
            seats = (await client.get("/available_seats")).json()
            blocked = (await client.get("/reserve_seat")).json()
    finally:
        printed = await stop_server(proc)
    assert ended == {"complete": 50, "failed: Not enough seats available": 450}
    assert seats == {"numberOfAvailableSeats": "0"}
    assert blocked == {"status": "Reservation are blocked"}
    assert raw.get("available_seats") == "0"
    kinds = collections.Counter(line.split(" ", 4)[-1] for line in printed)
    assert kinds == {"completed": 50, "failed: Not enough seats available": 450}
