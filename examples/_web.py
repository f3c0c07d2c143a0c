"""What the two seed web apps share: JSON for every answer, errors included, and a
command line that serves an app with uvicorn on the seed's port 1245."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from pykue import PykueError

log = logging.getLogger("pykue.examples")
PORT = 1245


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
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"status": "Service unavailable: Redis cannot be reached"}, 503)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"status": "Internal server error"}, 500)


def serve(app_path: str, description: str, before: Callable[[], None] | None = None) -> None:
    """``python examples/<app>.py [--port N] [--workers N]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    if not 0 < args.port < 65536 or args.workers < 1:
        parser.error("--port must be 1-65535 and --workers at least 1")
    if before is not None:
        before()
    uvicorn.run(app_path, host=args.host, port=args.port, workers=args.workers, log_level="warning")
