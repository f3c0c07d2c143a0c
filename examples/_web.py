"""What the two seed web apps share: JSON for every answer, errors included, pykue's
guard in front (Host allow-list, cross-site refusal, a body cap), a Redis client whose
pool waits for a connection, and a command line that serves an app with uvicorn on
the seed's port 1245."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from typing import Any

import redis.asyncio
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException

from pykue import ConnectionFailed, PykueError
from pykue.connection import MAX_CONNECTIONS, POOL_TIMEOUT
from pykue.web.guard import Guard

log = logging.getLogger("pykue.examples")
PORT = 1245
MAX_BODY = 16 * 1024  # the routes take no body at all
# --host and --allow-host, for every server process uvicorn starts (they import the app)
HOSTS_ENV = "PYKUE_EXAMPLE_HOSTS"
OUTAGES = (RedisConnectionError, RedisTimeoutError, ConnectionFailed)


def web_app(title: str, lifespan: Any) -> FastAPI:
    """The app, guarded: its GET routes change things (the seed's API), so a request a
    browser marks as cross-site is refused whatever its method."""
    app = FastAPI(title=title, lifespan=lifespan)
    hosts = os.environ.get(HOSTS_ENV, "").split(",")
    app.add_middleware(
        Guard, max_body=MAX_BODY, hosts=hosts, router=app.router, key="status", same_site_only=True
    )
    answer_json_always(app)
    return app


def redis_client(url: str) -> redis.asyncio.Redis:
    """A client whose callers wait (up to POOL_TIMEOUT) for one of its connections instead
    of failing with "Too many connections" when hundreds of requests arrive at once."""
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=MAX_CONNECTIONS, timeout=POOL_TIMEOUT
    )
    return redis.asyncio.Redis.from_pool(pool)


def unavailable() -> JSONResponse:
    return JSONResponse(
        {"status": "Service unavailable: Redis cannot be reached"},
        503,
        headers={"Retry-After": "1"},
    )


def answer_json_always(app: FastAPI) -> None:
    """Unknown routes, wrong methods, bad input and outages answer JSON, never text."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"status": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"status": "Bad request"}, 400)

    @app.exception_handler(RedisError)
    @app.exception_handler(PykueError)
    async def redis_down(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, OUTAGES):
            return await crashed(request, exc)  # Redis answered, with an error
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return unavailable()


async def crashed(request: Request, exc: Exception) -> JSONResponse:
    # anything else unexpected the guard answers with a 500 of the same shape
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"status": "Internal server error"}, 500)


def serve(app_path: str, description: str, before: Callable[[], None] | None = None) -> None:
    """``python examples/<app>.py [--host H] [--port N] [--workers N] [--allow-host NAME]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the app may be reached by, besides loopback names, IP addresses "
        "and --host (repeatable)",
    )
    args = parser.parse_args()
    if not 0 < args.port < 65536 or args.workers < 1:
        parser.error("--port must be 1-65535 and --workers at least 1")
    os.environ[HOSTS_ENV] = ",".join([args.host, *args.allow_host])
    if before is not None:
        before()
    uvicorn.run(app_path, host=args.host, port=args.port, workers=args.workers, log_level="warning")
