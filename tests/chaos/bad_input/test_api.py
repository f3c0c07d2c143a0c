"""Bad input through the Python API: each row of API_CASES is one call on a queue of the
seeded server, the exact pykue exception it must raise and a part of its message.

To add an input, add a row: ``api(id, lambda q, ids: <the call>, ErrorClass, "says")``;
``ids["inactive"]`` (or "complete", "failed", "delayed", "paused", "waiting": the last
depends on the two before) is a seeded job. For the same call with many values, loop
over the values with one of the ``...ing`` helpers below (or a new one), which bind a
value without the late binding of a lambda in a loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import redis

from pykue import JobFailed, JobState, Queue, Worker
from pykue.errors import (
    ConnectionFailed,
    InvalidArgument,
    InvalidJob,
    InvalidName,
    InvalidState,
    JobNotFound,
    JobTimeout,
    ScheduleNotFound,
)
from pykue.job import Job
from pykue.keys import STATES, Keys
from tests.chaos.bad_input.conftest import (
    BIG,
    HUGE,
    MISSING,
    NAMES,
    PREFIX,
    SOME_NAMES,
    ApiCase,
    Battery,
    Call,
    Ids,
    api,
    assert_clear,
    nested,
)
from tests.chaos.support import ChaosRedis

# The calls other than create that check a job type take a few names each.
FEW_NAMES = {
    "counts": ["glob star", "RESP injection"],
    "jobs": ["hash tag braces", "glob class"],
    "pause": ["glob question mark", "newline"],
    "resume": ["hash tag braces", "emoji"],
    "is_paused": ["glob star", "NUL"],
    "inactive_ids": ["glob class", "path traversal"],
    "process": ["space", "10 MB"],
}


def self_referencing() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


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


# -- graphs of unsaved jobs, for the dependency rows ------------------------------------------


def line(queue: Queue, count: int) -> list[Job]:
    """``count`` unsaved jobs, each depending on the one before."""
    jobs = [queue.create("step", {"n": 0})]
    for n in range(1, count):
        jobs.append(queue.create("step", {"n": n}, depends_on=[jobs[-1]]))
    return jobs


def loop(queue: Queue, length: int) -> Awaitable[Job]:
    """Saving the first of ``length`` jobs, each depending on the next and the last on
    the first (one job: on itself). create() cannot make a loop: what a job depends on
    must exist before it, so the loop is closed through the attribute."""
    jobs = [queue.create("step", {"n": n}) for n in range(length)]
    for job, after in zip(jobs, [*jobs[1:], jobs[0]], strict=True):
        job.depends_on = [after]
    return jobs[0].save()


def chain_back(queue: Queue) -> Awaitable[list[Job]]:
    """A chain whose second step is what its first depends on."""
    first = queue.create("step", {})
    return queue.chain([queue.create("step", {}, depends_on=[first]), first])


def chord_back(queue: Queue) -> Awaitable[list[Job]]:
    """A group member depending on the group's own ``then``."""
    then = queue.create("summary", {})
    return queue.group([queue.create("step", {}, depends_on=[then])], then=then)


def fan_in(queue: Queue, children: int) -> Job:
    return queue.create("report", {}, children=[queue.create("step") for _ in range(children)])


def elsewhere(queue: Queue) -> Job:
    """An unsaved job of another queue (prefix) on the same server."""
    return other_queue(queue, prefix="elsewhere").create("email", {})


# -- calls with one value bound, for the rows made in loops --------------------------------


def saving_type(job_type: Any) -> Call:
    return lambda q, _: save_type(q, job_type)


def saving(**options: Any) -> Call:
    """Saving an email job with ``options``."""
    return lambda q, _: save(q, **options)


def opening(**options: Any) -> Call:
    """Making another queue on the seeded server with ``options``."""
    return lambda q, _: other_queue(q, **options)


def scheduling(**options: Any) -> Call:
    """Scheduling an email job under key "k" with ``options`` (key replaced if given)."""
    return lambda q, _: q.schedule("email", **{"key": "k", **options})


def limiting(**options: Any) -> Call:
    """set_limits of the email type with ``options``."""
    return lambda q, _: q.set_limits("email", **options)


def getting_job(job_id: Any) -> Call:
    return lambda q, _: q.get_job(job_id)


def reading_throughput(minutes: Any) -> Call:
    """throughput over ``minutes``."""
    return lambda q, _: q.throughput(minutes)


def setting_state(state: Any) -> Call:
    """set_state of the seeded inactive job."""
    return lambda q, ids: q.set_state(ids["inactive"], state)


def setting_priority(priority: Any) -> Call:
    """set_priority of the seeded inactive job."""
    return lambda q, ids: q.set_priority(ids["inactive"], priority)


def depending(**options: Any) -> Call:
    """Making a report job with the dependency ``options`` (depends_on, children, ...)."""
    return lambda q, _: q.create("report", {}, **options)


def removing(job: str, **options: Any) -> Call:
    """remove of the seeded ``job`` ("inactive", "delayed"...) with ``options``."""
    return lambda q, ids: q.remove(ids[job], **options)


def removing_id(job_id: Any, **options: Any) -> Call:
    return lambda q, _: q.remove(job_id, **options)


def reading_graph(verb: str, job_id: Any) -> Call:
    """queue.tree or queue.dependents of ``job_id``."""
    return lambda q, _: getattr(q, verb)(job_id)


# What chain, group and add_flow are given, made on the queue of the row when it runs.
Given = Callable[[Queue], Any]


def chaining(steps: Given) -> Call:
    return lambda q, _: q.chain(steps(q))


def grouping(jobs: Given, then: Given = lambda q: None) -> Call:
    return lambda q, _: q.group(jobs(q), then=then(q))


def adding_flow(root: Given) -> Call:
    return lambda q, _: q.add_flow(root(q))


def reporting_progress(*args: Any) -> Call:
    """job.progress(*args) on the seeded inactive job."""
    return lambda q, ids: on_job(q, ids["inactive"], lambda job: job.progress(*args))


POLICY = "on_dependency_failure must be one of fail, ignore, wait"
WAITED_FOR = "is waited for by jobs"  # remove without force of a job others wait for
THEN = "then must be a Job from queue.create(), not one of the group"

