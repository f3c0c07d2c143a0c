"""Scenario 6, bad input: hostile values through every entry point (the Python API, the
``pykue`` command, the HTTP API) each get a clear error and change nothing in Redis.

One private redis-server (AOF fsynced, as ``chaos_redis`` starts it) serves the whole
file: a server per case would cost more than the cases themselves. It is seeded once
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
import inspect
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
import pytest_asyncio
import redis

from pykue import JobFailed, Queue
from pykue.cli import main
from pykue.errors import (
    ConnectionFailed,
    InvalidJob,
    InvalidName,
    InvalidState,
    JobNotFound,
    PykueError,
)
from pykue.job import Job
from pykue.web import create_app
from tests.chaos.support import ChaosRedis, record
from tests.helpers import assert_invariants

PREFIX = "chaos"
TOKEN = "s3cret"
TEN_MB = 10 * 1024 * 1024
BIG = "x" * TEN_MB  # shared: the 10 MB cases do not each build their own
MISSING = 999_999  # an id no job has
LONGEST_MESSAGE = 300

Snapshot = dict[str, tuple[str, bytes | None, bool]]
RAN: Counter[str] = Counter()  # cases run per entry point, for the figures


# -- the seeded server ----------------------------------------------------------------


@dataclass
class Battery:
    """The seeded server, the ids of its jobs by state, and the snapshot to compare with."""

    server: ChaosRedis
    ids: dict[str, int]
    baseline: Snapshot
    changed_keys: int = 0

    @property
    def url(self) -> str:
        return self.server.url

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


def describe(
    before: tuple[str, bytes | None, bool] | None, after: tuple[str, bytes | None, bool] | None
) -> str:
    if before is None:
        return "created"
    if after is None:
        return "deleted"
    return "modified"


async def seed(url: str) -> dict[str, int]:
    """Jobs in every state but active, through the public API only. The lease is long
    because a claim leaves a memo key that lives as long as the lease: it must outlast
    the file's run."""
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
        await queue.add_bulk([inactive, delayed, paused])
        await queue.pause("sms")
        return {
            "complete": complete.job_id,
            "failed": failed.job_id,
            "inactive": inactive.job_id,
            "delayed": delayed.job_id,
            "paused": paused.job_id,
        }
    finally:
        await queue.close()


@pytest.fixture(scope="module")
def battery() -> Iterator[Battery]:
    server = ChaosRedis.start(extra=("--appendonly", "yes", "--appendfsync", "always"))
    try:
        ids = asyncio.run(seed(server.url))
        state = Battery(server, ids, server.snapshot())
        assert len(state.baseline) > 15, sorted(state.baseline)  # the seed is real data
        yield state
        assert_invariants(server.client(), PREFIX)
        record(
            "6 bad input",
            inputs=sum(RAN.values()),
            **{f"{name}_inputs": n for name, n in sorted(RAN.items())},
            entry_points=len(RAN),
            changed_keys=state.changed_keys,
        )
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
FEW_NAMES = {
    "counts": ["glob star", "RESP injection"],
    "jobs": ["hash tag braces", "glob class"],
    "pause": ["glob question mark", "newline"],
    "resume": ["hash tag braces", "emoji"],
    "is_paused": ["glob star", "NUL"],
    "inactive_ids": ["glob class", "path traversal"],
    "process": ["space", "10 MB"],
}


def nested(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ...}}`` ``depth`` levels deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def self_referencing() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


def deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# -- the Python API -----------------------------------------------------------------------

Call = Callable[[Queue, dict[str, int]], Any]


@dataclass(frozen=True)
class ApiCase:
    call: Call
    error: type[PykueError]
    says: str


def api(id: str, call: Call, error: type[PykueError], says: str) -> Any:
    return pytest.param(ApiCase(call, error, says), id=id)


async def on_job(queue: Queue, job_id: int, act: Callable[[Job], Any]) -> None:
    """Fetch a seeded job and act on it, as a handler or a script holding a Job would."""
    outcome = act(await queue.get_job(job_id))
    if inspect.isawaitable(outcome):
        await outcome


def bulk(queue: Queue, *jobs: Any) -> Awaitable[list[Job]]:
    return queue.add_bulk(list(jobs))


def other_queue(queue: Queue, **options: Any) -> Queue:
    return Queue(url=queue.settings.url, **{"prefix": PREFIX, **options})


def save(queue: Queue, data: Any = None, **options: Any) -> Awaitable[Job]:
    return queue.create("email", data, **options).save()


def save_type(queue: Queue, job_type: Any) -> Awaitable[Job]:
    return queue.create(job_type, {}).save()


def twice(queue: Queue) -> Awaitable[list[Job]]:
    job = queue.create("email")
    return bulk(queue, job, job)


def noop(*args: Any) -> None:
    pass


HUGE = 10**5000  # more digits than Python will print

