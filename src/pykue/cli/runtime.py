"""How every command runs: output, one-line errors, connecting, the event loop, signals.

Errors reach the user as one line on stderr, ``pykue: error: <message>``:
bad arguments exit 2 (nothing was done), failures while working exit 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import click
from redis.exceptions import RedisError

from ..config import redact_url
from ..errors import PykueError
from ..queue import Queue

PROG = "pykue"
T = TypeVar("T")


class CliError(click.ClickException):
    """A failure reported as one line on stderr, with exit code 1."""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def say(text: str = "", *, err: bool = False) -> None:
    """Print a line and flush it at once (output is often a pipe)."""
    click.echo(text, err=err)


def error_line(message: str) -> None:
    say(f"{PROG}: error: {one_line(message)}", err=True)


@asynccontextmanager
async def opened(queue: Queue) -> AsyncIterator[Queue]:
    """``queue`` connected (Redis resolved: REDIS_URL ... embedded server), closed afterwards."""
    try:
        try:
            await queue.connect()
        except (RedisError, OSError) as exc:
            url = queue.settings.url
            where = f" at {redact_url(url)}" if url else ""
            raise CliError(f"cannot reach Redis{where}: {exc}") from None
        yield queue
    finally:
        await queue.close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new event loop; pykue and Redis errors become one-line CliErrors."""
    try:
        return asyncio.run(coro)
    except PykueError as exc:
        raise CliError(str(exc)) from None
    except RedisError as exc:
        raise CliError(f"Redis error: {exc}") from None


class StopSignals:
    """SIGINT/SIGTERM inside a running loop: the first calls ``on_stop`` (a graceful stop),
    a second one ends the process at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_stop: Callable[[], None], forced: str) -> None:
        self.on_stop = on_stop
        self.forced = forced
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in self.SIGNALS:
            self._loop.add_signal_handler(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._loop is not None
        for sig in self.SIGNALS:
            self._loop.remove_signal_handler(sig)

    def _handle(self) -> None:
        if self.stopping:
            say(f"{PROG}: {self.forced}", err=True)
            os._exit(130)
        self.stopping = True
        self.on_stop()