# The calls other than create that take a job type, by name: each with its FEW_NAMES.
TYPE_CALLS: dict[str, Callable[[Queue, str], Any]] = {
    "counts": lambda q, job_type: q.counts(job_type),
    "jobs": lambda q, job_type: q.jobs("inactive", type=job_type),
    "pause": Queue.pause,
    "resume": Queue.resume,
    "is_paused": Queue.is_paused,
    "inactive_ids": Queue.inactive_ids,
    "process": lambda q, job_type: q.process(job_type, noop),
}


def checking_type(verb: str, job_type: str) -> Call:
    """TYPE_CALLS[verb] with ``job_type``."""
    return lambda q, _: TYPE_CALLS[verb](q, job_type)


API_CASES = [
    *(
        api(f"create type {name}", saving_type(value), InvalidName, "job type")
        for name, value in NAMES.items()
    ),
    api("create type int", lambda q, _: q.create(42, {}), InvalidName, "must be a string"),
    api("create type None", lambda q, _: q.create(None, {}), InvalidName, "must be a string"),
    api("create type bytes", lambda q, _: q.create(b"email", {}), InvalidName, "must be a string"),
    *(
        api(f"unique {name}", saving(unique=NAMES[name]), InvalidName, "unique")
        for name in [*SOME_NAMES, "unicode", "path traversal"]
    ),
    api("unique int", lambda q, _: save(q, {}, unique=7), InvalidName, "must be a string"),
    *(
        api(f"prefix {name}", opening(prefix=NAMES[name]), InvalidName, "prefix")
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
    api("lease 0", lambda q, _: other_queue(q, lease=0), InvalidArgument, "lease must be"),
    api(
        "lease NaN",
        lambda q, _: other_queue(q, lease=float("nan")),
        InvalidArgument,
        "lease must be",
    ),
    api(
        "lease Infinity", lambda q, _: other_queue(q, lease=float("inf")), InvalidArgument, "lease"
    ),
    api("lease string", lambda q, _: other_queue(q, lease="30"), InvalidArgument, "lease must be"),
    api(
        "lease 5000 digits",
        lambda q, _: other_queue(q, lease=HUGE),
        InvalidArgument,
        "lease must be",
    ),
    api("max_stalls -1", lambda q, _: other_queue(q, max_stalls=-1), InvalidArgument, "max_stalls"),
    api(
        "max_stalls float",
        lambda q, _: other_queue(q, max_stalls=1.5),
        InvalidArgument,
        "max_stalls",
    ),
    api(
        "max_payload 0", lambda q, _: other_queue(q, max_payload=0), InvalidArgument, "max_payload"
    ),
    api(
        "max_payload 5000 digits",
        lambda q, _: other_queue(q, max_payload=HUGE),
        InvalidArgument,
        "max_payload",
    ),
    api(
        "events_maxlen 99", lambda q, _: other_queue(q, events_maxlen=99), InvalidArgument, "maxlen"
    ),
    api(
        "events_maxlen 2**63 then save",
        lambda q, _: other_queue(q, events_maxlen=2**63).create("email", {}).save(),
        InvalidArgument,
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
        api(f"get_job id {shown}", getting_job(value), InvalidArgument, "positive int")
        for shown, value in {"0": 0, "-1": -1, "2**53": 2**53, "'1'": "1", "None": None}.items()
    ),
    api("remove id 0", lambda q, _: q.remove(0), InvalidArgument, "positive int"),
    api("retry id -1", lambda q, _: q.retry(-1), InvalidArgument, "positive int"),
    api("get_log id 2**53", lambda q, _: q.get_log(2**53), InvalidArgument, "positive int"),
    api(
        "set_state id '1'", lambda q, _: q.set_state("1", "failed"), InvalidArgument, "positive int"
    ),
    api(
        "set_priority id None",
        lambda q, _: q.set_priority(None, 1),
        InvalidArgument,
        "positive int",
    ),
    api("get_job id True", lambda q, _: q.get_job(True), InvalidArgument, "positive int"),
    api("get_job id 1.0", lambda q, _: q.get_job(1.0), InvalidArgument, "positive int"),
    api("get_job id NaN", lambda q, _: q.get_job(float("nan")), InvalidArgument, "positive int"),
    api(
        "get_job id 5000 digits", lambda q, _: q.get_job(HUGE), InvalidArgument, "about 5000 digits"
    ),
    api("get_job id 10 MB", lambda q, _: q.get_job(BIG), InvalidArgument, "positive int"),
    api("get_errors id 0", lambda q, _: q.get_errors(0), InvalidArgument, "positive int"),
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
            setting_state(value),
            InvalidJob,
            says,
        )
        for shown, value, says in [
            ("unknown", "sleeping", "unknown state"),
            ("upper case", "FAILED", "unknown state"),
            ("active", "active", "only a worker"),
            ("waiting", "waiting", "only unfinished dependencies make a job waiting"),
            ("waiting by enum", JobState.WAITING, "only unfinished dependencies"),
            ("with NUL", "failed\x00", "unknown state"),
            ("None", None, "unknown state"),
            ("list", ["failed"], "unknown state"),
            ("10 MB", BIG, "unknown state"),
        ]
    ),
    *(
        api(
            f"set_priority {shown}",
            setting_priority(value),
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
    api("jobs order", lambda q, _: q.jobs(order="random"), InvalidArgument, "asc"),
    api("jobs start -1", lambda q, _: q.jobs(start=-1), InvalidArgument, "start must be"),
    api("jobs stop -1", lambda q, _: q.jobs(stop=-1), InvalidArgument, "stop must be"),
    api("jobs start string", lambda q, _: q.jobs(start="0"), InvalidArgument, "start must be"),
    api("jobs backwards", lambda q, _: q.jobs(start=5, stop=2), InvalidArgument, "ascending"),
    api("jobs 1001 at once", lambda q, _: q.jobs(start=0, stop=1000), InvalidArgument, "<= 1000"),
    api(
        "jobs start 2**63",
        lambda q, _: q.jobs("inactive", start=2**63, stop=2**63 + 5),
        InvalidArgument,
        "start must be",
    ),
    *(
        api(f"{verb} type {name}", checking_type(verb, NAMES[name]), InvalidName, "job type")
        for verb in TYPE_CALLS
        for name in FEW_NAMES[verb]
    ),
    api("search empty", lambda q, _: q.search(""), InvalidArgument, "1 to 200"),
    api("search blank", lambda q, _: q.search(" \t\n"), InvalidArgument, "1 to 200"),
    api("search 201 characters", lambda q, _: q.search("x" * 201), InvalidArgument, "1 to 200"),
    api("search 10 MB", lambda q, _: q.search(BIG), InvalidArgument, "1 to 200"),
    api("search None", lambda q, _: q.search(None), InvalidArgument, "1 to 200"),
    api("search limit 0", lambda q, _: q.search("a", limit=0), InvalidArgument, "limit"),
    api("search limit 1001", lambda q, _: q.search("a", limit=1001), InvalidArgument, "limit"),
    # events, handlers, progress and logs
    api("queue event unknown", lambda q, _: q.on("job exploded", noop), InvalidArgument, "unknown"),
    api("queue event 10 MB", lambda q, _: q.on(BIG, noop), InvalidArgument, "unknown queue event"),
    api("queue callback", lambda q, _: q.on("job complete", "print"), InvalidArgument, "callable"),
    api(
        "job event unknown",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: job.on("done", noop)),
        InvalidJob,
        "unknown job event",
    ),
    api(
        "concurrency 0",
        lambda q, _: q.process("email", noop, concurrency=0),
        InvalidArgument,
        "concurrency",
    ),
    api(
        "concurrency 5000 digits",
        lambda q, _: q.process("email", noop, concurrency=-HUGE),
        InvalidArgument,
        "concurrency",
    ),
    api(
        "handler not callable", lambda q, _: q.process("email", "noop"), InvalidArgument, "callable"
    ),
    api("run without handlers", lambda q, _: q.run(), InvalidArgument, "no handlers"),
    # Worker, the long form of process/run
    api("Worker bad type", lambda q, _: Worker(q).process("a b", noop), InvalidName, "job type"),
    api(
        "Worker concurrency 0",
        lambda q, _: Worker(q).process("email", noop, concurrency=0),
        InvalidArgument,
        "concurrency",
    ),
    api(
        "Worker handler not callable",
        lambda q, _: Worker(q).process("email", "noop"),  # type: ignore[arg-type]
        InvalidArgument,
        "callable",
    ),
    api("Worker run without handlers", lambda q, _: Worker(q).run(), InvalidArgument, "handlers"),
    # figures read by the dashboard and /metrics
    *(
        api(f"throughput {shown}", reading_throughput(value), InvalidArgument, "minutes")
        for shown, value in [("0", 0), ("1441", 1441), ("text", "5"), ("True", True), ("1.5", 1.5)]
    ),
    api("wait unsaved job", lambda q, _: q.create("email").wait(1), InvalidJob, "not been saved"),
    *(
        api(
            f"progress {shown}",
            reporting_progress(*args),
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
            opening(save_timeout=value),
            InvalidArgument,
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
    # schedules: a rule, a time zone, a key and the job's options, all checked first
    *(
        api(f"schedule {what}", scheduling(**options), InvalidArgument, says)
        for what, options, says in [
            ("neither cron nor every", {}, "exactly one of cron"),
            ("both cron and every", {"cron": "* * * * *", "every": 5}, "exactly one of cron"),
            ("cron 6 fields wrong", {"cron": "61 * * * *"}, "not valid"),
            ("cron too few fields", {"cron": "* * *"}, "not valid"),
            ("cron empty", {"cron": ""}, "cron must be"),
            ("cron int", {"cron": 5}, "cron must be"),
            ("cron 10 MB", {"cron": BIG}, "cron must be"),
            ("cron Feb 30", {"cron": "0 0 30 2 *"}, "not valid"),
            ("cron @daily", {"cron": "@daily"}, "not valid"),
            ("cron newline", {"cron": "* * * * *\nrm"}, "not valid"),
            ("every 0", {"every": 0}, "every must be"),
            ("every -1", {"every": -1}, "every must be"),
            ("every NaN", {"every": float("nan")}, "every must be"),
            ("every Infinity", {"every": float("inf")}, "every must be"),
            ("every string", {"every": "30"}, "number of seconds"),
            ("every bool", {"every": True}, "number of seconds"),
            ("every 5000 digits", {"every": HUGE}, "every must be"),
            ("every under 1 ms", {"every": 1e-4}, "every must be"),
            ("every negative timedelta", {"every": timedelta(seconds=-1)}, "every must be"),
            ("tz unknown", {"every": 5, "tz": "Mars/Olympus"}, "unknown time zone"),
            ("tz path traversal", {"every": 5, "tz": "../../etc/passwd"}, "time zone"),
            ("tz empty", {"every": 5, "tz": ""}, "IANA time zone"),
            ("tz int", {"every": 5, "tz": 1}, "IANA time zone"),
            ("tz 10 MB", {"every": 5, "tz": BIG}, "IANA time zone"),
            ("catch_up string", {"every": 5, "catch_up": "no"}, "catch_up must be"),
        ]
    ),
    *(
        api(f"schedule {what}", scheduling(every=5, **options), error, says)
        for what, options, error, says in [
            ("data list", {"data": [1]}, InvalidJob, "JSON object"),
            ("data NaN", {"data": {"a": float("nan")}}, InvalidJob, "NaN"),
            ("priority unknown", {"priority": "urgent"}, InvalidJob, "unknown priority"),
            ("attempts 0", {"attempts": 0}, InvalidJob, "attempts must be"),
            ("ttl 0", {"ttl": 0}, InvalidJob, "ttl must be"),
            ("backoff string", {"backoff": "exp"}, InvalidJob, "backoff must be"),
            ("limit_key braces", {"limit_key": "{x}"}, InvalidName, "limit key"),
        ]
    ),
    *(
        api(f"schedule key {name}", scheduling(key=NAMES[name], every=5), InvalidName, "schedule")
        for name in SOME_NAMES
    ),
    api(
        "schedule type braces",
        lambda q, _: q.schedule("{x}", key="k", every=5),
        InvalidName,
        "type",
    ),
    api("get_schedule key NUL", lambda q, _: q.get_schedule("a\0"), InvalidName, "schedule key"),
    api("get_schedule unknown", lambda q, _: q.get_schedule("nosuch"), ScheduleNotFound, "nosuch"),
    api("unschedule key glob", lambda q, _: q.unschedule("a*"), InvalidName, "schedule key"),
    api("unschedule key int", lambda q, _: q.unschedule(7), InvalidName, "must be a string"),
    # limits: counts, windows and caps in range, a pair for a rate
    *(
        api(f"set_limits {what}", limiting(**options), InvalidArgument, says)
        for what, options, says in [
            ("nothing given", {}, "at least one of"),
            ("rate a number", {"rate": 10}, "(count, per seconds)"),
            ("rate three items", {"rate": (1, 2, 3)}, "(count, per seconds)"),
            ("rate string", {"rate": "10/1"}, "(count, per seconds)"),
            ("rate count 0", {"rate": (0, 1.0)}, "rate count must be"),
            ("rate count -1", {"rate": (-1, 1.0)}, "rate count must be"),
            ("rate count float", {"rate": (1.5, 1.0)}, "rate count must be"),
            ("rate count 5000 digits", {"rate": (HUGE, 1.0)}, "rate count must be"),
            ("rate count over 100000", {"rate": (100_001, 1.0)}, "rate count must be"),
            ("rate window 0", {"rate": (10, 0)}, "rate window must be"),
            ("rate window NaN", {"rate": (10, float("nan"))}, "rate window must be"),
            ("rate window Infinity", {"rate": (10, float("inf"))}, "rate window must be"),
            ("rate window string", {"rate": (10, "1")}, "rate window must be"),
            ("rate window over a week", {"rate": (10, 604_801)}, "rate window must be"),
            ("key_rate count 0", {"key_rate": (0, 1.0)}, "key_rate count must be"),
            ("key_rate window -1", {"key_rate": (1, -1)}, "key_rate window must be"),
            ("concurrency 0", {"concurrency": 0}, "concurrency must be"),
            ("concurrency -1", {"concurrency": -1}, "concurrency must be"),
            ("concurrency float", {"concurrency": 2.5}, "concurrency must be"),
            ("concurrency bool", {"concurrency": True}, "concurrency must be"),
            ("concurrency string", {"concurrency": "3"}, "concurrency must be"),
            ("concurrency 5000 digits", {"concurrency": HUGE}, "concurrency must be"),
            ("one good, one bad", {"concurrency": 3, "rate": (0, 1.0)}, "rate count must be"),
        ]
    ),
    api(
        "set_limits type glob", lambda q, _: q.set_limits("a*", concurrency=1), InvalidName, "type"
    ),
    api("limits type NUL", lambda q, _: q.limits("a\0"), InvalidName, "job type"),
    # windows of unique and debounce keys, limit keys
    api("unique_for without unique", saving(unique_for=5), InvalidJob, "needs a unique key"),
    api("unique_for 0", saving(unique="u", unique_for=0), InvalidJob, "unique_for must be"),
    api("unique_for NaN", saving(unique="u", unique_for=float("nan")), InvalidJob, "unique_for"),
    api("unique_for string", saving(unique="u", unique_for="5"), InvalidJob, "number of seconds"),
    api("debounce without window", saving(debounce="d"), InvalidJob, "go together"),
    api("debounce_for without key", saving(debounce_for=5), InvalidJob, "go together"),
    api("debounce_for 0", saving(debounce="d", debounce_for=0), InvalidJob, "debounce_for must"),
    api("debounce_for -1", saving(debounce="d", debounce_for=-1), InvalidJob, "debounce_for"),
    api("debounce with delay", saving(debounce="d", debounce_for=1, delay=5), InvalidJob, "delay"),
    api(
        "debounce and unique",
        saving(debounce="d", debounce_for=1, unique="u"),
        InvalidJob,
        "either unique or debounced",
    ),
    *(
        api(
            f"debounce key {name}",
            saving(debounce=NAMES[name], debounce_for=1),
            InvalidName,
            "debounce",
        )
        for name in SOME_NAMES
    ),
    *(
        api(f"limit_key {name}", saving(limit_key=NAMES[name]), InvalidName, "limit key")
        for name in SOME_NAMES
    ),
    # dependencies (issue 16): depends_on (or children) holds Jobs of this queue or ids,
    # each once, at most 1000, checked when the job is made; the graph a save sends is
    # checked whole (ids known, no loop, not too deep or large, one queue) before
    # anything is written. The seeded waiting job depends on the delayed and paused ones.
    *(
        api(f"depends_on {shown}", depending(depends_on=value), InvalidJob, says)
        for shown, value, says in [
            ("str", "1,2", "depends_on must be a list of jobs or job ids, got str"),
            ("empty str", "", "depends_on must be a list of jobs or job ids, got str"),
            ("bytes", b"\x01\x02", "must be a list of jobs or job ids, got bytes"),
            ("dict", {1: 2}, "must be a list of jobs or job ids, got dict"),
            ("empty dict", {}, "must be a list of jobs or job ids, got dict"),
            ("set", {1, 2}, "must be a list of jobs or job ids, got set"),
            ("generator", (n for n in (1, 2)), "must be a list of jobs or job ids, got generator"),
            ("0", 0, "must be a list of jobs or job ids, got int"),
            ("-1", -1, "must be a list of jobs or job ids, got int"),
            ("True", True, "must be a list of jobs or job ids, got bool"),
            ("False", False, "must be a list of jobs or job ids, got bool"),
            ("float", 1.5, "must be a list of jobs or job ids, got float"),
            ("2**63", 2**63, "must be a list of jobs or job ids, got int"),
            ("None in it", [None], "depends_on takes jobs or job ids (ints >= 1), got None"),
            ("0 in it", [0], "job ids (ints >= 1), got 0"),
            ("-1 in it", [-1], "job ids (ints >= 1), got -1"),
            ("True in it", [True], "job ids (ints >= 1), got True"),
            ("False in it", [False], "job ids (ints >= 1), got False"),
            ("float in it", [1.5], "job ids (ints >= 1), got 1.5"),
            ("whole float in it", [1.0], "job ids (ints >= 1), got 1.0"),
            ("NaN in it", [float("nan")], "job ids (ints >= 1), got nan"),
            ("id string in it", ["1"], "job ids (ints >= 1), got '1'"),
            ("id bytes in it", [b"1"], "job ids (ints >= 1), got b'1'"),
            ("list in it", [[1]], "job ids (ints >= 1), got [1]"),
            ("key name in it", ["{chaos}:job:1"], "job ids (ints >= 1)"),
            ("2**53 in it", [2**53], "job ids (ints >= 1), got 9007199254740992"),
            ("2**63 in it", [2**63], "job ids (ints >= 1), got 9223372036854775808"),
            ("5000 digits in it", [HUGE], "an int of about 5000 digits"),
            ("10 MB string in it", [BIG], "job ids (ints >= 1), got 'xxx"),
            ("an id twice", [MISSING, 1, MISSING], f"depends_on names job {MISSING} twice"),
            ("1001 ids", list(range(1, 1002)), "depends_on holds 1001 jobs, more than 1000"),
            ("100000 ids", range(1, 100_001), "holds 100000 jobs, more than 1000"),
        ]
    ),
    api(
        "depends_on a Job, not a list",
        lambda q, _: q.create("report", {}, depends_on=q.create("email")),
        InvalidJob,
        "must be a list of jobs or job ids, got Job",
    ),
    api(
        "depends_on the same Job twice",
        lambda q, _: (lambda job: q.create("report", {}, depends_on=[job, job]))(q.create("a")),
        InvalidJob,
        "depends_on names the unsaved 'a' job twice",
    ),
    api(
        "depends_on a seeded Job and its id",
        lambda q, ids: on_job(
            q, ids["delayed"], lambda job: q.create("report", {}, depends_on=[job, job.id])
        ),
        InvalidJob,
        "names job",
    ),
    *(
        api(f"children {shown}", depending(children=value), InvalidJob, says)
        for shown, value, says in [
            ("str", "1", "children must be a list of jobs or job ids, got str"),
            ("0", 0, "children must be a list of jobs or job ids, got int"),
            ("False", False, "children must be a list of jobs or job ids, got bool"),
            ("True", True, "children must be a list of jobs or job ids, got bool"),
            ("None in it", [None], "children takes jobs or job ids (ints >= 1), got None"),
            ("0 in it", [0], "children takes jobs or job ids (ints >= 1), got 0"),
            ("an id twice", [3, 3], "children names job 3 twice"),
            ("1001 ids", list(range(1, 1002)), "children holds 1001 jobs, more than 1000"),
        ]
    ),
    api(
        "children and depends_on",
        depending(children=[1], depends_on=[2]),
        InvalidJob,
        "give depends_on or children (the flow spelling), not both",
    ),
    *(
        api(f"on_dependency_failure {shown}", depending(**options), InvalidJob, POLICY)
        for shown, options in [
            ("unknown", {"depends_on": [1], "on_dependency_failure": "explode"}),
            ("upper case", {"depends_on": [1], "on_dependency_failure": "FAIL"}),
            ("empty", {"depends_on": [1], "on_dependency_failure": ""}),
            ("padded", {"depends_on": [1], "on_dependency_failure": " fail"}),
            ("NUL", {"depends_on": [1], "on_dependency_failure": "fail\x00"}),
            ("None", {"depends_on": [1], "on_dependency_failure": None}),
            ("int", {"depends_on": [1], "on_dependency_failure": 1}),
            ("True", {"depends_on": [1], "on_dependency_failure": True}),
            ("list", {"depends_on": [1], "on_dependency_failure": ["fail"]}),
            ("10 MB", {"depends_on": [1], "on_dependency_failure": BIG}),
            ("unknown without depends_on", {"on_dependency_failure": "never"}),
            ("unknown with children", {"children": [1], "on_dependency_failure": "x"}),
        ]
    ),
    api(
        "depends_on with debounce",
        depending(depends_on=[1], debounce="d", debounce_for=1),
        InvalidJob,
        "a debounced job cannot have dependencies",
    ),
    # saving: a dependency must exist, and a refused graph writes nothing at all
    api(
        "save depending on an unknown id",
        saving(depends_on=[MISSING]),
        InvalidJob,
        f"dependency {MISSING} not found (it must exist when its dependent is saved)",
    ),
    api(
        "save depending on seeded jobs and an unknown id",
        lambda q, ids: save(q, depends_on=[ids["inactive"], ids["waiting"], MISSING]),
        InvalidJob,
        f"dependency {MISSING} not found",
    ),
    api(
        "save depending on an unknown id of 16 digits",
        saving(depends_on=[2**53 - 1]),
        InvalidJob,
        f"dependency {2**53 - 1} not found",
    ),
    api(
        "save a flow whose deepest job depends on an unknown id",
        lambda q, _: q.create(
            "top", {}, depends_on=[q.create("leaf", depends_on=[MISSING])]
        ).save(),
        InvalidJob,
        f"dependency {MISSING} not found",
    ),
    api(
        "add_bulk of good jobs and one depending on an unknown id",
        lambda q, ids: bulk(
            q,
            q.create("email", {}),
            q.create("email", {}, depends_on=[ids["delayed"]]),
            q.create("email", {}, depends_on=[MISSING]),
        ),
        InvalidJob,
        f"dependency {MISSING} not found",
    ),
    api("save a job depending on itself", lambda q, _: loop(q, 1), InvalidJob, "dependency cycle"),
    api(
        "save a loop of three jobs",
        lambda q, _: loop(q, 3),
        InvalidJob,
        "dependency cycle: 'step' -> 'step' -> 'step' -> 'step'",
    ),
    api("chain a step before its dependency", lambda q, _: chain_back(q), InvalidJob, "cycle"),
    api("group then a member's dependency", lambda q, _: chord_back(q), InvalidJob, "cycle"),
    api(
        "save the end of a line of 102 jobs",
        lambda q, _: line(q, 102)[-1].save(),
        InvalidJob,
        "dependencies nest deeper than 100 levels",
    ),
    api(
        "add_bulk of a line of 102 jobs",
        lambda q, _: q.add_bulk(line(q, 102)),
        InvalidJob,
        "dependencies nest deeper than 100 levels",
    ),
    api(
        "chain of 102 steps",
        lambda q, _: q.chain([q.create("step", {"n": n}) for n in range(102)]),
        InvalidJob,
        "dependencies nest deeper than 100 levels",
    ),
    api(
        "add_flow of a root with 1000 children",
        lambda q, _: q.add_flow(fan_in(q, 1000)),
        InvalidJob,
        "a flow of 1001 new jobs with 1000 dependencies is more than 1000 jobs",
    ),
    api(
        "group of 1000 then one",
        lambda q, _: q.group([q.create("step") for _ in range(1000)], then=q.create("sum")),
        InvalidJob,
        "a flow of 1001 new jobs with 1000 dependencies is more than 1000 jobs",
    ),
    api(
        "save depending on a job of another queue",
        lambda q, _: save(q, depends_on=[elsewhere(q)]),
        InvalidJob,
        "depends on a job of queue 'elsewhere': all jobs of a flow live in one queue",
    ),
    api(
        "save in another queue depending on a job of this one",
        lambda q, _: elsewhere(q).queue.create("email", {}, depends_on=[q.create("a")]).save(),
        InvalidJob,
        "one Redis Cluster slot",
    ),
    api(
        "add_flow of another queue's root",
        lambda q, _: q.add_flow(elsewhere(q)),
        InvalidJob,
        "of queue 'elsewhere' cannot be saved with queue 'chaos'",
    ),
    api(
        "add_bulk of another queue's job",
        lambda q, _: bulk(q, q.create("email", {}), elsewhere(q)),
        InvalidJob,
        "all jobs of a flow live in one queue (one Redis Cluster slot)",
    ),
    # chain, group and add_flow take Jobs from queue.create()
    *(
        api(f"chain {shown}", chaining(steps), InvalidJob, says)
        for shown, steps, says in [
            ("tuple", lambda q: (q.create("a"),), "chain takes a list of Job objects"),
            ("None", lambda q: None, "chain takes a list of Job objects"),
            ("ids", lambda q: [1, 2], "chain takes a list of Job objects"),
            ("a Job and an id", lambda q: [q.create("a"), 1], "chain takes a list of Job"),
            ("a Job", lambda q: q.create("a"), "chain takes a list of Job objects"),
            ("the same Job twice", lambda q: [q.create("a")] * 2, "chain got the same Job twice"),
        ]
    ),
    *(
        api(f"group {shown}", grouping(jobs), InvalidJob, says)
        for shown, jobs, says in [
            ("tuple", lambda q: (q.create("a"),), "group takes a list of Job objects"),
            ("None", lambda q: None, "group takes a list of Job objects"),
            ("ids", lambda q: [1, 2], "group takes a list of Job objects"),
            ("the same Job twice", lambda q: [q.create("a")] * 2, "group got the same Job twice"),
        ]
    ),
    *(
        api(f"group then {shown}", grouping(lambda q: [q.create("a")], then), InvalidJob, THEN)
        for shown, then in [
            ("an id", lambda q: 1),
            ("a list", lambda q: [q.create("b")]),
            ("a string", lambda q: "summary"),
        ]
    ),
    api(
        "group then one of the group",
        lambda q, _: (lambda job: q.group([job], then=job))(q.create("a")),
        InvalidJob,
        "not one of the group",
    ),
    *(
        api(f"add_flow {shown}", adding_flow(root), InvalidJob, says)
        for shown, root, says in [
            ("an id", lambda q: 1, "add_flow takes the root Job of a flow"),
            ("None", lambda q: None, "add_flow takes the root Job of a flow"),
            ("a list", lambda q: [q.create("a")], "add_flow takes the root Job of a flow"),
        ]
    ),
    api(
        "chain after a seeded job",
        lambda q, ids: on_job(q, ids["delayed"], lambda job: q.chain([job, q.create("a")])),
        InvalidJob,
        "already saved (it was read from Redis)",
    ),
    api(
        "group then a seeded job",
        lambda q, ids: on_job(q, ids["inactive"], lambda job: q.group([q.create("a")], then=job)),
        InvalidJob,
        "already saved",
    ),
    api(
        "dependency_results of an unsaved job",
        lambda q, _: q.create("report", {}, depends_on=[1]).dependency_results(),
        InvalidJob,
        "not been saved",
    ),
    # removing: force is a bool; a job others wait for goes only with force=True
    *(
        api(f"remove force {shown}", removing("inactive", force=value), InvalidArgument, says)
        for shown, value, says in [
            ("yes", "yes", "force must be True or False, got 'yes'"),
            ("'true'", "true", "force must be True or False, got 'true'"),
            ("1", 1, "force must be True or False, got 1"),
            ("0", 0, "force must be True or False, got 0"),
            ("None", None, "force must be True or False, got None"),
            ("list", [True], "force must be True or False, got [True]"),
            ("10 MB", BIG, "force must be True or False"),
        ]
    ),
    api(
        "remove force of a job others wait for",
        removing("delayed", force="yes"),
        InvalidArgument,
        "force must be True or False",
    ),
    *(
        api(f"remove {shown}", removing(job, **options), InvalidState, WAITED_FOR)
        for shown, job, options in [
            ("a job others wait for", "delayed", {}),
            ("a job others wait for, force=False", "delayed", {"force": False}),
            ("a paused job others wait for", "paused", {}),
        ]
    ),
    api(
        "job.remove of a job others wait for",
        lambda q, ids: on_job(q, ids["paused"], lambda job: job.remove()),
        InvalidState,
        WAITED_FOR,
    ),
    api(
        "job.remove force 'yes'",
        lambda q, ids: on_job(q, ids["delayed"], lambda job: job.remove(force="yes")),
        InvalidArgument,
        "force must be True or False",
    ),
    api("remove unknown id force", removing_id(MISSING, force=True), JobNotFound, "not found"),
    api("remove id 0 force", removing_id(0, force=True), InvalidArgument, "positive int"),
    # the graph's reads: ids as everywhere, a tree of a job that exists
    *(
        api(f"{verb} id {shown}", reading_graph(verb, value), InvalidArgument, "positive int")
        for verb in ("tree", "dependents")
        for shown, value in {
            "0": 0,
            "-1": -1,
            "'1'": "1",
            "True": True,
            "1.0": 1.0,
            "None": None,
            "2**53": 2**53,
            "2**63": 2**63,
            "5000 digits": HUGE,
            "10 MB": BIG,
        }.items()
    ),
    api("tree unknown id", reading_graph("tree", MISSING), JobNotFound, f"job {MISSING} not found"),
    # set_state cannot make a job waiting (see the state rows), nor run one that waits
    api(
        "set_state of the waiting job to active",
        lambda q, ids: q.set_state(ids["waiting"], "active"),
        InvalidJob,
        "only a worker makes a job active",
    ),
    api(
        "set_state of the waiting job to waiting",
        lambda q, ids: q.set_state(ids["waiting"], "waiting"),
        InvalidJob,
        "only unfinished dependencies",
    ),
    api("retry the waiting job", lambda q, ids: q.retry(ids["waiting"]), InvalidState, "waiting"),
]


async def attempt(call: Call, queue: Queue, ids: Ids) -> None:
    outcome = call(queue, ids)  # raises at once, or returns what raises when awaited
    if inspect.isawaitable(outcome):
        await outcome


@pytest.mark.parametrize("case", API_CASES)
async def test_api_refuses_bad_input(battery: Battery, case: ApiCase) -> None:
    with battery.judging("api", "the call"):
        queue = Queue(url=battery.url, prefix=PREFIX)
        try:
            with pytest.raises(case.error) as caught:
                await attempt(case.call, queue, battery.ids)
        finally:
            await queue.close()
    assert type(caught.value) is case.error, repr(caught.value)[:500]
    assert_clear(str(caught.value), case.says)


# -- answered, not refused --------------------------------------------------------------------
# Unknown types are not errors to a read (Kue's routes count them as 0), and search text
# is plain text: glob characters in it match only themselves, never a key pattern. No
# job depends on an unknown id; a chain or group of no jobs saves nothing.

NO_COUNTS = dict.fromkeys(("inactive", "active", "complete", "failed", "delayed", "waiting"), 0)


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        pytest.param(lambda q: q.counts("nosuchtype"), NO_COUNTS, id="counts unknown type"),
        pytest.param(lambda q: q.jobs("failed", type="nosuchtype"), [], id="jobs unknown type"),
        pytest.param(lambda q: q.inactive_ids("nosuchtype"), [], id="inactive unknown type"),
        pytest.param(lambda q: q.is_paused("nosuchtype"), False, id="is_paused unknown type"),
        pytest.param(lambda q: q.get_log(MISSING), [], id="log of unknown id"),
        pytest.param(lambda q: q.dependents(MISSING), [], id="dependents of unknown id"),
        pytest.param(lambda q: q.chain([]), [], id="chain of no steps"),
        pytest.param(lambda q: q.group([]), [], id="group of no jobs"),
        pytest.param(lambda q: q.search("*"), [], id="search glob star"),
        pytest.param(lambda q: q.search("[a-z]"), [], id="search glob class"),
        pytest.param(lambda q: q.search("{chaos}:job:?"), [], id="search key pattern"),
    ],
)
async def test_api_reads_of_unknown_names_answer_empty(
    battery: Battery, call: Callable[[Queue], Awaitable[Any]], answer: Any
) -> None:
    with battery.judging("api", "the read"):
        queue = Queue(url=battery.url, prefix=PREFIX)
        try:
            assert await call(queue) == answer
        finally:
            await queue.close()