API_CASES = [
    *(
        api(f"create type {name}", lambda q, _, v=value: save_type(q, v), InvalidName, "job type")
        for name, value in NAMES.items()
    ),
    api("create type int", lambda q, _: q.create(42, {}), InvalidName, "must be a string"),
    api("create type None", lambda q, _: q.create(None, {}), InvalidName, "must be a string"),
    api("create type bytes", lambda q, _: q.create(b"email", {}), InvalidName, "must be a string"),
    *(
        api(f"unique {name}", lambda q, _, v=NAMES[name]: save(q, unique=v), InvalidName, "unique")
        for name in [*SOME_NAMES, "unicode", "path traversal"]
    ),
    api("unique int", lambda q, _: save(q, {}, unique=7), InvalidName, "must be a string"),
    *(
        api(
            f"prefix {name}",
            lambda q, _, v=NAMES[name]: other_queue(q, prefix=v),
            InvalidName,
            "prefix",
        )
        for name in [*SOME_NAMES, "10 MB", "glob class"]
    ),
    # job data: a JSON object only, finite, serialisable, under max_payload
    api("data list", lambda q, _: save(q, [1, 2]), InvalidJob, "JSON object"),
    api("data string", lambda q, _: save(q, '{"to": "a"}'), InvalidJob, "JSON object"),
    api("data number", lambda q, _: save(q, 42), InvalidJob, "JSON object"),
    api("data bytes", lambda q, _: save(q, b"{}"), InvalidJob, "JSON object"),
    api("data NaN", lambda q, _: save(q, {"a": float("nan")}), InvalidJob, "NaN or Infinity"),
    api("data Infinity", lambda q, _: save(q, {"a": float("inf")}), InvalidJob, "NaN or Infinity"),
    api(
        "data -Infinity deep in a list",
        lambda q, _: save(q, {"a": [1, {"b": [float("-inf")]}]}),
        InvalidJob,
        "NaN or Infinity",
    ),
    api("data nested 300 deep", lambda q, _: save(q, nested(300)), InvalidJob, "Recursion limit"),
    api("data nested 100000 deep", lambda q, _: save(q, nested(100_000)), InvalidJob, "Recursion"),
    api("data refers to itself", lambda q, _: save(q, self_referencing()), InvalidJob, "Recursion"),
    api("data int key", lambda q, _: save(q, {1: "a"}), InvalidJob, "not JSON-serialisable"),
    api("data set value", lambda q, _: save(q, {"a": {1, 2}}), InvalidJob, "not JSON-serialisable"),
    api("data object value", lambda q, _: save(q, {"a": object()}), InvalidJob, "serialisable"),
    api("data int over 64 bits", lambda q, _: save(q, {"a": 2**64}), InvalidJob, "64-bit"),
    api("data lone surrogate", lambda q, _: save(q, {"a": "\ud800"}), InvalidJob, "surrogates"),
    api("data 10 MB", lambda q, _: save(q, {"blob": BIG}), InvalidJob, "over the limit of 1048576"),
    api(
        "data over a small max_payload",
        lambda q, _: other_queue(q, max_payload=64).create("email", {"a": "x" * 64}).save(),
        InvalidJob,
        "over the limit of 64",
    ),
    # job options
    api("priority unknown name", lambda q, _: save(q, priority="urgent"), InvalidJob, "urgent"),
    api("priority upper case", lambda q, _: save(q, priority="HIGH"), InvalidJob, "unknown"),
    api("priority float", lambda q, _: save(q, priority=1.5), InvalidJob, "name or an int"),
    api("priority bool", lambda q, _: save(q, priority=True), InvalidJob, "name or an int"),
    api("priority None", lambda q, _: save(q, priority=None), InvalidJob, "name or an int"),
    api("priority 2**20", lambda q, _: save(q, priority=2**20), InvalidJob, "out of range"),
    api("priority -2**20", lambda q, _: save(q, priority=-(2**20)), InvalidJob, "out of range"),
    api("priority 5000 digits", lambda q, _: save(q, priority=HUGE), InvalidJob, "out of range"),
    api("priority 10 MB name", lambda q, _: save(q, priority=BIG), InvalidJob, "unknown"),
    api("attempts 0", lambda q, _: save(q, attempts=0), InvalidJob, "attempts must be"),
    api("attempts -1", lambda q, _: save(q, attempts=-1), InvalidJob, "attempts must be"),
    api("attempts 10001", lambda q, _: save(q, attempts=10_001), InvalidJob, "more than 10000"),
    api("attempts float", lambda q, _: save(q, attempts=1.5), InvalidJob, "attempts must be"),
    api("attempts string", lambda q, _: save(q, attempts="3"), InvalidJob, "attempts must be"),
    api("attempts bool", lambda q, _: save(q, attempts=True), InvalidJob, "attempts must be"),
    api("attempts 5000 digits", lambda q, _: save(q, attempts=HUGE), InvalidJob, "more than"),
    api("attempts -5000 digits", lambda q, _: save(q, attempts=-HUGE), InvalidJob, "negative int"),
    api("delay -1", lambda q, _: save(q, delay=-1), InvalidJob, "delay must be >= 0"),
    api("delay NaN", lambda q, _: save(q, delay=float("nan")), InvalidJob, "delay must be"),
    api("delay Infinity", lambda q, _: save(q, delay=float("inf")), InvalidJob, "ten years"),
    api("delay string", lambda q, _: save(q, delay="5"), InvalidJob, "number of seconds"),
    api("delay bool", lambda q, _: save(q, delay=True), InvalidJob, "number of seconds"),
    api("delay 5000 digits", lambda q, _: save(q, delay=HUGE), InvalidJob, "ten years"),
    api("delay -5000 digits", lambda q, _: save(q, delay=-HUGE), InvalidJob, "delay must be"),
    api(
        "delay negative timedelta",
        lambda q, _: save(q, delay=timedelta(days=-1)),
        InvalidJob,
        "delay must be >= 0",
    ),
    api(
        "delay timedelta.max",
        lambda q, _: save(q, delay=timedelta.max),
        InvalidJob,
        "ten years",
    ),
    api("ttl 0", lambda q, _: save(q, ttl=0), InvalidJob, "ttl must be > 0"),
    api("ttl negative", lambda q, _: save(q, ttl=-5), InvalidJob, "ttl must be > 0"),
    api("ttl NaN", lambda q, _: save(q, ttl=float("nan")), InvalidJob, "ttl must be"),
    api("ttl under 1 ms", lambda q, _: save(q, ttl=1e-4), InvalidJob, "at least 0.001 s"),
    api("ttl string", lambda q, _: save(q, ttl="10"), InvalidJob, "number of seconds"),
    api(
        "backoff string", lambda q, _: save(q, backoff="exponential"), InvalidJob, "must be a dict"
    ),
    api("backoff list", lambda q, _: save(q, backoff=[1, 2]), InvalidJob, "must be a dict"),
    api(
        "backoff unknown type",
        lambda q, _: save(q, backoff={"type": "linear"}),
        InvalidJob,
        "backoff type",
    ),
    api(
        "backoff negative delay",
        lambda q, _: save(q, backoff={"delay": -1}),
        InvalidJob,
        "backoff delay must be >= 0",
    ),
    api(
        "backoff NaN delay",
        lambda q, _: save(q, backoff={"delay": float("nan")}),
        InvalidJob,
        "backoff delay",
    ),
    api(
        "backoff unknown keys of mixed types",
        lambda q, _: save(q, backoff={1: 2, "jitter": 3}),
        InvalidJob,
        "unknown keys",
    ),
    api(
        "backoff 10 MB key",
        lambda q, _: save(q, backoff={BIG: 1}),
        InvalidJob,
        "unknown keys",
    ),
    api(
        "remove_on_complete -1",
        lambda q, _: save(q, remove_on_complete=-1),
        InvalidJob,
        "remove_on_complete count",
    ),
    api(
        "remove_on_complete 2**64",
        lambda q, _: save(q, remove_on_complete=2**64),
        InvalidJob,
        "remove_on_complete count",
    ),
    api(
        "remove_on_complete 5000 digits",
        lambda q, _: save(q, remove_on_complete=HUGE),
        InvalidJob,
        "remove_on_complete count",
    ),
    api(
        "remove_on_complete string",
        lambda q, _: save(q, remove_on_complete="yes"),
        InvalidJob,
        "remove_on_complete must be",
    ),
    api(
        "remove_on_complete float",
        lambda q, _: save(q, remove_on_complete=1.5),
        InvalidJob,
        "remove_on_complete must be",
    ),
    api(
        "remove_on_complete zero age",
        lambda q, _: save(q, remove_on_complete=timedelta(0)),
        InvalidJob,
        "remove_on_complete age",
    ),
    # saving: bulk lists are checked whole before anything is sent
    api("add_bulk tuple", lambda q, _: q.add_bulk(()), InvalidJob, "list of Job"),
    api("add_bulk dicts", lambda q, _: q.add_bulk([{"type": "email"}]), InvalidJob, "list of Job"),
    api(
        "add_bulk the same job twice",
        lambda q, _: twice(q),
        InvalidJob,
        "same Job twice",
    ),
    api(
        "add_bulk one NaN among good jobs",
        lambda q, _: bulk(
            q, q.create("email", {"n": 1}), q.create("email", {"n": float("nan")}), q.create("sms")
        ),
        InvalidJob,
        "NaN",
    ),
    api(
        "add_bulk a saved job",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: bulk(q, job)),
        InvalidJob,
        "already saved",
    ),
    api(
        "save a saved job again",
        lambda q, ids: on_job(q, ids["delayed"], lambda job: job.save()),
        InvalidJob,
        "already saved",
    ),
    # Queue options
    api("lease 0", lambda q, _: other_queue(q, lease=0), InvalidJob, "lease must be"),
    api("lease NaN", lambda q, _: other_queue(q, lease=float("nan")), InvalidJob, "lease must be"),
    api("lease Infinity", lambda q, _: other_queue(q, lease=float("inf")), InvalidJob, "lease"),
    api("lease string", lambda q, _: other_queue(q, lease="30"), InvalidJob, "lease must be"),
    api("lease 5000 digits", lambda q, _: other_queue(q, lease=HUGE), InvalidJob, "lease must be"),
    api("max_stalls -1", lambda q, _: other_queue(q, max_stalls=-1), InvalidJob, "max_stalls"),
    api("max_stalls float", lambda q, _: other_queue(q, max_stalls=1.5), InvalidJob, "max_stalls"),
    api("max_payload 0", lambda q, _: other_queue(q, max_payload=0), InvalidJob, "max_payload"),
    api(
        "max_payload 5000 digits",
        lambda q, _: other_queue(q, max_payload=HUGE),
        InvalidJob,
        "max_payload",
    ),
    api("events_maxlen 99", lambda q, _: other_queue(q, events_maxlen=99), InvalidJob, "maxlen"),
    api(
        "events_maxlen 2**63 then save",
        lambda q, _: other_queue(q, events_maxlen=2**63).create("email", {}).save(),
        InvalidJob,
        "events_maxlen",
    ),
    api("url without scheme", lambda q, _: Queue(url="localhost:6379"), ConnectionFailed, "scheme"),
    api("url http", lambda q, _: Queue(url="http://127.0.0.1"), ConnectionFailed, "unsupported"),
    api(
        "url file path traversal",
        lambda q, _: Queue(url="file:///../../etc/passwd"),
        ConnectionFailed,
        "unsupported",
    ),
    api(
        "url port 99999",
        lambda q, _: Queue(url="redis://127.0.0.1:99999"),
        ConnectionFailed,
        "port",
    ),
    # ids: positive ints below 2**53, of a job that exists
    *(
        api(f"get_job id {shown}", lambda q, _, v=value: q.get_job(v), JobNotFound, "positive int")
        for shown, value in {"0": 0, "-1": -1, "2**53": 2**53, "'1'": "1", "None": None}.items()
    ),
    api("remove id 0", lambda q, _: q.remove(0), JobNotFound, "positive int"),
    api("retry id -1", lambda q, _: q.retry(-1), JobNotFound, "positive int"),
    api("get_log id 2**53", lambda q, _: q.get_log(2**53), JobNotFound, "positive int"),
    api("set_state id '1'", lambda q, _: q.set_state("1", "failed"), JobNotFound, "positive int"),
    api("set_priority id None", lambda q, _: q.set_priority(None, 1), JobNotFound, "positive int"),
    api("get_job id True", lambda q, _: q.get_job(True), JobNotFound, "positive int"),
    api("get_job id 1.0", lambda q, _: q.get_job(1.0), JobNotFound, "positive int"),
    api("get_job id NaN", lambda q, _: q.get_job(float("nan")), JobNotFound, "positive int"),
    api("get_job id 5000 digits", lambda q, _: q.get_job(HUGE), JobNotFound, "about 5000 digits"),
    api("get_job id 10 MB", lambda q, _: q.get_job(BIG), JobNotFound, "positive int"),
    api("get_errors id 0", lambda q, _: q.get_errors(0), JobNotFound, "positive int"),
    api("get_job unknown id", lambda q, _: q.get_job(MISSING), JobNotFound, "not found"),
    api("remove unknown id", lambda q, _: q.remove(MISSING), JobNotFound, "not found"),
    api("retry unknown id", lambda q, _: q.retry(MISSING), JobNotFound, "not found"),
    api(
        "set_state unknown id",
        lambda q, _: q.set_state(MISSING, "failed"),
        JobNotFound,
        "not found",
    ),
    api(
        "set_priority unknown id", lambda q, _: q.set_priority(MISSING, 1), JobNotFound, "not found"
    ),
    api(
        "retry an inactive job",
        lambda q, ids: q.retry(ids["inactive"]),
        InvalidState,
        "is inactive",
    ),
    api(
        "retry a complete job",
        lambda q, ids: q.retry(ids["complete"]),
        InvalidState,
        "is complete",
    ),
    # states and priorities by hand
    *(
        api(
            f"set_state {shown}",
            lambda q, ids, v=value: q.set_state(ids["inactive"], v),
            InvalidJob,
            says,
        )
        for shown, value, says in [
            ("unknown", "sleeping", "unknown state"),
            ("upper case", "FAILED", "unknown state"),
            ("active", "active", "only a worker"),
            ("with NUL", "failed\x00", "unknown state"),
            ("None", None, "unknown state"),
            ("list", ["failed"], "unknown state"),
            ("10 MB", BIG, "unknown state"),
        ]
    ),
    *(
        api(
            f"set_priority {shown}",
            lambda q, ids, v=value: q.set_priority(ids["inactive"], v),
            InvalidJob,
            says,
        )
        for shown, value, says in [
            ("unknown name", "urgent", "unknown priority"),
            ("2**20", 2**20, "out of range"),
            ("5000 digits", -HUGE, "out of range"),
            ("float", 0.5, "name or an int"),
            ("numeric string", "5", "unknown priority"),
        ]
    ),
    # listing and counting
    api("jobs unknown state", lambda q, _: q.jobs("sleeping"), InvalidJob, "unknown state"),
    api("jobs order", lambda q, _: q.jobs(order="random"), InvalidJob, "asc"),
    api("jobs start -1", lambda q, _: q.jobs(start=-1), InvalidJob, "start must be"),
    api("jobs stop -1", lambda q, _: q.jobs(stop=-1), InvalidJob, "stop must be"),
    api("jobs start string", lambda q, _: q.jobs(start="0"), InvalidJob, "start must be"),
    api("jobs backwards", lambda q, _: q.jobs(start=5, stop=2), InvalidJob, "ascending"),
    api("jobs 1001 at once", lambda q, _: q.jobs(start=0, stop=1000), InvalidJob, "<= 1000"),
    api(
        "jobs start 2**63",
        lambda q, _: q.jobs("inactive", start=2**63, stop=2**63 + 5),
        InvalidJob,
        "start must be",
    ),
    *(
        api(
            f"{verb} type {name}",
            lambda q, _, c=call, v=NAMES[name]: c(q, v),
            InvalidName,
            "job type",
        )
        for verb, call in {
            "counts": lambda q, v: q.counts(v),
            "jobs": lambda q, v: q.jobs("inactive", type=v),
            "pause": Queue.pause,
            "resume": Queue.resume,
            "is_paused": Queue.is_paused,
            "inactive_ids": Queue.inactive_ids,
            "process": lambda q, v: q.process(v, noop),
        }.items()
        for name in FEW_NAMES[verb]
    ),
    api("search empty", lambda q, _: q.search(""), InvalidJob, "1 to 200"),
    api("search blank", lambda q, _: q.search(" \t\n"), InvalidJob, "1 to 200"),
    api("search 201 characters", lambda q, _: q.search("x" * 201), InvalidJob, "1 to 200"),
    api("search 10 MB", lambda q, _: q.search(BIG), InvalidJob, "1 to 200"),
    api("search None", lambda q, _: q.search(None), InvalidJob, "1 to 200"),
    api("search limit 0", lambda q, _: q.search("a", limit=0), InvalidJob, "limit"),
    api("search limit 1001", lambda q, _: q.search("a", limit=1001), InvalidJob, "limit"),
    # events, handlers, progress and logs
    api("queue event unknown", lambda q, _: q.on("job exploded", noop), InvalidJob, "unknown"),
    api("queue event 10 MB", lambda q, _: q.on(BIG, noop), InvalidJob, "unknown queue event"),
    api("queue callback", lambda q, _: q.on("job complete", "print"), InvalidJob, "callable"),
    api(
        "job event unknown",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: job.on("done", noop)),
        InvalidJob,
        "unknown job event",
    ),
    api(
        "concurrency 0",
        lambda q, _: q.process("email", noop, concurrency=0),
        InvalidJob,
        "concurrency",
    ),
    api(
        "concurrency 5000 digits",
        lambda q, _: q.process("email", noop, concurrency=-HUGE),
        InvalidJob,
        "concurrency",
    ),
    api("handler not callable", lambda q, _: q.process("email", "noop"), InvalidJob, "callable"),
    api("run without handlers", lambda q, _: q.run(), InvalidJob, "no handlers"),
    api("wait unsaved job", lambda q, _: q.create("email").wait(1), InvalidJob, "not been saved"),
    *(
        api(
            f"progress {shown}",
            lambda q, ids, a=args: on_job(q, ids["inactive"], lambda job: job.progress(*a)),
            InvalidJob,
            says,
        )
        for shown, args, says in [
            ("NaN", (float("nan"),), "finite"),
            ("Infinity", (float("inf"),), "finite"),
            ("total 0", (1, 0), "total must be > 0"),
            ("string", ("50",), "must be a number"),
            ("5000 digits", (HUGE,), "about 5000 digits"),
            ("NaN data", (50, 100, {"a": float("nan")}), "NaN"),
            ("unserialisable data", (50, 100, {1, 2}), "not JSON-serialisable"),
            ("total 5e-324", (50, 5e-324), "out of range"),
            ("data over max_payload", (50, 100, {"blob": BIG}), "over the limit of 1048576"),
            ("data lone surrogate", (50, 100, {"a": "\udcff"}), "surrogates"),
        ]
    ),
    api(
        "log not a string",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: job.log(b"bytes")),
        InvalidJob,
        "must be a string",
    ),
    api(
        "log lone surrogate",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: job.log("\udcff")),
        InvalidJob,
        "not valid text",
    ),
    api(
        "log 10 MB",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: job.log(BIG)),
        InvalidJob,
        "over the limit of 1048576",
    ),
    api(
        "log format without its argument",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: job.log("100%", 5)),
        InvalidJob,
        "does not take",
    ),
    *(
        api(
            f"save_timeout {shown}",
            lambda q, _, v=value: other_queue(q, save_timeout=v),
            InvalidJob,
            "save_timeout must be",
        )
        for shown, value in {
            "0": 0,
            "-1": -1,
            "NaN": float("nan"),
            "Infinity": float("inf"),
            "string": "5",
            "None": None,
            "bool": True,
            "5000 digits": HUGE,
            "3601": 3601,
        }.items()
    ),
]


