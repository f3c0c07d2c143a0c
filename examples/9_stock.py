"""Task 12 "In stock?": four suitcases, their stock in Redis, reservations that never
oversell, however many clients buy at once.

    python examples/9_stock.py            # http://localhost:1245/list_products

The seed reads the stock and writes it back, so two buyers can both get the last
suitcase. Here one Lua script checks and decrements ``item.ITEM_ID`` in a single
step inside Redis, so the count can never go below zero.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio
from _web import redis_client, serve, web_app
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pykue.config import Settings
from pykue.connection import resolve_url

LIST_PRODUCTS = [
    {"itemId": 1, "itemName": "Suitcase 250", "price": 50, "initialAvailableQuantity": 4},
    {"itemId": 2, "itemName": "Suitcase 450", "price": 100, "initialAvailableQuantity": 10},
    {"itemId": 3, "itemName": "Suitcase 650", "price": 350, "initialAvailableQuantity": 2},
    {"itemId": 4, "itemName": "Suitcase 1050", "price": 550, "initialAvailableQuantity": 5},
]
ITEM_ID = re.compile(r"[0-9]{1,18}")

# KEYS[1] item.ITEM_ID; ARGV[1] the initial quantity (a missing key starts from it).
# Returns the quantity left after reserving one, or -1 when none is left.
RESERVE_ONE = """
local left = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if left < 1 then return -1 end
redis.call('SET', KEYS[1], left - 1)
return left - 1
"""


def get_item_by_id(item_id: int) -> dict[str, Any] | None:
    return next((item for item in LIST_PRODUCTS if item["itemId"] == item_id), None)


def stock_key(item_id: int) -> str:
    return f"item.{item_id}"


async def reserve_stock_by_id(client: redis.asyncio.Redis, item_id: int) -> int:
    """Reserve one unit; the quantity left, or -1 if there was none."""
    item = get_item_by_id(item_id)
    assert item is not None
    script = client.register_script(RESERVE_ONE)
    return int(await script(keys=[stock_key(item_id)], args=[item["initialAvailableQuantity"]]))


async def get_current_reserved_stock_by_id(client: redis.asyncio.Redis, item_id: int) -> int:
    """The quantity still available (the seed's name for it)."""
    item = get_item_by_id(item_id)
    assert item is not None
    value = await client.get(stock_key(item_id))
    return int(value) if value is not None else int(item["initialAvailableQuantity"])


async def stock_in_redis(client: redis.asyncio.Redis) -> None:
    """Put each item's initial stock in Redis unless a count is already there."""
    for item in LIST_PRODUCTS:
        await client.set(stock_key(item["itemId"]), item["initialAvailableQuantity"], nx=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    url = await resolve_url(Settings.from_env())
    app.state.redis = redis_client(url)
    # Redis down: the routes answer 503 until it is back; a missing count means the initial one
    with contextlib.suppress(redis.RedisError):
        await stock_in_redis(app.state.redis)
    yield
    await app.state.redis.aclose()


app = web_app("In stock?", lifespan)


def parse_item_id(text: str) -> int | JSONResponse:
    if not ITEM_ID.fullmatch(text):
        return JSONResponse({"status": "itemId must be a whole number"}, 400)
    return int(text)


@app.get("/list_products")
async def list_products() -> list[dict[str, Any]]:
    return LIST_PRODUCTS


@app.get("/list_products/{item_id}")
async def product(item_id: str, request: Request) -> Any:
    parsed = parse_item_id(item_id)
    if isinstance(parsed, JSONResponse):
        return parsed
    item = get_item_by_id(parsed)
    if item is None:
        return JSONResponse({"status": "Product not found"}, 404)
    current = await get_current_reserved_stock_by_id(request.app.state.redis, parsed)
    return {**item, "currentQuantity": current}


@app.get("/reserve_product/{item_id}")
async def reserve_product(item_id: str, request: Request) -> Any:
    parsed = parse_item_id(item_id)
    if isinstance(parsed, JSONResponse):
        return parsed
    if get_item_by_id(parsed) is None:
        return JSONResponse({"status": "Product not found"}, 404)
    if await reserve_stock_by_id(request.app.state.redis, parsed) < 0:
        return JSONResponse({"status": "Not enough stock available", "itemId": parsed}, 409)
    return {"status": "Reservation confirmed", "itemId": parsed}


if __name__ == "__main__":
    serve("9_stock:app", __doc__.splitlines()[0])