# -- a job this queue saved cannot be linked after the fact ------------------------------
# chain and group make a job wait for others by giving it dependencies; a save leaves a
# job this queue saved already as it is, so the link would be dropped without a word and
# the job would run at once. The case saves that job first, so it is judged against the
# keyspace after that save, and the seed is put back after it.


@pytest.mark.parametrize(
    "link",
    [
        pytest.param(lambda q, job: q.chain([q.create("step", {}), job]), id="chain"),
        pytest.param(lambda q, job: q.group([q.create("step", {})], then=job), id="group then"),
    ],
)
async def test_api_refuses_to_link_a_job_it_saved(
    battery: Battery, link: Callable[[Queue, Job], Awaitable[Any]]
) -> None:
    battery.inputs["api"] += 1
    queue = Queue(url=battery.url, prefix=PREFIX)
    try:
        saved = await queue.create("email", {}).save()
        before = battery.server.snapshot()
        with pytest.raises(InvalidJob) as caught:
            await link(queue, saved)
        after = battery.server.snapshot()
    finally:
        await queue.close()
        battery.restore()
    changed = sorted(
        key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
    )
    assert changed == [], f"the refused call changed {changed}"
    assert saved.depends_on == []  # the Job the caller holds says what Redis holds
    assert_clear(str(caught.value), "already saved")