async def attempt(call: Call, queue: Queue, ids: dict[str, int]) -> None:
    outcome = call(queue, ids)  # raises at once, or returns what raises when awaited
    if inspect.isawaitable(outcome):
        await outcome


@pytest.mark.parametrize("case", API_CASES)
async def test_api_refuses_bad_input(battery: Battery, case: ApiCase) -> None:
    RAN["api"] += 1
    queue = Queue(url=battery.url, prefix=PREFIX)
    try:
        with pytest.raises(case.error) as caught:
            await attempt(case.call, queue, battery.ids)
    finally:
        await queue.close()
        battery.assert_unchanged("the call")
    assert type(caught.value) is case.error, repr(caught.value)[:500]
    assert_clear(str(caught.value), case.says)


# -- the pykue command -----------------------------------------------------------------------


@dataclass(frozen=True)
class CliCase:
    args: tuple[str, ...]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    options: bool = True  # give --url and --prefix of the seeded server first


def cli(id: str, args: list[str], code: int, says: str, **extra: Any) -> Any:
    return pytest.param(CliCase(tuple(args), code, says, **extra), id=id)


# Whole arguments replaced when the case runs: the server's URL, files made for it.
URL = "$URL"
INACTIVE, FAILED = "$INACTIVE", "$FAILED"
FILES: dict[str, bytes] = {
    "$TEN_MB_LINE": b'{"blob": "' + BIG.encode() + b'"}\n',
    "$NAN_LINE": b'{"n": 1}\n{"n": NaN}\n',
    "$DEEP_LINE": deep_json(5000) + b"\n",
    "$ARRAY_LINE": b'{"n": 1}\n[1, 2]\n',
    "$EMPTY": b"\n\n",
    "$BINARY": b"\xff\xfe\x00\x01",
}

