"""Bad input through the Python API: each row of API_CASES is one call on a queue of the
seeded server, the exact pykue exception it must raise and a part of its message.

To add an input, add a row: ``api(id, lambda q, ids: <the call>, ErrorClass, "says")``;
``ids["inactive"]`` (or "complete", "failed", "delayed", "paused") is a seeded job. For
the same call with many values, loop over the values with one of the ``...ing`` helpers
below (or a new one), which bind a value without the late binding of a lambda in a loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from pykue import Queue, Worker
from pykue.errors import (
    ConnectionFailed,
    InvalidArgument,
    InvalidJob,
    InvalidName,
    InvalidState,
    JobNotFound,
    ScheduleNotFound,
)
from pykue.job import Job
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


def reporting_progress(*args: Any) -> Call:
    """job.progress(*args) on the seeded inactive job."""
    return lambda q, ids: on_job(q, ids["inactive"], lambda job: job.progress(*args))


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
    with battery.judging("api", "the read"):
        queue = Queue(url=battery.url, prefix=PREFIX)
        try:
            assert await call(queue) == answer
        finally:
            await queue.close()
