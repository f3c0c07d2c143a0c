"""A web app served by uvicorn on a free loopback port, inside the test's own loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

TOKEN = "s3cret"  # the token of the guarded apps of the web tests
# Debian's chromium, never a downloaded browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.asynccontextmanager
async def served(app: Any, host: str = "127.0.0.1") -> AsyncIterator[int]:
    """Serve ``app`` on ``host``; yields the port (listening, so reachable at once)."""
    listener = socket.create_server((host, 0))  # accepts into its backlog at once
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        await serving