# -- a worker survives dependencies written by hand ----------------------------------------
# What a client cannot send through pykue it can still write with redis-cli: a dependent's
# hash fields, its deps hash or its dependency's dependents set overwritten with garbage.
# None of that may stop the worker or the event reader: the dependency ends (complete or
# failed) in the one index its hash names, the dependent ends too (it runs or fails, it is
# not left waiting for good), and a job saved after runs with its event delivered. Each
# case has a server of its own (tests/chaos/conftest.py): it writes, by design. A
# dependents set destroyed cannot be walked (nothing else names the dependents): its
# dependent stays waiting, and moving it by hand (set_state, the dashboard) frees it.
LINK_LOST = "dependents not a set"

# (raw client, keys, dependency id, dependent id) -> the garbage written
Poison = Callable[[redis.Redis, Keys, int, int], Any]


def replaced(key: str, raw: redis.Redis) -> None:
    """``key`` overwritten with a string, as another tool might."""
    raw.delete(key)
    raw.set(key, "garbage")


POISON: dict[str, Poison] = {
    "pending a word": lambda raw, keys, _, job: raw.hset(keys.job(job), "pending", "many"),
    "pending a fraction": lambda raw, keys, _, job: raw.hset(keys.job(job), "pending", "1.5"),
    "pending negative": lambda raw, keys, _, job: raw.hset(keys.job(job), "pending", "-5"),
    "pending 5000 digits": lambda raw, keys, _, job: raw.hset(keys.job(job), "pending", "9" * 5000),
    "depends_on not ids": lambda raw, keys, _, job: raw.hset(
        keys.job(job), "depends_on", b"x,\xff,{chaos}"
    ),
    "depends_on a superscript two": lambda raw, keys, _, job: raw.hset(
        keys.job(job), "depends_on", "\u00b2"
    ),
    "depends_on 5000 digits": lambda raw, keys, _, job: raw.hset(
        keys.job(job), "depends_on", "9" * 5000
    ),
    "depends_on deleted": lambda raw, keys, _, job: raw.hdel(keys.job(job), "depends_on"),
    "on_dep_fail unknown": lambda raw, keys, _, job: raw.hset(
        keys.job(job), "on_dep_fail", "explode"
    ),
    "failed_by a word": lambda raw, keys, _, job: raw.hset(keys.job(job), "failed_by", "zz"),
    "deps not a hash": lambda raw, keys, _, job: replaced(keys.deps(job), raw),
    "deps outcome not UTF-8": lambda raw, keys, dep, job: raw.hset(
        keys.deps(job), str(dep), b"\xff\x00"
    ),
    "dependents not a set": lambda raw, keys, dep, _: replaced(keys.dependents(dep), raw),
    "dependents of no job": lambda raw, keys, dep, _: raw.sadd(
        keys.dependents(dep), "x", "-1", "0", str(2**64)
    ),
}


