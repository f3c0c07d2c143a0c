"""Scenario 6, bad input: hostile values through every entry point (the Python API, the
``pykue`` command, the HTTP API) each get a clear error and change nothing in Redis.

Each entry point has its table and its test in a file of its own: ``test_api.py``,
``test_cli.py``, ``test_http.py``. To add an input, add a row to the table of its file
(the ``api``/``cli``/``http`` builders below say what a row holds); this file holds only
what they share.

One private redis-server (AOF fsynced, as ``chaos_redis`` starts it) serves the whole
battery: a server per case would cost more than the cases themselves. It is seeded once
through the public API with jobs in every state a client can leave them in, a log, an
error record, statistics and a paused type, so that "nothing changed" covers real data.
After every case the whole keyspace (type, DUMP and expiry of each key) must equal the
snapshot taken after seeding; a case that changed it fails with the keys it changed,
and the seed is put back so that the next cases are judged on their own.

A clear error is pykue's own exception (the exact class) with a message naming the
problem, one line of at most 300 characters however large the input; for the command,
exit 2 (bad arguments) or 1 (refused while working), nothing on stdout and one line
``pykue: error: ...`` on stderr; for HTTP a 4xx with exactly ``{"error": message}``.
The command runs in process through ``pykue.cli.main`` (the console entry point), so an
unexpected exception, which a user would see as a traceback, fails the case.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
import pytest_asyncio
import redis

from pykue import JobFailed, Queue
from pykue.errors import PykueError
from pykue.job import Job
from pykue.web import create_app
from tests.chaos.support import ChaosRedis, record
from tests.helpers import assert_invariants

PREFIX = "chaos"
TOKEN = "s3cret"  # of the guarded app, the one the 401 cases go to
TEN_MB = 10 * 1024 * 1024
BIG = "x" * TEN_MB  # shared: the 10 MB cases do not each build their own
HUGE = 10**5000  # more digits than Python will print
MISSING = 999_999  # an id no job has
LONGEST_MESSAGE = 300

Snapshot = dict[str, tuple[str, bytes | None, bool]]
Ids = dict[str, int]  # the seeded jobs' ids by state: "complete", "failed", "inactive"...


# -- the seeded server ----------------------------------------------------------------


@dataclass
class Battery:
    """The seeded server, the ids of its jobs by state, the snapshot to compare with, and
    what the run has judged so far (for the figures)."""

    server: ChaosRedis
    ids: Ids
    baseline: Snapshot
    inputs: Counter[str] = field(default_factory=Counter)  # by entry point
    changed_keys: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    @contextlib.contextmanager
    def judging(self, entry_point: str, what: str) -> Iterator[None]:
        """Count one input through ``entry_point``; however it ends, it must have changed
        no key (``what`` names it in the failure)."""
        self.inputs[entry_point] += 1
        try:
            yield
        finally:
            self.assert_unchanged(what)

    def assert_unchanged(self, what: str) -> None:
        after = self.server.snapshot()
        changed = sorted(
            key
            for key in self.baseline.keys() | after.keys()
            if self.baseline.get(key) != after.get(key)
        )
        if not changed:
            return
        self.changed_keys += len(changed)
        lines = [f"  {key}: {describe(self.baseline.get(key), after.get(key))}" for key in changed]
        self.restore()
        raise AssertionError(f"{what} changed Redis:\n" + "\n".join(lines))

    def restore(self) -> None:
        client = redis.Redis(port=self.server.port)
        try:
            client.flushall()
            for key, (_, dumped, expires) in self.baseline.items():
                assert dumped is not None
                client.restore(key, 3_600_000 if expires else 0, dumped)
        finally:
            client.close()
        # the same data, but a set rebuilt by RESTORE may iterate, and so DUMP, in
        # another order
        self.baseline = self.server.snapshot()

    def record_figures(self) -> None:
        record(
            "6 bad input",
            inputs=sum(self.inputs.values()),
            **{f"{name}_inputs": n for name, n in sorted(self.inputs.items())},
            entry_points=len(self.inputs),
            changed_keys=self.changed_keys,
        )


def describe(
    before: tuple[str, bytes | None, bool] | None, after: tuple[str, bytes | None, bool] | None
) -> str:
    if before is None:
        return "created"
    if after is None:
        return "deleted"
    return "modified"


async def seed(url: str) -> Ids:
    """Jobs in every state but active (the waiting one depends on the delayed and the
    paused ones), a schedule and limits, through the public API only. The lease is long
    because a claim leaves a memo key that lives as long as the lease: it must outlast
    the battery's run."""
    queue = Queue(url=url, prefix=PREFIX, lease=3600.0)
    try:

        @queue.process("report")
        async def report(job: Job) -> dict[str, int]:
            await job.log("building %s", job.data["name"])
            await job.progress(50, 100, {"step": "half"})
            if job.data.get("broken"):
                raise ValueError("the report template is missing")
            return {"pages": 3}

        complete = await queue.create("report", {"name": "daily"}).save()
        failed = await queue.create("report", {"name": "weekly", "broken": True}).save()
        worker = asyncio.create_task(queue.run(handle_signals=False))
        try:
            assert await complete.wait(20) == {"pages": 3}
            with pytest.raises(JobFailed, match="template is missing"):
                await failed.wait(20)
        finally:
            await queue.shutdown(timeout=5)
            await worker
        inactive = queue.create(
            "email", {"to": "a@example.com"}, priority="high", unique="welcome-1"
        )
        delayed = queue.create(
            "email",
            {"to": "b@example.com", "note": "ünïcödé \x00 ok in data"},
            delay=3600,
            attempts=3,
            backoff={"type": "exponential", "delay": 2},
            ttl=30,
            remove_on_complete=10,
        )
        paused = queue.create("sms", {"to": "+15550100"})
        # waits for both, so that refused changes to jobs others wait for have a graph
        # to keep: a dependents set each, a deps hash and a pending count
        waiting = queue.create(
            "report",
            {"name": "monthly"},
            depends_on=[delayed, paused],
            on_dependency_failure="ignore",
        )
        await queue.add_bulk([inactive, delayed, paused, waiting])
        await queue.pause("sms")
        # a schedule (its next run months away) and limits that a refused change must keep
        await queue.schedule("report", key="nightly", cron="0 3 1 1 *", tz="Europe/Paris")
        await queue.set_limits("email", rate=(10, 1.0), concurrency=3)
        return {
            "complete": complete.job_id,
            "failed": failed.job_id,
            "inactive": inactive.job_id,
            "delayed": delayed.job_id,
            "paused": paused.job_id,
            "waiting": waiting.job_id,
        }
    finally:
        await queue.close()


