"""Serving the dashboard with uvicorn inside a command's own event loop.

The listening socket is bound (and listening) before the server starts, so a busy
port is one clear error line and the URL printed is reachable at once. uvicorn's
own signal capture is turned off: the command owns SIGINT/SIGTERM and calls
``Dashboard.stop()``, which also ends open event streams so shutdown is prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Send

from .base import CliError

AppFactory = Callable[..., Any]
GRACE = 2  # seconds open connections (the dashboard's event stream) get at shutdown


def load_create_app(name: str = "create_app") -> AppFactory:
    """``pykue.web.create_app`` (or another factory of ``pykue.web``), or a one-line
    error if the web app cannot be imported."""
    try:
        from .. import web
    except ImportError as exc:
        raise CliError(f"the dashboard is not available: {exc}") from None
    factory: AppFactory = getattr(web, name)
    return factory


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port (port 0: a free one)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CliError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another with --port)"
        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class EndStreamsOnExit:
    """ASGI middleware: once ``closing`` is set, every request reading its connection is
    told the client left, so long responses (the dashboard's event stream) end at once
    instead of holding the shutdown up."""

    def __init__(self, app: ASGIApp, closing: asyncio.Event) -> None:
        self.app = app
        self.closing = closing

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = completed = False

        async def receive_until_closing() -> Message:
            if self.closing.is_set():
                return {"type": "http.disconnect"}
            message = asyncio.ensure_future(receive())
            closing = asyncio.ensure_future(self.closing.wait())
            try:
                await asyncio.wait({message, closing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # also when the caller is cancelled (Starlette's is_disconnected() polls
                # receive() in a cancelled scope): never leave these two behind
                closing.cancel()
                if not message.done():
                    message.cancel()
            if not message.cancelled():
                return message.result()
            return {"type": "http.disconnect"}

        async def tracked_send(message: Message) -> None:
            nonlocal started, completed
            started = started or message["type"] == "http.response.start"
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                completed = True
            await send(message)

        await self.app(scope, receive_until_closing, tracked_send)
        if started and not completed and self.closing.is_set():
            # the app stopped streaming because we said the client left: end the
            # response properly so the client sees a clean end of stream
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class Dashboard:
    """A web app on a uvicorn server that the command stops with ``stop()``."""

    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield  # the command handles signals

        self.closing = asyncio.Event()
        config = uvicorn.Config(
            EndStreamsOnExit(app, self.closing),
            log_level="warning",
            access_log=access_log,
            timeout_graceful_shutdown=GRACE,
        )
        self.server = Server(config)

    async def serve(self, sock: socket.socket) -> None:
        await self.server.serve(sockets=[sock])

    def stop(self) -> None:
        self.closing.set()
        self.server.should_exit = True
