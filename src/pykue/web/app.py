"""``create_app(queue)``: the JSON API, the dashboard page, live events and metrics.

The app keeps its queue and token on ``app.state`` (no module globals), so several
apps for several queues can live in one process or be mounted into a user's app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from importlib.resources import files
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException

from ..connection import close_client, finish_closing, streams_of
from ..errors import (
    ConnectionFailed,
    InvalidArgument,
    InvalidJob,
    InvalidState,
    JobNotFound,
    LeaseLost,
    PykueError,
    ScheduleNotFound,
    shown,
)
from ..job import loads
from ..queue import Queue
from .api import authorize, open_routes, router
from .guard import Guard, internal_error
from .schema import document

log = logging.getLogger("pykue")
STATIC = files("pykue.web") / "static"
KEEPALIVE_MS = 15_000
BODY_PAYLOADS = 4  # a request body may hold this many times the queue's max_payload
RETRY_AFTER = {"Retry-After": "1"}  # seconds; on every 503 (Redis out of reach)
# Status code for each pykue error a route can raise; the message is the error's own.
STATUS = {
    JobNotFound: 404,
    ScheduleNotFound: 404,
    InvalidArgument: 400,
    InvalidState: 409,
    LeaseLost: 409,
    ConnectionFailed: 503,
}


def create_app(
    queue: Queue,
    *,
    token: str | None = None,
    overview: str | None = None,
    allowed_hosts: Iterable[str] = (),
    token_reads: bool = False,
) -> FastAPI:
    """A dashboard and JSON API for ``queue``. With ``token``, write routes need
    ``Authorization: Bearer <token>``, and with ``token_reads`` every read too (the
    page, its script and ``/config`` excepted). ``overview``: the URL of a dashboard
    over several queues that this one is part of, for the page to link back to.
    ``allowed_hosts``: names besides loopback ones and IP literals that the Host header
    may carry (``"*"``: any), see ``pykue.web.guard``."""
    app = FastAPI(title="pykue", summary="Jobs of one pykue queue: Kue's JSON API and more")
    keep_settings(app, token, token_reads)
    app.state.pykue_queue = queue
    app.state.pykue_overview = overview
    app.include_router(router)
    app.include_router(open_routes)
    app.add_api_route("/events", events, methods=["GET"], dependencies=[Depends(authorize)])
    app.add_api_route("/", dashboard, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    guard(app, allowed_hosts, BODY_PAYLOADS * queue.max_payload)
    return app


def keep_settings(app: FastAPI, token: str | None, token_reads: bool) -> None:
    if token_reads and not token:
        raise InvalidJob("token_reads=True needs a token")
    app.state.pykue_token = token or None
    app.state.pykue_token_reads = bool(token_reads)


def guard(app: FastAPI, allowed_hosts: Iterable[str], max_body: int) -> None:
    """The guard middleware, JSON errors and the true OpenAPI document: what the
    dashboard and the overview share."""
    hosts = [allowed_hosts] if isinstance(allowed_hosts, str) else list(allowed_hosts)
    app.add_middleware(Guard, max_body=max_body, hosts=hosts, router=app.router)
    install_error_handlers(app)
    document(app)


def install_error_handlers(app: FastAPI) -> None:
    """Every error answers JSON ``{"error": message}``, the unexpected ones too."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, 400)

    @app.exception_handler(PykueError)
    async def pykue_error(request: Request, exc: PykueError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), None)
        if status is None:
            return await crashed(request, exc)
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return JSONResponse(
            {"error": message}, status, headers=RETRY_AFTER if status == 503 else None
        )

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, exc: RedisError) -> JSONResponse:
        if not isinstance(exc, RedisConnectionError | RedisTimeoutError):
            return await crashed(request, exc)  # Redis answered, with an error
        log.warning("pykue web: %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": f"Redis cannot be reached: {exc}"}, 503, headers=RETRY_AFTER)


async def crashed(request: Request, exc: Exception) -> JSONResponse:
    """500 for an error a handler caught that is not the client's fault nor an outage;
    anything else unexpected the guard answers the same way."""
    log.error("pykue web: %s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": internal_error(exc)}, 500)


async def dashboard() -> FileResponse:
    return FileResponse(str(STATIC / "index.html"), media_type="text/html")


async def events(request: Request) -> StreamingResponse:
    """The queue's events as Server-Sent Events, each with its stream id as the SSE id,
    so a browser that reconnects resumes where it stopped (Last-Event-ID)."""
    queue: Queue = request.app.state.pykue_queue
    resume = request.headers.get("last-event-id")
    if resume is None or not _is_stream_id(resume):
        # fixed before the answer starts: whatever happens once the client has its
        # headers is sent to it
        resume = await queue._redis.newest_event()
    return StreamingResponse(
        stream_events(queue, request, resume),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def stream_events(queue: Queue, request: Request, position: str) -> AsyncIterator[str]:
    await queue.connect()
    client = queue._redis.new_client()  # XREAD blocks its connection: one per subscriber
    stream = queue.keys.events
    streams: list[asyncio.StreamWriter] = []
    try:
        yield "retry: 2000\n\n"
        await client.ping()  # connected now, so its stream can be seen through to closed
        streams = streams_of(client)
        while not await request.is_disconnected():
            reply: Any = await client.xread({stream: position}, count=200, block=KEEPALIVE_MS)
            if not reply:
                yield ": keep-alive\n\n"
                continue
            for raw_id, fields in reply[0][1]:
                position = raw_id.decode()
                try:
                    data = orjson.dumps(event_json(fields)).decode()
                except (ValueError, TypeError) as exc:  # an entry pykue did not write
                    log.warning("pykue web: event %s skipped: %s", position, shown(str(exc)))
                    # an id with no data moves the browser's Last-Event-ID past it
                    yield f"id: {position}\n\n"
                    continue
                yield f"id: {position}\ndata: {data}\n\n"
    finally:
        await close_client(client)  # also a Sentinel client's sentinels
        await finish_closing(streams)


def event_json(fields: dict[bytes, bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": None}
    for raw_name, raw_value in fields.items():
        name = raw_name.decode()
        if name in ("result", "data"):
            out[name] = loads(raw_value)
        elif name in ("id", "progress", "attempts_made", "priority", "stalls"):
            out[name] = int(raw_value)
        else:
            out[name] = raw_value.decode()
    return out


def _is_stream_id(text: str) -> bool:
    ms, _, seq = text.partition("-")
    return ms.isdigit() and seq.isdigit() and len(text) < 40