@pytest.fixture(scope="package")
def battery() -> Iterator[Battery]:
    """The one seeded server of every entry point's cases; its teardown checks the
    invariants and records the figures."""
    server = ChaosRedis.start(extra=("--appendonly", "yes", "--appendfsync", "always"))
    try:
        ids = asyncio.run(seed(server.url))
        state = Battery(server, ids, server.snapshot())
        assert len(state.baseline) > 15, sorted(state.baseline)  # the seed is real data
        yield state
        assert_invariants(server.client(), PREFIX)
        state.record_figures()
    finally:
        server.stop()


def assert_clear(message: str, says: str) -> None:
    assert says in message, f"{says!r} not in {message!r}"
    assert len(message) <= LONGEST_MESSAGE, f"{len(message)} characters: {message[:200]!r}..."
    assert "\n" not in message, repr(message)


# -- hostile values ---------------------------------------------------------------------

# Names may hold only 1 to 128 of [A-Za-z0-9_.:-]; each of these breaks the rule in its
# own way (':' alone is allowed, so it only appears beside forbidden characters).
NAMES: dict[str, str] = {
    "empty": "",
    "129 characters": "x" * 129,
    "10 MB": BIG,
    "hash tag braces": "{chaos}:job:1",
    "glob star": "email:*",
    "glob question mark": "emai?",
    "glob class": "[a-z]mail",
    "space": "send email",
    "newline": "email\nFLUSHALL",
    "RESP injection": "email\r\n*1\r\n$8\r\nFLUSHALL\r\n",
    "NUL": "email\x00",
    "unicode": "émail",
    "emoji": "\N{E-MAIL SYMBOL}",
    "path traversal": "../../etc/passwd",
    "windows traversal": "..\\..\\boot.ini",
}
# The ones a URL path segment or a command-line argument can carry (no NUL in argv, no
# 10 MB argument, no empty path segment that still reaches the route).
ARGV_NAMES = [n for n in NAMES if n not in ("10 MB", "NUL")]
PATH_NAMES = [n for n in ARGV_NAMES if n != "empty" and "/" not in NAMES[n]]
# Job types take every name at each entry point; the other names (unique keys, prefixes)
# and the other calls that check a type take a few each.
SOME_NAMES = ["empty", "129 characters", "hash tag braces", "glob star", "newline", "NUL"]


def nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ...}}`` ``depth`` levels deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# -- the entries of the three tables ----------------------------------------------------

# A call of the Python API on a queue of the seeded server, given the seeded jobs' ids:
# it raises at once, or returns what raises when awaited.
Call = Callable[[Queue, Ids], Any]


@dataclass(frozen=True)
class ApiCase:
    call: Call
    error: type[PykueError]  # the exact class expected
    says: str  # a part of its message


def api(id: str, call: Call, error: type[PykueError], says: str) -> Any:
    return pytest.param(ApiCase(call, error, says), id=id)


# Whole arguments of a command replaced when the case runs: the seeded server's URL, the
# seeded jobs' ids, and the files FILES names.
URL = "$URL"
INACTIVE, FAILED = "$INACTIVE", "$FAILED"
DELAYED, WAITING = "$DELAYED", "$WAITING"  # the waiting job depends on the delayed one
FILES: dict[str, bytes] = {
    "$TEN_MB_LINE": b'{"blob": "' + BIG.encode() + b'"}\n',
    "$NAN_LINE": b'{"n": 1}\n{"n": NaN}\n',
    "$DEEP_LINE": deep_json(5000) + b"\n",
    "$ARRAY_LINE": b'{"n": 1}\n[1, 2]\n',
    "$EMPTY": b"\n\n",
    "$BINARY": b"\xff\xfe\x00\x01",
    "$TWO_JOBS": b'{"n": 1}\n{"n": 2}\n',  # good jobs, for bad options given with --file
}


@dataclass(frozen=True)
class CliCase:
    args: tuple[str, ...]
    code: int  # the exit code expected
    says: str  # a part of the one line on stderr
    env: dict[str, str] = field(default_factory=dict)
    options: bool = True  # give --url and --prefix of the seeded server first


def cli(id: str, args: list[str], code: int, says: str, **extra: Any) -> Any:
    return pytest.param(CliCase(tuple(args), code, says, **extra), id=id)


@dataclass(frozen=True)
class HttpCase:
    method: str
    path: str  # {inactive}, {failed}... in it are the seeded jobs' ids
    body: Any  # bytes/str sent as they are, None for no body, else encoded as JSON
    status: int
    says: str  # a part of the "error" of the answer
    headers: dict[str, str] = field(default_factory=dict)


def http(id: str, method: str, path: str, body: Any, status: int, says: str, **extra: Any) -> Any:
    return pytest.param(HttpCase(method, path, body, status, says, **extra), id=id)


# -- what the command and HTTP cases run against ------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The path of each file in FILES, by its placeholder."""
    folder = tmp_path_factory.mktemp("bad-input")
    paths = {}
    for name, content in FILES.items():
        path = folder / (name.strip("$").lower() + ".jsonl")
        path.write_bytes(content)
        paths[name] = str(path)
    return paths


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(battery: Battery) -> AsyncIterator[dict[bool, httpx2.AsyncClient]]:
    """Clients of two apps on one queue, without and with a token (by "guarded"). They
    serve every case: an app's first request costs more than a case (routes compile)."""
    queue = Queue(url=battery.url, prefix=PREFIX)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(queue.close)
        clients = {}
        for guarded in (False, True):
            app = create_app(queue, token=TOKEN if guarded else None)
            transport = httpx2.ASGITransport(app=app)
            clients[guarded] = await stack.enter_async_context(
                httpx2.AsyncClient(transport=transport, base_url="http://localhost")
            )
        yield clients