def placed(raw: redis.Redis, keys: Keys, job: Job) -> str | None:
    """What is wrong with where a job sits: it must be in exactly the state index its
    hash names, and leased only while active."""
    state = raw.hget(keys.job(job.job_id), "state")
    named = state.decode() if state else None
    held = [name for name in STATES if raw.zscore(keys.state(name), job.job_id) is not None]
    leased = raw.zscore(keys.leases, job.job_id) is not None
    if held == [named] and leased == (named == "active"):
        return None
    return f"job {job.job_id} is {named} but sits in {held} (leased: {leased})"


async def ending(job: Job, raw: redis.Redis) -> str | None:
    """What is wrong with how a job ended: it must complete or fail, not wait for good."""
    try:
        await job.wait(5)
    except JobFailed:  # failed by its dependency, or as corrupt
        return None
    except JobTimeout:
        state = raw.hget(job.queue.keys.job(job.job_id), "state") or b"?"
        return f"the dependent is left {state.decode()} for good"
    except Exception as exc:  # what a caller of wait() would get as a traceback
        return f"waiting for the dependent raised {exc!r:.200}"
    return None


@pytest.mark.parametrize("fails", [False, True], ids=["dependency completes", "dependency fails"])
@pytest.mark.parametrize("poison", POISON)
async def test_a_worker_survives_dependencies_written_by_hand(
    queue: Queue, chaos_redis: ChaosRedis, poison: str, fails: bool
) -> None:
    @queue.process("work")
    async def handler(job: Job) -> int:
        if job.data["fail"]:
            raise ValueError("the dependency broke")
        await job.dependency_results()  # reads the deps hash, as a handler would
        return job.job_id

    delivered: set[int] = set()
    heard = asyncio.Event()

    def complete(job_id: int, result: Any) -> None:
        delivered.add(job_id)
        heard.set()

    queue.on("job complete", complete)
    dependency = await queue.create("work", {"fail": fails}).save()
    dependent = await queue.create("work", {"fail": False}, depends_on=[dependency]).save()
    raw = redis.Redis(port=chaos_redis.port)
    try:
        POISON[poison](raw, queue.keys, dependency.job_id, dependent.job_id)
        worker = asyncio.create_task(queue.run(handle_signals=False))
        try:
            if fails:
                with pytest.raises(JobFailed, match="the dependency broke"):
                    await dependency.wait(10)
            else:
                assert await dependency.wait(10) == dependency.job_id
            after = await queue.create("work", {"fail": False}).save()
            assert await after.wait(10) == after.job_id
            while after.job_id not in delivered:  # through the queue's event reader
                heard.clear()
                await asyncio.wait_for(heard.wait(), 10)
            problems = [placed(raw, queue.keys, job) for job in (dependency, after)]
            if poison == LINK_LOST:
                assert (await queue.get_job(dependent.job_id)).state is JobState.WAITING
                await queue.set_state(dependent.job_id, "inactive")
            problems.append(await ending(dependent, raw))
            assert not worker.done()
        finally:
            await queue.shutdown(timeout=5)
            await worker  # a worker that stopped on an error raises it here
    finally:
        raw.close()
    found = [problem for problem in problems if problem]
    assert not found, "\n".join(found)


