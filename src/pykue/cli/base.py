"""What every command shares: the global options, one-line errors, running a coroutine.

Errors reach the user as one line on stderr, ``pykue: error: <message>``:
bad arguments exit 2 (nothing was done), failures while working exit 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import click
from redis.exceptions import RedisError

from ..config import Settings, redact_url
from ..errors import PykueError
from ..queue import Queue
from ..sharded import ShardedQueue

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


@dataclass(frozen=True)
class Options:
    """The group's global options; None means pykue's own resolution."""

    url: str | None = None
    prefix: str | None = None

    def settings(self) -> Settings:
        return Settings.from_env(url=self.url, prefix=self.prefix)

    def queue(self) -> Queue:
        return make_queue(self)

    def args(self) -> list[str]:
        """The global options as command-line arguments (for child processes)."""
        out: list[str] = []
        if self.url is not None:
            out += ["--url", self.url]
        if self.prefix is not None:
            out += ["--prefix", self.prefix]
        return out


def make_queue(options: Options) -> Queue:
    """A Queue for the global options (not connected yet)."""
    try:
        return Queue(url=options.url, prefix=options.prefix)
    except PykueError as exc:  # e.g. a malformed REDIS_URL in the environment
        raise CliError(str(exc)) from None


def many_queues(
    options: Options, prefixes: list[str] | None, shards: int | None
) -> list[Queue] | None:
    """The queues ``--queues A,B`` or ``--shards K`` name (K: the shards PREFIX.0 ...
    PREFIX.K-1 of a ShardedQueue named by the global prefix), or None for neither."""
    if prefixes is not None and shards is not None:
        raise click.UsageError("give --queues or --shards, not both")
    try:
        if shards is not None:
            prefix = options.settings().prefix
            return ShardedQueue(options.url, prefix=prefix, shards=shards).shards
        if prefixes is not None:
            return [Queue(url=options.url, prefix=prefix) for prefix in prefixes]
    except PykueError as exc:  # e.g. a prefix too long for the shard names
        raise CliError(str(exc)) from None
    return None


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