CLI_CASES = [
    *(
        cli(f"enqueue type {name}", ["enqueue", NAMES[name], "{}"], 2, "job type")
        for name in ARGV_NAMES
    ),
    cli("enqueue not JSON", ["enqueue", "email", "not json"], 2, "not valid JSON"),
    cli("enqueue array", ["enqueue", "email", "[1, 2]"], 2, "JSON object"),
    cli("enqueue null", ["enqueue", "email", "null"], 2, "JSON object"),
    cli("enqueue string", ["enqueue", "email", '"to"'], 2, "JSON object"),
    cli("enqueue NaN", ["enqueue", "email", '{"a": NaN}'], 2, "not valid JSON"),
    cli("enqueue Infinity", ["enqueue", "email", '{"a": -Infinity}'], 2, "not valid JSON"),
    cli("enqueue 1e400", ["enqueue", "email", '{"a": 1e400}'], 2, "infinity"),
    cli("enqueue surrogate", ["enqueue", "email", '{"a": "\\ud800"}'], 2, "not valid JSON"),
    cli("enqueue arrays 5000 deep", ["enqueue", "email", deep_json(5000).decode()], 2, "depth"),
    cli(
        "enqueue objects 300 deep",
        ["enqueue", "email", json.dumps(nested(300))],
        2,
        "Recursion limit",
    ),
    cli("priority unknown", ["enqueue", "email", "{}", "--priority", "urgent"], 2, "urgent"),
    cli("priority 2**20", ["enqueue", "email", "{}", "--priority", "1048576"], 2, "out of range"),
    cli(
        "priority 5000 digits", ["enqueue", "email", "{}", "--priority", "9" * 5000], 2, "priority"
    ),
    cli(
        "priority arabic digits",
        ["enqueue", "email", "{}", "--priority", "\u0661\u0660"],
        2,
        "unknown priority",
    ),
    cli("priority underscore", ["enqueue", "email", "{}", "--priority", "1_0"], 2, "unknown"),
    cli("delay negative", ["enqueue", "email", "{}", "--delay", "-1"], 2, ">= 0"),
    cli("delay NaN", ["enqueue", "email", "{}", "--delay", "nan"], 2, "finite"),
    cli("delay Infinity", ["enqueue", "email", "{}", "--delay", "inf"], 2, "finite"),
    cli("delay 1e12", ["enqueue", "email", "{}", "--delay", "1e12"], 2, "ten years"),
    cli("delay word", ["enqueue", "email", "{}", "--delay", "soon"], 2, "number of seconds"),
    cli(
        "delay fullwidth digits",
        ["enqueue", "email", "{}", "--delay", "\uff15"],
        2,
        "number of seconds",
    ),
    cli("ttl 0", ["enqueue", "email", "{}", "--ttl", "0"], 2, "> 0"),
    cli("ttl 1e-9", ["enqueue", "email", "{}", "--ttl", "1e-9"], 2, "at least 0.001 s"),
    cli("attempts 0", ["enqueue", "email", "{}", "--attempts", "0"], 2, "--attempts"),
    cli("attempts 10001", ["enqueue", "email", "{}", "--attempts", "10001"], 2, "--attempts"),
    cli("attempts word", ["enqueue", "email", "{}", "--attempts", "three"], 2, "--attempts"),
    cli("backoff unknown", ["enqueue", "email", "{}", "--backoff", "linear:1"], 2, "backoff type"),
    cli("backoff NaN", ["enqueue", "email", "{}", "--backoff", "fixed:nan"], 2, "backoff delay"),
    cli("backoff 1e400", ["enqueue", "email", "{}", "--backoff", "exponential:1e400"], 2, "ten"),
    cli("backoff negative", ["enqueue", "email", "{}", "--backoff", "fixed:-1"], 2, ">= 0"),
    cli(
        "backoff arabic digit",
        ["enqueue", "email", "{}", "--backoff", "fixed:\u0661"],
        2,
        "not a number",
    ),
    cli(
        "file 10 MB line", ["enqueue", "email", "--file", "$TEN_MB_LINE"], 2, "longer than 4194304"
    ),
    cli("file NaN line", ["enqueue", "email", "--file", "$NAN_LINE"], 2, "line 2: not valid JSON"),
    cli("file deep line", ["enqueue", "email", "--file", "$DEEP_LINE"], 2, "depth limit"),
    cli("file array line", ["enqueue", "email", "--file", "$ARRAY_LINE"], 2, "line 2: expected"),
    cli("file blank", ["enqueue", "email", "--file", "$EMPTY"], 2, "holds no jobs"),
    cli("file binary", ["enqueue", "email", "--file", "$BINARY"], 2, "not valid JSON"),
    cli(
        "file path traversal",
        ["enqueue", "email", "--file", "../../../../../../../../etc/passwd"],
        2,
        "line 1: not valid JSON",
    ),
    cli("file missing", ["enqueue", "email", "--file", "/no/such/file.jsonl"], 2, "--file"),
    *(
        cli(f"jobs {verb} id {shown}", ["jobs", verb, value], 2, "a job id is a positive integer")
        for verb, shown, value in [
            ("show", "word", "abc"),
            ("show", "0", "0"),
            ("show", "2**53", str(2**53)),
            ("show", "5000 digits", "9" * 5000),
            ("show", "arabic digit", "\u0661"),  # int() reads it as 1
            ("show", "underscore", "1_0"),  # int() reads it as 10
            ("show", "plus sign", "+1"),
            ("show", "spaces", " 1 "),
            ("show", "path traversal", "../1"),
            ("remove", "arabic digit", "\u0661"),
            ("remove", "fullwidth digit", "\uff11"),
            ("retry", "underscore", "1_0"),
        ]
    ),
    cli("jobs show id negative", ["jobs", "show", "-1"], 2, "No such option '-1'"),
    cli("jobs show unknown id", ["jobs", "show", str(MISSING)], 1, f"job {MISSING} not found"),
    cli("jobs remove unknown id", ["jobs", "remove", str(MISSING)], 1, "not found"),
    cli("jobs retry unknown id", ["jobs", "retry", str(MISSING)], 1, "not found"),
    cli("jobs retry an inactive job", ["jobs", "retry", INACTIVE], 1, "only failed jobs"),
    cli("jobs list unknown state", ["jobs", "list", "--state", "sleeping"], 2, "--state"),
    *(
        cli(f"jobs list type {name}", ["jobs", "list", "--type", NAMES[name]], 2, "job type")
        for name in SOME_NAMES
    ),
    cli("jobs list start -1", ["jobs", "list", "--start", "-1"], 2, "--start"),
    cli(
        "jobs list start 2**63",
        ["jobs", "list", "--state", "inactive", "--start", str(2**63), "--stop", str(2**63 + 5)],
        2,
        "below 2**53",
    ),
    cli("jobs list start 2**63 all states", ["jobs", "list", "--start", str(2**63)], 2, "2**53"),
    cli("jobs list 5000 at once", ["jobs", "list", "--stop", "5000"], 2, "at most 1000"),
    cli("jobs list order", ["jobs", "list", "--order", "random"], 2, "--order"),
    cli("jobs unknown command", ["jobs", "purge"], 2, "No such command"),
    cli("stats extra argument", ["stats", "*"], 2, "unexpected extra argument"),
    cli("stats unknown option", ["stats", "--all"], 2, "No such option"),
    cli("unknown command", ["flushall"], 2, "No such command"),
    cli(
        "worker path traversal",
        ["worker", "../../etc/passwd"],
        2,
        "is not MODULE[:ATTR]",
    ),
    cli("worker not a queue", ["worker", "os:system"], 2, "not a pykue.Queue"),
    cli("worker shell text", ["worker", "tasks; rm -rf /"], 2, "is not MODULE[:ATTR]"),
    cli("worker concurrency 0", ["worker", "tasks", "--concurrency", "0"], 2, "--concurrency"),
    cli("dashboard port 70000", ["dashboard", "--port", "70000"], 2, "--port"),
    cli("dashboard port -1", ["dashboard", "--port", "-1"], 2, "--port"),
    # the global options and the environment
    *(
        cli(
            f"prefix {name}",
            ["--url", URL, "--prefix", NAMES[name], "stats"],
            2,
            "prefix",
            options=False,
        )
        for name in ["empty", "129 characters", "hash tag braces", "glob star", "RESP injection"]
    ),
    cli("url http", ["--url", "http://127.0.0.1", "stats"], 2, "unsupported", options=False),
    cli("url no scheme", ["--url", "localhost", "stats"], 2, "no scheme", options=False),
    cli("url port", ["--url", "redis://127.0.0.1:99999", "stats"], 2, "port", options=False),
    cli(
        "PYKUE_PREFIX glob",
        ["--url", URL, "stats"],
        1,
        "prefix",
        env={"PYKUE_PREFIX": "*"},
        options=False,
    ),
    cli(
        "PYKUE_PREFIX braces",
        ["--url", URL, "jobs", "list"],
        1,
        "prefix",
        env={"PYKUE_PREFIX": "{chaos}"},
        options=False,
    ),
    cli(
        "REDIS_URL path traversal",
        ["--prefix", PREFIX, "stats"],
        1,
        "REDIS_URL",
        env={"REDIS_URL": "file:///../../etc/passwd"},
        options=False,
    ),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bad-input")
    paths = {}
    for name, content in FILES.items():
        path = folder / (name.strip("$").lower() + ".jsonl")
        path.write_bytes(content)
        paths[name] = str(path)
    return paths


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_refuses_bad_input(
    battery: Battery,
    files: dict[str, str],
    case: CliCase,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    RAN["cli"] += 1
    # main() runs in this process: what a command sets up for itself (worker exports
    # REDIS_URL and PYKUE_PREFIX, and puts the working directory on sys.path) is undone.
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "PYKUE_PREFIX", "PYKUE_DASHBOARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYKUE_EMBEDDED", "0")
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(Path(files["$EMPTY"]).parent)
    known = {
        URL: battery.url,
        INACTIVE: str(battery.ids["inactive"]),
        FAILED: str(battery.ids["failed"]),
        **files,
    }
    args = [known.get(arg, arg) for arg in case.args]
    if case.options:
        args = ["--url", battery.url, "--prefix", PREFIX, *args]

    try:
        code = main(args)  # an exception escaping it is what a user would see as a traceback
    finally:
        battery.assert_unchanged("the command")
    out, err = capsys.readouterr()
    assert (code, out) == (case.code, ""), err
    lines = err.splitlines()
    assert len(lines) == 1, err[:2000]
    assert lines[0].startswith("pykue: error: "), lines[0]
    assert_clear(lines[0], case.says)


# -- the HTTP API ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpCase:
    method: str
    path: str
    body: Any  # bytes/str sent as they are, None for no body, else encoded as JSON
    status: int
    says: str
    headers: dict[str, str] = field(default_factory=dict)


def http(id: str, method: str, path: str, body: Any, status: int, says: str, **extra: Any) -> Any:
    return pytest.param(HttpCase(method, path, body, status, says, **extra), id=id)


def job_body(**fields: Any) -> dict[str, Any]:
    return {"type": "email", "data": {"to": "c@example.com"}, **fields}


def segment(name: str) -> str:
    return quote(name, safe="")


# {inactive}, {failed} ... in a path are the seeded jobs' ids.
HTTP_CASES = [
    # POST /job: the body
    http("body not JSON", "POST", "/job", b"not json", 400, "must be JSON"),
    http("body empty", "POST", "/job", b"", 400, "must be JSON"),
    http("body binary", "POST", "/job", b"\xff\xfe\x00{", 400, "must be JSON"),
    http("body null", "POST", "/job", b"null", 400, "must be an object"),
    http("body number", "POST", "/job", b"42", 400, "must be an object"),
    http("body string", "POST", "/job", b'"email"', 400, "must be an object"),
    http("body empty list", "POST", "/job", b"[]", 400, "1 to 1000"),
    http("body 1001 jobs", "POST", "/job", [job_body()] * 1001, 400, "1 to 1000"),
    http("body arrays 100000 deep", "POST", "/job", deep_json(100_000), 400, "must be JSON"),
    http(
        "body objects 5000 deep",
        "POST",
        "/job",
        b'{"type": "email", "data": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        400,
        "must be JSON",
    ),
    # over the guard's cap (4 x max_payload): refused before the body is parsed
    http("body 10 MB not JSON", "POST", "/job", b"x" * TEN_MB, 413, "over the limit of 4194304"),
    http(
        "body 10 MB data",
        "POST",
        "/job",
        b'{"type": "email", "data": {"blob": "' + BIG.encode() + b'"}}',
        413,
        "over the limit of 4194304",
    ),
    http("body 10 MB type", "POST", "/job", {"type": BIG}, 413, "over the limit"),
    http("body 10 MB field name", "POST", "/job", {"type": "email", BIG: 1}, 413, "over the limit"),
    http(
        "body 2 MB data",
        "POST",
        "/job",
        b'{"type": "email", "data": {"blob": "' + BIG[: 2 << 20].encode() + b'"}}',
        400,
        "over the limit of 1048576",
    ),
    http("body 2 MB type", "POST", "/job", {"type": BIG[: 2 << 20]}, 400, "job type 'xxxx"),
    http("data NaN", "POST", "/job", b'{"type": "email", "data": {"a": NaN}}', 400, "NaN"),
    http(
        "data Infinity", "POST", "/job", b'{"type": "email", "data": {"a": -Infinity}}', 400, "NaN"
    ),
    http("data 1e400", "POST", "/job", b'{"type": "email", "data": {"a": 1e400}}', 400, "Infinity"),
    http("data int over 64 bits", "POST", "/job", job_body(data={"a": 2**64}), 400, "64-bit"),
    http(
        "data 5000-digit int",
        "POST",
        "/job",
        b'{"type": "email", "data": {"a": ' + b"9" * 5000 + b"}}",
        400,
        "must be JSON",
    ),
    http(
        "data lone surrogate",
        "POST",
        "/job",
        b'{"type": "email", "data": {"a": "\\ud800"}}',
        400,
        "surrogates",
    ),
    http("data nested 300 deep", "POST", "/job", job_body(data=nested(300)), 400, "Recursion"),
    http("data list", "POST", "/job", job_body(data=[1, 2]), 400, "JSON object"),
    http("data string", "POST", "/job", job_body(data="to"), 400, "JSON object"),
    http("data number", "POST", "/job", job_body(data=0), 400, "JSON object"),
    http("no type", "POST", "/job", {"data": {}}, 400, "needs a type"),
    http("type number", "POST", "/job", {"type": 42}, 400, "must be a string"),
    http("type null", "POST", "/job", {"type": None}, 400, "must be a string"),
    *(
        http(f"type {name}", "POST", "/job", {"type": NAMES[name]}, 400, "job type")
        for name in NAMES
        if name != "10 MB"
    ),
    http("unknown field", "POST", "/job", job_body(priority="high"), 400, "unknown job fields"),
    http("options list", "POST", "/job", job_body(options=[]), 400, "options must be an object"),
    http("options zero", "POST", "/job", job_body(options=0), 400, "options must be an object"),
    http("options empty string", "POST", "/job", job_body(options=""), 400, "options must be"),
    http("options false", "POST", "/job", job_body(options=False), 400, "options must be"),
    http("options unknown key", "POST", "/job", job_body(options={"colour": 1}), 400, "options"),
    *(
        http(f"option {key} {shown}", "POST", "/job", job_body(options={key: value}), 400, says)
        for key, shown, value, says in [
            ("priority", "unknown", "urgent", "unknown priority"),
            ("priority", "2**20", 2**20, "out of range"),
            ("priority", "true", True, "name or an int"),
            ("priority", "float", 1e3, "name or an int"),
            ("attempts", "0", 0, "attempts must be"),
            ("attempts", "10001", 10_001, "more than 10000"),
            ("attempts", "string", "3", "attempts must be"),
            ("delay", "negative", -1, "delay must be >= 0"),
            ("delay", "string", "5", "number of seconds"),
            ("delay", "1e300", 1e300, "ten years"),
            ("ttl", "0", 0, "ttl must be > 0"),
            ("backoff", "string", "exponential", "must be a dict"),
            ("backoff", "unknown type", {"type": "linear"}, "backoff type"),
            ("backoff", "negative delay", {"delay": -1}, ">= 0"),
            ("unique", "glob", "welcome-*", "unique key"),
            ("unique", "braces", "{chaos}", "unique key"),
            ("remove_on_complete", "negative", -1, "count must be"),
            ("remove_on_complete", "2**64", 2**64, "count must be"),
            ("remove_on_complete", "string", "yes", "remove_on_complete must be"),
        ]
    ),
    http(
        "option delay NaN",
        "POST",
        "/job",
        b'{"type": "email", "options": {"delay": NaN}}',
        400,
        "delay must be",
    ),
    http(
        "a batch with one bad job",
        "POST",
        "/job",
        [job_body(), job_body(options={"delay": -1}), job_body()],
        400,
        "delay must be",
    ),
    http("a batch holding a list", "POST", "/job", [job_body(), [job_body()]], 400, "an object"),
    # the other write routes
    *(
        http(f"{method} {path} id {shown}", method, path.format(id=value), None, 400, "positive")
        for method, path, shown, value in [
            *(
                ("PUT", "/job/{id}/state/failed", shown, value)
                for shown, value in {
                    "word": "abc",
                    "0": "0",
                    "negative": "-1",
                    "16 digits": "9" * 16,
                    "float": "1.5",
                    "NUL": "1%00",
                    "arabic digit": "%D9%A1",
                    "dot dot": "%2E%2E",
                }.items()
            ),
            ("PUT", "/job/{id}/priority/high", "0", "0"),
            ("PUT", "/job/{id}/priority/high", "fullwidth digit", "%EF%BC%91"),
            ("DELETE", "/job/{id}", "negative", "-1"),
            ("DELETE", "/job/{id}", "glob", "%2A"),
            ("POST", "/job/{id}/retry", "float", "1.5"),
            ("POST", "/job/{id}/retry", "16 digits", "9" * 16),
        ]
    ),
    http("state of unknown id", "PUT", f"/job/{MISSING}/state/failed", None, 404, "not found"),
    http("priority of unknown id", "PUT", f"/job/{MISSING}/priority/low", None, 404, "not found"),
    http("remove unknown id", "DELETE", f"/job/{MISSING}", None, 404, "not found"),
    http("retry unknown id", "POST", f"/job/{MISSING}/retry", None, 404, "not found"),
    http("retry an inactive job", "POST", "/job/{inactive}/retry", None, 409, "is inactive"),
    http("retry a complete job", "POST", "/job/{complete}/retry", None, 409, "is complete"),
    *(
        http(f"state {shown}", "PUT", "/job/{inactive}/state/" + value, None, 400, says)
        for shown, value, says in [
            ("unknown", "sleeping", "unknown state"),
            ("active", "active", "only a worker"),
            ("upper case", "FAILED", "unknown state"),
            ("NUL", "failed%00", "unknown state"),
            ("glob", "%2A", "unknown state"),
            ("dot dot", "%2E%2E", "unknown state"),
        ]
    ),
    *(
        http(f"priority {shown}", "PUT", "/job/{inactive}/priority/" + value, None, 400, says)
        for shown, value, says in [
            ("unknown", "urgent", "unknown priority"),
            ("2**20", "1048576", "out of range"),
            ("12 digits", "999999999999", "out of range"),
            ("13 digits", "9999999999999", "unknown priority"),
            ("exponent", "1e3", "unknown priority"),
            ("NaN", "NaN", "unknown priority"),
            ("NUL", "%00", "unknown priority"),
            ("fullwidth digit", "%EF%BC%95", "unknown priority"),
        ]
    ),
    *(
        http(
            f"{verb} type {name}",
            "POST",
            f"/types/{segment(NAMES[name])}/{verb}",
            None,
            400,
            "job type",
        )
        for verb, name in [
            *(("pause", name) for name in PATH_NAMES),
            ("resume", "glob star"),
            ("resume", "hash tag braces"),
        ]
    ),
    http("pause type with slashes", "POST", "/types/..%2F..%2Fetc/pause", None, 404, "Not Found"),
    # every write route needs the token once one is set, whatever the input
    *(
        http(
            f"{method} {path} {shown}", method, path, body, 401, "needs its token", headers=headers
        )
        for method, path, body, shown, headers in [
            *(
                (method, path, body, "wrong token", {"Authorization": "Bearer guess"})
                for method, path, body in [
                    ("POST", "/job", job_body()),
                    ("PUT", "/job/{inactive}/state/failed", None),
                    ("PUT", "/job/{inactive}/priority/low", None),
                    ("DELETE", "/job/{inactive}", None),
                    ("POST", "/job/{failed}/retry", None),
                    ("POST", "/types/email/pause", None),
                    ("POST", "/types/sms/resume", None),
                ]
            ),
            ("POST", "/job", job_body(), "without token", {}),
            ("POST", "/job", job_body(), "token without Bearer", {"Authorization": TOKEN}),
            ("DELETE", "/job/{inactive}", None, "token with NUL", {"Authorization": "Bearer \x00"}),
        ]
    ),
    # writes take JSON only, so no HTML form and no no-preflight fetch can send one
    *(
        http(f"body as {media}", "POST", "/job", body, 415, "application/json", headers=headers)
        for media, body, headers in [
            ("text/plain", json.dumps(job_body()).encode(), {"Content-Type": "text/plain"}),
            ("form", b"type=email", {"Content-Type": "application/x-www-form-urlencoded"}),
            (
                "multipart",
                b'--b\r\nContent-Disposition: form-data; name="type"\r\n\r\nemail\r\n--b--\r\n',
                {"Content-Type": "multipart/form-data; boundary=b"},
            ),
            ("no type", b'{"type": "email"}', {"Content-Type": ""}),
        ]
    ),
    http(
        "empty form to retry",
        "POST",
        "/job/{failed}/retry",
        None,
        415,
        "application/json",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    # cross-site requests: what a browser marks a page's request to another site with
    *(
        http(f"{method} {path} {shown}", method, path, body, 403, "cross-site", headers=headers)
        for method, path, body in [
            ("POST", "/job", job_body()),
            ("PUT", "/job/{inactive}/state/failed", None),
            ("DELETE", "/job/{inactive}", None),
            ("POST", "/job/{failed}/retry", None),
            ("POST", "/types/email/pause", None),
        ]
        for shown, headers in [
            ("cross-site", {"Sec-Fetch-Site": "cross-site"}),
            ("same-site", {"Sec-Fetch-Site": "same-site"}),
            ("foreign Origin", {"Origin": "http://127.0.0.2:8000"}),
            ("Origin of another port", {"Origin": "http://localhost:1"}),
            ("Origin null", {"Origin": "null"}),
        ]
    ),
    # DNS rebinding: a name that resolves to this server but is not its own
    *(
        http(f"{method} {path} Host {host}", method, path, body, 421, "host", headers=headers)
        for method, path, body in [
            ("GET", "/job/{inactive}", None),
            ("GET", "/events", None),
            ("GET", "/", None),
            ("POST", "/job", job_body()),
            ("DELETE", "/job/{inactive}", None),
        ]
        for host, headers in [
            ("evil.example", {"Host": "evil.example"}),
            ("with port", {"Host": "evil.example:3000"}),
            ("localhost suffix", {"Host": "localhost.evil.example"}),
            ("127 prefix", {"Host": "127.0.0.1.evil.example"}),
        ]
    ),
    *(
        http(f"Content-Length {shown}", "POST", "/job", None, status, says, headers=headers)
        for shown, status, says, headers in [
            ("5000 digits", 413, "over the limit", {"Content-Length": "9" * 5000}),
            ("not a number", 400, "Content-Length", {"Content-Length": "12x"}),
        ]
    ),
    http("foreign Host OPTIONS", "OPTIONS", "/job/1", None, 421, "host", headers={"Host": "x.y"}),
    http("OPTIONS of an unknown route", "OPTIONS", "/keys/%2A", None, 404, "Not Found"),
    # refused values are quoted shortened, however long the segment
    *(
        http(f"{method} long {what}", method, path.format(long="x" * 20_000), None, 400, says)
        for method, what, path, says in [
            ("GET", "id", "/job/{long}", "positive whole"),
            ("GET", "log id", "/job/{long}/log", "positive whole"),
            ("GET", "range", "/jobs/{long}/asc", "FROM..TO"),
            ("GET", "order", "/jobs/0..9/{long}", "asc or desc"),
            ("GET", "state", "/jobs/{long}/0..9/asc", "unknown state"),
            ("GET", "type", "/jobs/{long}/inactive/0..9/asc", "job type"),
            ("GET", "type count", "/jobs/{long}/inactive/stats", "job type"),
            ("PUT", "state", "/job/1/state/{long}", "unknown state"),
            ("PUT", "priority", "/job/1/priority/{long}", "unknown priority"),
            ("DELETE", "id", "/job/{long}", "positive whole"),
            ("POST", "type", "/types/{long}/pause", "job type"),
        ]
    ),
    # the parametrised GET routes
    *(
        http(
            f"GET {path} bad id {shown}", "GET", path.format(id=value), None, 400, "positive whole"
        )
        for path, shown, value in [
            *(
                ("/job/{id}", shown, value)
                for shown, value in {"word": "abc", "0": "0", "30 digits": "9" * 30}.items()
            ),
            ("/job/{id}/log", "NUL", "%00"),
            ("/job/{id}/errors", "unicode", "%C3%A9"),
        ]
    ),
    http("GET unknown id", "GET", f"/job/{MISSING}", None, 404, "not found"),
    http("GET log of unknown id", "GET", f"/job/{MISSING}/log", None, 404, "not found"),
    http("GET errors of unknown id", "GET", f"/job/{MISSING}/errors", None, 404, "not found"),
    http("GET jobs 5000 at once", "GET", "/jobs/0..5000/asc", None, 400, "at most 1000"),
    http("GET jobs backwards", "GET", "/jobs/5..1/asc", None, 400, "go up"),
    http("GET jobs negative", "GET", "/jobs/-1..5/asc", None, 400, "FROM..TO"),
    http("GET jobs 10 digits", "GET", "/jobs/9999999999..9999999999/asc", None, 400, "FROM..TO"),
    http("GET jobs words", "GET", "/jobs/a..b/asc", None, 400, "FROM..TO"),
    http("GET jobs order", "GET", "/jobs/0..9/sideways", None, 400, "asc or desc"),
    http("GET jobs state", "GET", "/jobs/sleeping/0..9/asc", None, 400, "unknown state"),
    http("GET jobs state glob", "GET", "/jobs/%2A/0..9/asc", None, 400, "unknown state"),
    *(
        http(
            f"GET {what} type {name}",
            "GET",
            path.format(segment(NAMES[name])),
            None,
            400,
            "job type",
        )
        for what, path, name in [
            *(("jobs", "/jobs/{}/inactive/0..9/asc", name) for name in PATH_NAMES),
            ("stats", "/jobs/{}/inactive/stats", "glob star"),
            ("stats", "/jobs/{}/inactive/stats", "RESP injection"),
            ("inactive", "/inactive/{}", "glob class"),
            ("inactive", "/inactive/{}", "hash tag braces"),
        ]
    ),
    http("GET stats of a state", "GET", "/jobs/email/sleeping/stats", None, 400, "unknown state"),
    http("search empty", "GET", "/job/search?q=", None, 400, "1 to 200"),
    http("search blank", "GET", "/job/search?q=%20%0A", None, 400, "1 to 200"),
    http("search 201 characters", "GET", "/job/search?q=" + "x" * 201, None, 400, "1 to 200"),
    # a URL cannot carry 10 MB (clients and servers refuse it): the longest httpx sends
    http("search 60 KB", "GET", "/job/search?q=" + "x" * 60_000, None, 400, "1 to 200"),
    http(
        "static path traversal",
        "GET",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        None,
        404,
        "Not Found",
    ),
    http("static dot dot", "GET", "/static/%2E%2E/api.py", None, 404, "Not Found"),
    http("id path traversal", "GET", "/job/..%2F..%2Fetc%2Fpasswd", None, 404, "Not Found"),
    http("unknown route", "GET", "/keys/%2A", None, 404, "Not Found"),
    http("wrong method", "PATCH", "/job/{inactive}", None, 405, "Method Not Allowed"),
    http("wrong method on a list", "DELETE", "/jobs/0..9/asc", None, 405, "Method Not Allowed"),
]


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


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", HTTP_CASES)
async def test_http_refuses_bad_input(
    battery: Battery, web: dict[bool, httpx2.AsyncClient], case: HttpCase
) -> None:
    RAN["http"] += 1
    body = case.body
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    path = case.path.format(**battery.ids) if "{" in case.path else case.path
    client = web[case.status == 401]
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        response = await client.request(
            case.method, path, content=body, headers=headers | case.headers
        )
    finally:
        battery.assert_unchanged("the request")
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert list(answer) == ["error"], answer
    assert_clear(answer["error"], case.says)


# -- answered, not refused --------------------------------------------------------------------
# Unknown types are not errors to a read (Kue's routes count them as 0), and search text
# is plain text: glob characters in it match only themselves, never a key pattern.

NO_COUNTS = dict.fromkeys(("inactive", "active", "complete", "failed", "delayed"), 0)


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        pytest.param(lambda q: q.counts("nosuchtype"), NO_COUNTS, id="counts unknown type"),
        pytest.param(lambda q: q.jobs("failed", type="nosuchtype"), [], id="jobs unknown type"),
        pytest.param(lambda q: q.inactive_ids("nosuchtype"), [], id="inactive unknown type"),
        pytest.param(lambda q: q.is_paused("nosuchtype"), False, id="is_paused unknown type"),
        pytest.param(lambda q: q.get_log(MISSING), [], id="log of unknown id"),
        pytest.param(lambda q: q.search("*"), [], id="search glob star"),
        pytest.param(lambda q: q.search("[a-z]"), [], id="search glob class"),
        pytest.param(lambda q: q.search("{chaos}:job:?"), [], id="search key pattern"),
    ],
)
async def test_api_reads_of_unknown_names_answer_empty(
    battery: Battery, call: Callable[[Queue], Awaitable[Any]], answer: Any
) -> None:
    RAN["api"] += 1
    queue = Queue(url=battery.url, prefix=PREFIX)
    try:
        assert await call(queue) == answer
    finally:
        await queue.close()
        battery.assert_unchanged("the read")


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("path", "answer"),
    [
        pytest.param("/jobs/nosuchtype/failed/stats", {"count": 0}, id="count unknown type"),
        pytest.param("/jobs/nosuchtype/inactive/0..9/asc", [], id="jobs unknown type"),
        pytest.param("/inactive/nosuchtype", [], id="inactive unknown type"),
        pytest.param("/job/search?q=%2A", [], id="search glob star"),
        pytest.param("/job/search?q=%7Bchaos%7D%3Ajob%3A%3F", [], id="search key pattern"),
    ],
)
async def test_http_reads_of_unknown_names_answer_empty(
    battery: Battery, web: dict[bool, httpx2.AsyncClient], path: str, answer: Any
) -> None:
    RAN["http"] += 1
    try:
        response = await web[False].get(path)
    finally:
        battery.assert_unchanged("the read")
    assert (response.status_code, response.json()) == (200, answer)
