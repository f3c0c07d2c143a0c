"""``Guard``: the ASGI middleware in front of every pykue web app (the dashboard, the
overview and the example apps). It runs before routing, so before any Redis access:

- **Host allow-list** (DNS rebinding): a page on ``evil.example`` that resolves to
  127.0.0.1 is same-origin with the app as far as the browser knows, but its requests
  carry ``Host: evil.example``. Allowed: loopback names (``localhost``, ``*.localhost``),
  any IP literal (an IP cannot be rebound: its origin is the server itself) and the
  names given (``"*"``: any). Anything else answers 421 before a route (or Starlette's
  trailing-slash redirect, whose ``Location`` is built from the Host) sees it.
- **Cross-site writes**: browsers mark every request with ``Sec-Fetch-Site`` (or at
  least ``Origin`` on writes); a write marked cross-site, or whose Origin is not the
  Host it was sent to, answers 403. Clients that are not browsers send neither and pass.
- **JSON-only writes**: a write's body must be ``application/json`` (415 otherwise),
  which an HTML form or a no-preflight ``fetch`` cannot send to another origin.
- **Body cap**: by Content-Length and while reading, at most ``max_body`` bytes are
  ever held (413).
- ``HEAD`` answers like ``GET`` without the body; ``OPTIONS`` answers ``Allow`` with
  every method of the path.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Message, Receive, Send

from ..errors import shown
from ..runner import error_text

log = logging.getLogger("pykue")


WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})
SAME_SITE = frozenset({"same-origin", "none"})  # "none": typed in the address bar
DEFAULT_PORTS = {"http": "80", "https": "443"}


def host_name(header: str) -> str:
    """The name of a ``Host`` header (no port, no brackets, no trailing dot, lower case)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0].rstrip(".") if ":" in header else header.rstrip(".")


def is_allowed_host(name: str, allowed: frozenset[str]) -> bool:
    if "*" in allowed or name in allowed or name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """Whether an ``Origin`` header names the host (and port) the request was sent to."""
    origin_scheme, _, netloc = origin.lower().partition("://")
    if not netloc or origin_scheme != scheme:
        return False
    return _with_port(netloc, origin_scheme) == _with_port(host.lower(), scheme)


def _with_port(netloc: str, scheme: str) -> str:
    return netloc if ":" in netloc.rpartition("]")[2] else f"{netloc}:{DEFAULT_PORTS.get(scheme)}"


class Guard:
    """See the module docstring. ``router`` (the app's own) answers OPTIONS; ``key`` is
    the error field of the app's answers; ``same_site_only`` refuses cross-site requests
    of every method (apps whose GET routes change things)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        hosts: Iterable[str] = (),
        router: Router | None = None,
        key: str = "error",
        same_site_only: bool = False,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.hosts = frozenset(host_name(h) if h != "*" else h for h in hosts if h)
        self.router = router
        self.key = key
        self.same_site_only = same_site_only

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = scope["method"]
        refused = self.refusal(scope, headers, method)
        if refused is not None:
            await self.answer(scope, receive, send, *refused)
            return
        if method == "OPTIONS" and (allow := self.allowed_methods(scope)):
            await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
            return
        if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
            body = await self.read_body(receive)
            if body is None:
                await self.answer(scope, receive, send, 413, self.too_large())
                return
            receive = replay(body, receive)
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
            receive, send = without_body(receive, send)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            # answered here, not by an exception handler: Starlette re-raises from those,
            # so the server would log the error a second time
            log.exception("pykue web: %s %s failed", method, scope.get("path"))
            await self.answer(scope, receive, send, 500, internal_error(exc))

    def refusal(self, scope: Message, headers: Headers, method: str) -> tuple[int, str] | None:
        host = headers.get("host")
        if host is not None and not is_allowed_host(host_name(host), self.hosts):
            return 421, (
                f"this server does not answer for host {shown(host_name(host))}; "
                "allow it with --allow-host (allowed_hosts=[...])"
            )
        if (method in WRITES or self.same_site_only) and self.cross_site(scope, headers, host):
            return 403, "cross-site request refused: send it from this server's own page"
        length = headers.get("content-length")
        if length is not None and not (length.isascii() and length.isdigit()):
            return 400, "Content-Length must be a whole number"
        # by its digits first: Python refuses to read an int of over 4,300 of them
        if length is not None and (len(length) > 18 or int(length) > self.max_body):
            return 413, self.too_large()
        if method in WRITES:
            media = headers.get("content-type", "").partition(";")[0].strip().lower()
            has_body = (length or "0") != "0" or "transfer-encoding" in headers
            if (has_body or media) and media != "application/json":
                return 415, (
                    f"the body must be JSON sent as Content-Type: application/json, got "
                    f"{shown(media or 'no Content-Type')}"
                )
        return None

    @staticmethod
    def cross_site(scope: Message, headers: Headers, host: str | None) -> bool:
        # Sec-Fetch-Site is set by the browser and cannot be forged by a page; when it is
        # there it decides (a proxy that rewrites Host still sees "same-origin")
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site.lower() not in SAME_SITE
        origin = headers.get("origin")
        if origin is None:
            return False  # not a browser, or a same-origin GET
        return host is None or not same_origin(origin, host, scope.get("scheme", "http"))

    def too_large(self) -> str:
        return f"the body is over the limit of {self.max_body} bytes"

    async def read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes ``max_body``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: the app sees an empty body, then the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def allowed_methods(self, scope: Message) -> str:
        """``Allow`` for OPTIONS of a route path of this app; "" for a mounted app's path
        (it answers for itself) or an unknown one."""
        methods = (
            methods_of(self.router.routes, {**scope, "method": "OPTIONS"}) if self.router else None
        )
        if not methods:
            return ""
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods | {"OPTIONS"}))

    async def answer(
        self, scope: Message, receive: Receive, send: Send, status: int, message: str
    ) -> None:
        response = JSONResponse({self.key: message}, status)
        if status in (413, 421):
            response.headers["Connection"] = "close"  # the unread body is not worth reading
        await response(scope, receive, send)


def methods_of(routes: Iterable[BaseRoute], probe: Message) -> set[str] | None:
    """The methods of the routes matching ``probe``'s path; None if a mount matches."""
    methods: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's include_router
        if included is not None:
            inner = methods_of(included.routes, probe)
            if inner is None:
                return None
            methods |= inner
            continue
        match, _ = route.matches(probe)
        if match is Match.NONE:
            continue
        if not isinstance(route, Route) or route.methods is None:
            return None
        methods |= route.methods
    return methods


def internal_error(exc: BaseException) -> str:
    return f"internal error: {type(exc).__name__}: {shown(error_text(exc), 200)}"


def replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` first, then whatever the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def without_body(receive: Receive, send: Send) -> tuple[Receive, Send]:
    """For HEAD: the GET answer's start goes out, its body does not, and a streaming
    answer (the event stream) is told the client left once its headers are sent."""
    ended = False

    async def head_receive() -> Message:
        return {"type": "http.disconnect"} if ended else await receive()

    async def head_send(message: Message) -> None:
        nonlocal ended
        if message["type"] != "http.response.body":
            await send(message)
        elif not ended:
            ended = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return head_receive, head_send
