"""The seat app (task 13) under load: reservations arriving all at once at two server
processes that both process the queue meanwhile must confirm exactly the 50 seats there
are. Once the seats are gone the app blocks reservations (409), as the seed asks."""

from __future__ import annotations

import asyncio
import collections
import time

import httpx2

from pykue import Queue
from tests.chaos.conftest import FULL
from tests.chaos.support import ChaosRedis, record
from tests.examples.test_web_apps import hammer, start_server, stop_server
from tests.helpers import assert_invariants, job_ids

PREFIX = "seat"


async def both_processes_processing(chaos_redis: ChaosRedis, base: str) -> int:
    """Ask for processing until each server process has a worker blocked on the queue.
    Which process answers is the kernel's choice, so ask on fresh connections."""
    client = chaos_redis.client()
    deadline = time.monotonic() + 30
    try:
        while True:
            async with httpx2.AsyncClient(base_url=base) as http:
                await asyncio.gather(*(http.get("/process") for _ in range(8)))
            blocked = [c for c in client.client_list() if c["cmd"] == "blpop"]
            if len(blocked) >= 2:
                return len(blocked)
            assert time.monotonic() < deadline, "the second server process never processed"
            await asyncio.sleep(0.1)  # blocking happens in the server processes: poll
    finally:
        client.close()


async def test_two_servers_confirm_exactly_fifty_seats(chaos_redis: ChaosRedis) -> None:
    requests = 2000 if FULL else 1000
    watcher = Queue(url=chaos_redis.url, prefix=PREFIX)
    ended: collections.Counter[str] = collections.Counter()
    accepted = requests + 1  # known once every request is answered
    all_ended = asyncio.Event()

    def count(outcome: str) -> None:
        ended[outcome] += 1
        if sum(ended.values()) == accepted:
            all_ended.set()

    watcher.on("job complete", lambda job_id, result: count("complete"))
    watcher.on("job failed", lambda job_id, error: count(f"failed: {error}"))
    await watcher.connect()
    await watcher._redis.events().ready()  # listening before any job exists
    env = {"REDIS_URL": chaos_redis.url, "PYKUE_PREFIX": PREFIX}
    proc, base = await start_server("100_seat.py", env)
    try:
        workers = await both_processes_processing(chaos_redis, base)
        started = time.monotonic()
        outcome = await hammer(base, "/reserve_seat", requests)
        accepted = outcome[200, "Reservation in process"]
        assert outcome == {
            (200, "Reservation in process"): accepted,
            (409, "Reservation are blocked"): requests - accepted,
        }
        if sum(ended.values()) == accepted:  # all ended while the requests were answered
            all_ended.set()
        await asyncio.wait_for(all_ended.wait(), 120)
        elapsed = time.monotonic() - started
        async with httpx2.AsyncClient(base_url=base) as client:
            seats = (await client.get("/available_seats")).json()
    finally:
        printed = await stop_server(proc)
        await watcher.close()
    assert ended == {"complete": 50, "failed: Not enough seats available": accepted - 50}
    assert seats == {"numberOfAvailableSeats": "0"}
    raw = chaos_redis.client()
    assert raw.get("available_seats") == "0"
    processed_by = {
        raw.hget(f"{{seat}}:job:{i}", "worker").split(":")[1] for i in job_ids(raw, PREFIX)
    }
    assert len(processed_by) == 2, f"jobs were processed by {processed_by}"
    assert_invariants(raw, PREFIX)
    kinds = collections.Counter(line.split(" ", 4)[-1] for line in printed)
    assert kinds == {"completed": 50, "failed: Not enough seats available": accepted - 50}
    record(
        "5 seat app",
        reservations=requests,
        server_processes=2,
        workers_blocked=workers,
        confirmed=ended["complete"],
        not_enough_seats=accepted - 50,
        blocked=requests - accepted,
        seconds=round(elapsed, 1),
    )
