"""``pykue dashboard``: the web dashboard and JSON API on one port, for one queue or as
an overview of several; and how the dashboard is served (``pykue demo`` serves it too).

uvicorn runs inside the command's own event loop. The listening socket is bound (and
listening) before the server starts, so a busy port is one clear error line and the
URL printed is reachable at once. uvicorn's own signal capture is turned off: the
command owns SIGINT/SIGTERM and calls ``Dashboard.stop()``, which also ends open
event streams so shutdown is prompt. The web app needs the 'web' extra; without it
these commands fail with one line saying so, and every other command still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from ..queue import Queue
from . import options as params
from .options import Options
from .runtime import PROG, CliError, StopSignals, opened, run, say

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Send

AppFactory = Callable[..., Any]
GRACE = 2  # seconds open connections (the dashboard's event stream) get at shutdown
WEB_EXTRA = "pip install 'pykue[web]'"


# -- serving ---------------------------------------------------------------------------


def load_create_app(name: str = "create_app") -> AppFactory:
    """``pykue.web.create_app`` (or another factory of ``pykue.web``), or a one-line
    error if the web app or uvicorn cannot be imported (the 'web' extra)."""
    try:
        from .. import web
    except ImportError as exc:  # its message names the extra
        raise CliError(f"the dashboard is not available: {exc}") from None
    try:
        import uvicorn  # noqa: F401  (Dashboard imports it; fail before anything starts)
    except ImportError as exc:
        raise CliError(f"the dashboard needs the 'web' extra: {WEB_EXTRA} ({exc})") from None
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


# -- the command ------------------------------------------------------------------------


async def serve(
    queues: list[Queue], app: Any, sock: socket.socket, what: str, access_log: bool
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for queue in queues:
            await stack.enter_async_context(opened(queue))
        web = Dashboard(app, access_log)
        with StopSignals(web.stop, "forced stop"):
            say(f"pykue dashboard on {url_of(sock)} ({what}); Ctrl-C to stop")
            await web.serve(sock)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command(short_help="Serve the dashboard and JSON API.")
@click.option(
    "--host", metavar="HOST", default="127.0.0.1", show_default=True, help="Address to listen on."
)
@click.option(
    "--port",
    metavar="PORT",
    type=click.IntRange(0, 65535),
    default=3000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    envvar="PYKUE_DASHBOARD_TOKEN",
    show_envvar=True,
    help="Require 'Authorization: Bearer TOKEN' for every change (POST/PUT/DELETE).",
)
@click.option(
    "--token-reads",
    is_flag=True,
    help="Require the token for reads too (job data, /events, /metrics); needs --token.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    metavar="NAME",
    multiple=True,
    help="A host name the dashboard may be reached by, besides loopback names, IP "
    "addresses and --host (repeatable; '*': any, e.g. behind a proxy that checks it).",
)
@click.option("--access-log", is_flag=True, help="Log every request.")
@params.many_queues("Serve an overview of", "each one's own dashboard under q/PREFIX/")
@click.pass_obj
def dashboard(
    options: Options,
    host: str,
    port: int,
    token: str | None,
    token_reads: bool,
    allow_hosts: tuple[str, ...],
    access_log: bool,
    prefixes: list[str] | None,
    shards: int | None,
) -> None:
    """Serve the dashboard and the JSON API (Kue's routes) for the queue, or an
    overview of several queues (--queues, --shards) that asks each queue on its own
    and adds the counts up.

    Requests whose Host header is not a loopback name, an IP address, --host or an
    --allow-host name are refused (DNS rebinding), and so are writes a browser marks as
    cross-site or that are not JSON. Prints the URL on stdout once it is listening.
    """
    token = token or None
    if token_reads and token is None:
        raise click.UsageError("--token-reads needs --token (or PYKUE_DASHBOARD_TOKEN)")
    settings = {"token": token, "token_reads": token_reads, "allowed_hosts": [host, *allow_hosts]}
    queues = options.queues(prefixes, shards)
    if queues is None:
        queue = options.queue()
        queues, what = [queue], f"queue '{queue.keys.prefix}'"
        app = load_create_app()(queue, **settings)
    else:
        what = f"{len(queues)} queues"
        app = load_create_app("create_overview_app")(queues, **settings)
    if not is_loopback(host):
        unguarded = "has no --token: anyone who can reach it can change jobs; " if not token else ""
        say(
            f"{PROG}: warning: the dashboard on {host} {unguarded}it answers only for IP "
            "addresses and loopback names: add --allow-host NAME for each name it is reached by",
            err=True,
        )
    sock = bind(host, port)
    try:
        run(serve(queues, app, sock, what, access_log))
    finally:
        sock.close()