# The reads of such a job answer (flows.parse_ids: "what is not an id is left out"): the
# dashboard lists it, shows it and draws the trees it is in.
READS: dict[str, Callable[[Queue, int, int], Awaitable[Any]]] = {
    "get_job": lambda q, _, job: q.get_job(job),
    "jobs waiting": lambda q, _, job: q.jobs("waiting"),
    "tree of the dependent": lambda q, _, job: q.tree(job),
    "tree of its dependency": lambda q, dep, _: q.tree(dep),
}


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize(
    "depends_on",
    [
        pytest.param("\u00b2", id="superscript two"),  # isdigit(), but no int
        pytest.param("\u0661", id="arabic digit"),
        pytest.param("9" * 5000, id="5000 digits"),  # past Python's int-from-text limit
        pytest.param("1,,x,-3", id="empty and negative parts"),
    ],
)
async def test_reads_of_a_dependent_written_by_hand_answer(
    queue: Queue, chaos_redis: ChaosRedis, depends_on: str, read: str
) -> None:
    dependency = await queue.create("work", {}).save()
    dependent = await queue.create("work", {}, depends_on=[dependency]).save()
    raw = chaos_redis.client()
    try:
        raw.hset(queue.keys.job(dependent.job_id), "depends_on", depends_on)
    finally:
        raw.close()
    await READS[read](queue, dependency.job_id, dependent.job_id)
