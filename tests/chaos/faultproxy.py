"""A loopback TCP proxy that injects network faults between pykue and its Redis.

It runs its own asyncio loop in a daemon thread, so sync tests, async tests and child
processes (given ``proxy.url``) all go through it alike::

    with FaultProxy(server.port) as proxy:      # or proxy = FaultProxy(p); proxy.start()
        queue = Queue(url=proxy.url, ...)
        proxy.latency = 0.04                    # seconds added to every chunk, each way
        proxy.blackhole(True)                   # a half-open peer: see below
        proxy.blackhole(False)
        proxy.reset_all()                       # RST every connection

``blackhole(True)`` models a peer that is gone without a word (a dropped NAT entry, a
dead load balancer): every connection, open or new, has its bytes swallowed in both
directions, nothing is forwarded and nothing is closed, so only the client's own
timeouts or keepalive can notice. A connection that swallowed bytes stays dead after
``blackhole(False)`` (its stream lost bytes: resuming it would desynchronise the
protocol, and a dead NAT entry never comes back either); connections opened afterwards,
and ones that were idle throughout, work again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 65536


@dataclass(eq=False)
class Link:
    """One proxied connection: the client's side, Redis's side, and whether it died."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    dead: bool = False  # swallowed bytes in a blackhole: never forwards again
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.latency = 0.0
        self.port = 0
        self.accepted = 0  # connections ever accepted (tests check that clients reconnect)
        self._blackholed = False
        self._links: set[Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    # -- control (any thread) ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = self._run(self._listen)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def blackhole(self, on: bool = True) -> None:
        def switch() -> None:
            self._blackholed = on

        self._run_sync(switch)

    def reset_all(self) -> None:
        """Abort every connection with a TCP RST (SO_LINGER 0), both sides."""

        def reset() -> None:
            for link in list(self._links):
                self._drop(link, rst=True)

        self._run_sync(reset)

    @property
    def open_connections(self) -> int:
        return self._run_sync(lambda: len(self._links))

    def close(self) -> None:
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for link in list(self._links):
                self._drop(link, rst=True)
            tasks = [t for link in self._links for t in link.tasks]
            if tasks:
                await asyncio.wait(tasks, timeout=1.0)

        self._run(shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, coro_fn: Callable[[], Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result(timeout=10)

    def _run_sync(self, fn: Callable[[], T]) -> T:
        async def wrapped() -> T:
            return fn()

        result: T = self._run(wrapped)
        return result

    # -- the proxy (its own loop) ------------------------------------------------------------

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = Link(writer)
        self._links.add(link)
        try:
            if self._blackholed:  # the SYN got an answer, but nothing is behind it
                link.dead = True
                await self._swallow(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                self._drop(link, rst=True)
                return
            link.upstream = up_writer
            link.tasks = [
                asyncio.create_task(self._pump(link, reader, up_writer)),
                asyncio.create_task(self._pump(link, up_reader, writer)),
            ]
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
            if not link.dead:  # one side closed: close the other (a dead link stays silent)
                self._drop(link, rst=False)
            else:
                await asyncio.wait(link.tasks)
        finally:
            self._links.discard(link)
            for side in link.writers():  # both peers are gone by now
                if not side.transport.is_closing():
                    side.close()

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(CHUNK):
            pass

    async def _pump(
        self, link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Copy one direction, each chunk delayed by the latency at the time it arrived,
        in order (chunks in flight overlap: latency, not a throughput limit)."""
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._deliver(link, chunks, writer))
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if self._blackholed or link.dead:
                    link.dead = True
                    continue
                chunks.put_nowait((self._loop.time() + self.latency, data))
            await chunks.join()
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()

    async def _deliver(
        self, link: Link, chunks: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        while True:
            due, data = await chunks.get()
            try:
                wait = due - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not (self._blackholed or link.dead):
                    writer.write(data)
                    await writer.drain()
                else:
                    link.dead = True
            except (ConnectionError, OSError):
                return
            finally:
                chunks.task_done()

    def _drop(self, link: Link, rst: bool) -> None:
        self._links.discard(link)
        for writer in link.writers():
            if rst:
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                writer.transport.abort()
            else:
                writer.close()
        for task in link.tasks:
            task.cancel()
