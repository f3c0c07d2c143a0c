"""Task 13 "Can I have a seat?": 50 seats, reservations queued as pykue jobs and
processed on demand; never one seat more than exists, with any number of server
processes.

    python examples/100_seat.py                # http://localhost:1245/available_seats
    python examples/100_seat.py --workers 2    # two server processes, one truth in Redis

Launching sets ``available_seats`` to 50 and opens reservations. Both live in Redis
(``reservationEnabled`` too, unlike the seed's module variable), and each job takes
a seat with one Lua script, so concurrent jobs in several processes cannot oversell.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
import redis.asyncio
from _web import OUTAGES, redis_client, serve, unavailable, web_app
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pykue import Job, Queue
from pykue.config import Settings
from pykue.connection import resolve_url

SEATS = 50
SEATS_KEY = "available_seats"
ENABLED_KEY = "reservation_enabled"
QUEUE_NAME = "reserve_seat"

# KEYS[1] available_seats, KEYS[2] reservation_enabled.
# Takes one seat: returns the seats left, or -1 when there was none. The last seat
# closes reservations in the same step.
TAKE_SEAT = """
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left < 1 then return -1 end
left = redis.call('DECR', KEYS[1])
if left == 0 then redis.call('SET', KEYS[2], '0') end
return left
"""


async def reserve_seat(client: redis.asyncio.Redis, number: int) -> None:
    """Set the number of available seats (the seed's reserveSeat)."""
    await client.set(SEATS_KEY, number)


async def get_current_available_seats(client: redis.asyncio.Redis) -> str:
    return str(await client.get(SEATS_KEY) or "0")


def open_reservations(url: str | None = None) -> None:
    """What launching the app does: 50 seats, reservations enabled."""
    client = redis.Redis.from_url(url or asyncio.run(resolve_url(Settings.from_env())))
    try:
        client.mset({SEATS_KEY: SEATS, ENABLED_KEY: "1"})
    finally:
        client.close()


def make_handler(client: redis.asyncio.Redis) -> Any:
    take_seat = client.register_script(TAKE_SEAT)

    async def reserve(job: Job) -> int:
        left = int(await take_seat(keys=[SEATS_KEY, ENABLED_KEY]))
        if left < 0:
            raise RuntimeError("Not enough seats available")
        return left

    return reserve


def say(line: str) -> None:
    # one write per line: several server processes share the terminal, and a write
    # this short to a pipe is never split, so their lines never mix
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = await resolve_url(Settings.from_env())
    client = redis_client(url)
    queue = Queue(url=url)
    queue.process(QUEUE_NAME, make_handler(client), concurrency=10)
    app.state.redis, app.state.queue, app.state.worker = client, queue, None
    with contextlib.suppress(redis.RedisError):
        # served without the launcher (e.g. by uvicorn directly): a fresh Redis gets 50
        await client.set(SEATS_KEY, SEATS, nx=True)
        await client.set(ENABLED_KEY, "1", nx=True)
    yield
    await queue.shutdown()
    if app.state.worker is not None:
        await app.state.worker
    await queue.close()
    await client.aclose()


app = web_app("Can I have a seat?", lifespan)


@app.get("/available_seats")
async def available_seats(request: Request) -> dict[str, str]:
    return {"numberOfAvailableSeats": await get_current_available_seats(request.app.state.redis)}


@app.get("/reserve_seat")
async def reserve_seat_route(request: Request) -> Any:
    if await request.app.state.redis.get(ENABLED_KEY) == "0":
        return JSONResponse({"status": "Reservation are blocked"}, 409)
    job = request.app.state.queue.create(QUEUE_NAME, {})
    job.on("complete", lambda result: say(f"Seat reservation job {job.id} completed"))
    job.on("failed", lambda error: say(f"Seat reservation job {job.id} failed: {error}"))
    try:
        await job.save()
    except OUTAGES:
        return unavailable()
    return {"status": "Reservation in process"}


@app.get("/process")
async def process(request: Request) -> dict[str, str]:
    state = request.app.state
    if state.worker is None or state.worker.done():
        state.worker = asyncio.create_task(state.queue.run(handle_signals=False))
    return {"status": "Queue processing"}


if __name__ == "__main__":
    serve("100_seat:app", __doc__.splitlines()[0], before=open_reservations)
