"""The Job: its fields, states, priorities, option checks and Redis-hash codec.

No I/O happens here: a Job forwards save/wait/progress/log to the backend of the
Queue that created it (Redis, or memory in test mode) and remove/retry/refresh to
that Queue's admin.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from . import flows
from .errors import InvalidJob, shown
from .event_names import JOB_EVENTS
from .keys import check_name

if TYPE_CHECKING:
    from .queue import Queue

Callback = Callable[..., Any | Awaitable[Any]]
RemovePolicy = bool | int | timedelta

PRIORITIES: dict[str, int] = {"low": 10, "normal": 0, "medium": -5, "high": -10, "critical": -15}
PRIORITY_LIMIT = 1 << 20  # keeps priority * 2**32 + id exact in a double (the inactive score)


class JobState(StrEnum):
    """Kue's state names, and ``waiting`` for a job whose dependencies are unfinished. A
    job is in exactly one state index at a time."""

    WAITING = "waiting"
    DELAYED = "delayed"
    INACTIVE = "inactive"
    ACTIVE = "active"
    COMPLETE = "complete"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


def parse_state(value: object) -> JobState:
    if isinstance(value, str) and value in STATE_NAMES:
        return JobState(value)
    names = ", ".join(s.value for s in JobState)
    raise InvalidJob(f"unknown state {shown(value)}; use one of {names}")


STATE_NAMES = frozenset(s.value for s in JobState)


def parse_priority(value: object) -> int:
    """Kue's priority names or an int in ±2**20; lower runs first."""
    if isinstance(value, str):
        if value in PRIORITIES:
            return PRIORITIES[value]
        raise InvalidJob(f"unknown priority {shown(value)}; use {', '.join(PRIORITIES)} or an int")
    if isinstance(value, int) and not isinstance(value, bool):
        if -PRIORITY_LIMIT < value < PRIORITY_LIMIT:
            return value
        raise InvalidJob(f"priority {shown(value)} is out of range (±{PRIORITY_LIMIT})")
    raise InvalidJob(f"priority must be a name or an int, got {type(value).__name__}")


# Never written to: a Job swaps in dicts of its own on its first on().
NO_LISTENERS: dict[str, list[Callback]] = {}
NOTHING_DELIVERED: dict[int, tuple[int, int]] = {}

MAX_SECONDS = 10 * 365 * 86400  # the longest delay, TTL or backoff pykue accepts
MAX_KEEP = 2**53  # remove_on_complete counts: no more jobs than ids can exist


def _seconds(name: str, value: object, *, allow_zero: bool) -> float:
    """A duration in seconds, whole milliseconds (what Redis stores), at most ten years."""
    if value == 0 and allow_zero and type(value) in (int, float):
        return 0.0  # the common case, checked first: jobs are created in bulk
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJob(f"{name} must be a number of seconds, got {type(value).__name__}")
    if value != value or value < 0 or (value == 0 and not allow_zero):
        raise InvalidJob(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {shown(value)}")
    if value > MAX_SECONDS:  # also infinity and ints too big for a float
        raise InvalidJob(f"{name} of {shown(value)} s is more than ten years")
    seconds = round(float(value), 3)
    if seconds == 0 and not allow_zero:
        raise InvalidJob(f"{name} must be at least 0.001 s, got {value}")
    return seconds


def parse_backoff(value: object) -> dict[str, Any] | None:
    """None, True (fixed, the job's delay) or ``{"type": fixed|exponential, "delay": s}``."""
    if value is None or value is False:
        return None
    if value is True:
        return {"type": "fixed", "delay": 0.0}
    if not isinstance(value, Mapping):
        raise InvalidJob("backoff must be a dict like {'type': 'exponential', 'delay': 1.0}")
    unknown = set(value) - {"type", "delay"}
    if unknown:
        raise InvalidJob(f"backoff has unknown keys {shown(sorted(map(str, unknown)))}")
    kind = value.get("type", "fixed")
    if kind not in ("fixed", "exponential"):
        raise InvalidJob(f"backoff type must be 'fixed' or 'exponential', got {shown(kind)}")
    return {
        "type": kind,
        "delay": _seconds("backoff delay", value.get("delay", 0), allow_zero=True),
    }


def backoff_delay(backoff: Mapping[str, Any] | None, attempt: int) -> float:
    """Seconds to wait before retrying after failed attempt number ``attempt`` (1-based)."""
    if not backoff:
        return 0.0
    delay = float(backoff.get("delay", 0.0))
    if backoff.get("type") == "exponential":
        return float(min(delay * 2 ** min(attempt - 1, 40), MAX_SECONDS))
    return delay


def encode_remove_policy(value: object) -> str:
    """The form complete.lua reads: '' keep, 'all', 'count:N' or 'age:MS'."""
    if value is False or value is None:
        return ""
    if value is True:
        return "all"
    if isinstance(value, int):
        if not 0 <= value < MAX_KEEP:
            raise InvalidJob(
                f"remove_on_complete count must be 0 to {MAX_KEEP - 1}, got {shown(value)}"
            )
        return f"count:{value}"
    if isinstance(value, timedelta):
        return f"age:{int(_seconds('remove_on_complete age', value, allow_zero=False) * 1000)}"
    raise InvalidJob("remove_on_complete must be True, a count to keep, or a timedelta max age")


def decode_remove_policy(text: str) -> RemovePolicy:
    if text == "all":
        return True
    if text.startswith("count:"):
        return int(text[6:])
    if text.startswith("age:"):
        return timedelta(milliseconds=int(text[4:]))
    return False


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    return False


def dumps(value: Any, what: str = "job data") -> bytes:
    """JSON-encode ``value`` or raise InvalidJob. NaN/Infinity are refused, not turned to null."""
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidJob(f"{what} is not JSON-serialisable: {exc}") from None
    # orjson writes NaN and Infinity as null; only then is the walk needed.
    if b"null" in encoded and _has_non_finite(value):
        raise InvalidJob(f"{what} contains NaN or Infinity, which JSON cannot carry")
    return encoded


def loads(raw: bytes | str | None) -> Any:
    return None if raw is None or raw == b"" or raw == "" else orjson.loads(raw)


class HashReader:
    """Reads a job hash field by field, never raising: a hash written by hand, by an old
    version or by another tool may hold anything. Each field that cannot be read gets
    its default and the first reason is kept in ``problem``."""

    def __init__(self, h: Mapping[bytes, bytes]) -> None:
        self.h = h
        self.problem: str | None = None

    def bad(self, reason: str) -> None:
        if self.problem is None:
            self.problem = reason

    def text(self, name: str, default: str = "") -> str:
        raw = self.h.get(name.encode())
        if raw is None:
            return default
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.bad(f"{name} is not UTF-8")
            return raw.decode(errors="backslashreplace")

    def json(self, name: str, default: Any = None) -> Any:
        raw = self.h.get(name.encode())
        try:
            return loads(raw)
        except orjson.JSONDecodeError:  # also bytes that are not UTF-8
            self.bad(f"{name} is not JSON")
            return default

    def number(self, name: str, default: int = 0) -> int:
        raw = self.h.get(name.encode())
        if raw is None or raw == b"":
            return default
        try:
            return int(raw)
        except ValueError:  # also bytes that are not UTF-8
            self.bad(f"{name} is not a whole number: {shown(raw)}")
            return default

    def opt_number(self, name: str) -> int | None:
        return None if self.h.get(name.encode()) in (None, b"") else self.number(name)

    def state(self) -> JobState | None:
        text = self.text("state")
        if not text:
            return None
        try:
            return JobState(text)
        except ValueError:
            self.bad(f"unknown state {shown(text)}")
            return None


@dataclass(eq=False, slots=True)
class PendingSave:
    """One enqueue.lua call: its save token, its encoded jobs and the Jobs it saves.

    Sent again unchanged when any of its jobs is saved again before its reply came:
    the script finds the token of a call that already ran and answers what it did."""

    token: str
    payload: bytes
    jobs: list[Job]


def progress_percent(completed: object, total: object) -> int:
    """``completed`` of ``total`` as a whole percent from 0 to 100; InvalidJob for what
    is not a finite number, a total <= 0, or a ratio that overflows."""
    for name, value in (("completed", completed), ("total", total)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidJob(f"progress {name} must be a number, got {shown(value)}")
        if not -1e15 < value < 1e15:  # also NaN and infinities
            raise InvalidJob(f"progress {name} must be a finite number, got {shown(value)}")
    assert isinstance(completed, int | float)
    assert isinstance(total, int | float)
    if total <= 0:
        raise InvalidJob(f"progress total must be > 0, got {shown(total)}")
    ratio = completed / total * 100  # floats: a tiny total overflows to infinity here
    if not math.isfinite(ratio):
        raise InvalidJob(
            f"progress {shown(completed)} of {shown(total)} is out of range: "
            "completed / total overflows"
        )
    return max(0, min(100, int(ratio)))


def check_size(what: str, encoded: bytes, max_payload: int) -> None:
    """InvalidJob if ``encoded`` is over the queue's ``max_payload``."""
    if len(encoded) > max_payload:
        raise InvalidJob(
            f"{what} is {len(encoded)} bytes, over the limit of {max_payload} "
            "(Queue(max_payload=...))"
        )


class Job:
    """One unit of work. Create it with ``queue.create(type, data, ...)`` and ``await job.save()``.

    Timestamps (``created_at`` ...) are milliseconds of the Redis server's clock.
    """

    def __init__(
        self,
        queue: Queue,
        job_type: str,
        data: Mapping[str, Any] | None = None,
        *,
        priority: int | str = "normal",
        attempts: int = 1,
        backoff: Mapping[str, Any] | bool | None = None,
        delay: float | timedelta = 0.0,
        ttl: float | timedelta | None = None,
        remove_on_complete: RemovePolicy = False,
        unique: str | None = None,
        unique_for: float | timedelta | None = None,
        debounce: str | None = None,
        debounce_for: float | timedelta | None = None,
        limit_key: str | None = None,
        depends_on: Sequence[Job | int] = (),
        children: Sequence[Job | int] = (),
        on_dependency_failure: str = "fail",
    ) -> None:
        self.queue = queue
        self.type = check_name("job type", job_type)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise InvalidJob(f"job data must be a JSON object (dict), got {type(data).__name__}")
        self.data: dict[str, Any] = dict(data)
        self.priority = parse_priority(priority)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise InvalidJob(f"attempts must be an int >= 1, got {shown(attempts)}")
        if attempts > 10_000:
            raise InvalidJob(f"attempts of {shown(attempts)} is more than 10000")
        self.attempts = attempts
        self.backoff = parse_backoff(backoff)
        self.delay = _seconds("delay", delay, allow_zero=True)
        self.ttl = None if ttl is None else _seconds("ttl", ttl, allow_zero=False)
        encode_remove_policy(remove_on_complete)
        self.remove_on_complete: RemovePolicy = remove_on_complete
        self.unique = None if unique is None else check_name("unique key", unique)
        self.unique_for: float | None = None
        if unique_for is not None:
            if unique is None:
                raise InvalidJob("unique_for needs a unique key (unique=...)")
            self.unique_for = _seconds("unique_for", unique_for, allow_zero=False)
        self.debounce = None if debounce is None else check_name("debounce key", debounce)
        if (debounce is None) != (debounce_for is None):
            raise InvalidJob("debounce and debounce_for go together: a key and its window")
        if debounce_for is not None:
            if unique is not None:
                raise InvalidJob("a job is either unique or debounced, not both")
            if self.delay:
                raise InvalidJob("a debounced job waits its debounce_for: give no delay")
            self.delay = _seconds("debounce_for", debounce_for, allow_zero=False)
        self.limit_key = None if limit_key is None else check_name("limit key", limit_key)
        # left out: None or an empty list; any other value, falsy or not, is checked
        given = {
            name: value
            for name, value in (("depends_on", depends_on), ("children", children))
            if value is not None and not (isinstance(value, list | tuple) and not value)
        }
        if len(given) > 1:
            raise InvalidJob("give depends_on or children (the flow spelling), not both")
        name, links = next(iter(given.items()), ("depends_on", ()))
        # what it waits for: Jobs or ids as given; ids once saved or read from Redis
        self.depends_on: list[Job | int] = flows.check_dependencies(links, name)
        if any(dep is self for dep in self.depends_on):
            raise InvalidJob("a job cannot depend on itself")
        if self.depends_on and debounce is not None:
            raise InvalidJob("a debounced job cannot have dependencies")
        self.on_dependency_failure = flows.parse_policy(on_dependency_failure)
        self.failed_by: int | None = None  # the dependency whose failure failed it
        self.pending_dependencies = 0
        # the dependencies' outcomes as its deps hash held them when it was claimed
        self.outcomes: dict[bytes, bytes] | None = None
        self.schedule: str | None = None  # the key of the schedule that made it
        # after save(): True when a pending job of its debounce key took its data instead
        self.debounced = False

        self.id: int | None = None
        # after save(): False when a job with its unique key already existed and save()
        # returned that job (a retried save answers what the first one did)
        self.created: bool | None = None
        self.state: JobState | None = None
        self.attempts_made = 0
        self.stalls = 0
        self.percent = 0
        self.progress_data: Any = None
        self.result: Any = None
        self.error: str | None = None
        self.worker: str | None = None
        self.created_at: int | None = None
        self.updated_at: int | None = None
        self.started_at: int | None = None
        self.completed_at: int | None = None
        self.failed_at: int | None = None
        self.run_at: int | None = None
        # the script call this job was last sent in, until its reply is applied: a retried
        # save sends that very call again (same token, same jobs), see Queue.add_bulk
        self.pending_save: PendingSave | None = None
        self.token = 0  # fencing token of the current claim; only a worker uses it
        self.cursor: str | None = None  # event-stream id from which this job's events are read
        # why its Redis hash could not be read whole (from_hash), None for a sound job
        self.corrupt: str | None = None
        # shared empty maps until on() is called: jobs are created by the thousand, and
        # two dicts per job that are never used are real garbage-collector work
        self.listeners: dict[str, list[Callback]] = NO_LISTENERS
        # per listener (by id()), the stream position of the last event it was given
        self.delivered: dict[int, tuple[int, int]] = NOTHING_DELIVERED

    # -- codec -------------------------------------------------------------

    def options_fields(self) -> tuple[int, int, str, int, str, str, int, str, str, str]:
        """The options enqueue.lua stores beside type, data and delay, in its entry's
        order: priority, attempts, backoff, ttl (ms), remove policy, unique key, unique
        window (ms), debounce key, limit key, schedule key."""
        return (
            self.priority,
            self.attempts,
            dumps(self.backoff, "backoff").decode() if self.backoff else "",
            round(self.ttl * 1000) if self.ttl else 0,
            encode_remove_policy(self.remove_on_complete),
            self.unique or "",
            round(self.unique_for * 1000) if self.unique_for else 0,
            self.debounce or "",
            self.limit_key or "",
            self.schedule or "",
        )

    @classmethod
    def from_hash(cls, queue: Queue, job_id: int, h: Mapping[bytes, bytes]) -> Job:
        """The job a Redis hash describes. Never raises: fields that cannot be read get
        their defaults and ``corrupt`` says what was wrong (None for a sound hash)."""
        read = HashReader(h)
        job = cls.__new__(cls)
        job.queue = queue
        job.id = job_id
        job.type = read.text("type")
        data = read.json("data")
        if data is not None and not isinstance(data, dict):
            read.bad("data is not a JSON object")
            data = None
        job.data = data or {}
        job.priority = read.number("priority")
        job.attempts = read.number("attempts", 1)
        backoff = read.json("backoff")
        if backoff is not None and not isinstance(backoff, dict):
            read.bad("backoff is not a JSON object")
            backoff = None
        job.backoff = backoff
        job.delay = 0.0
        ttl = read.number("ttl")
        job.ttl = ttl / 1000 if ttl > 0 else None
        try:
            job.remove_on_complete = decode_remove_policy(read.text("remove"))
        except ValueError:
            read.bad("remove policy is not readable")
            job.remove_on_complete = False
        job.unique = read.text("unique") or None
        until = read.opt_number("unique_until")
        job.unique_for = None if until is None else max(0, until - read.number("created_at")) / 1000
        job.debounce = read.text("debounce") or None
        job.limit_key = read.text("limit_key") or None
        job.schedule = read.text("schedule") or None
        job.depends_on = list(flows.parse_ids(read.text("depends_on")))
        job.on_dependency_failure = read.text("on_dep_fail") or "fail"
        job.failed_by = read.opt_number("failed_by")
        job.pending_dependencies = read.number("pending")
        job.outcomes = None
        job.debounced = False
        job.state = read.state()
        job.attempts_made = read.number("attempts_made")
        job.stalls = read.number("stalls")
        job.percent = read.number("progress")
        job.progress_data = read.json("progress_data")
        job.result = read.json("result")
        job.error = read.text("error") or None
        job.worker = read.text("worker") or None
        job.created_at = read.opt_number("created_at")
        job.updated_at = read.opt_number("updated_at")
        job.started_at = read.opt_number("started_at")
        job.completed_at = read.opt_number("completed_at")
        job.failed_at = read.opt_number("failed_at")
        job.run_at = read.opt_number("run_at")
        job.token = read.number("token")
        if not job.type:
            read.bad("it has no type")
        job.corrupt = read.problem
        job.created = None  # read from Redis, not saved by this process
        job.pending_save = None
        job.cursor = None
        job.listeners = NO_LISTENERS
        job.delivered = NOTHING_DELIVERED
        return job

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the job (what the dashboard and CLI show); ``corrupt`` is
        there only for a job whose hash could not be read whole."""
        view: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "data": self.data,
            "state": str(self.state) if self.state else None,
            "priority": self.priority,
            "attempts": {"made": self.attempts_made, "max": self.attempts},
            "stalls": self.stalls,
            "backoff": self.backoff,
            "ttl": self.ttl,
            "progress": self.percent,
            "progress_data": self.progress_data,
            "result": self.result,
            "error": self.error,
            "worker": self.worker,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "failed_at": self.failed_at,
            "run_at": self.run_at,
            "schedule": self.schedule,
            "limit_key": self.limit_key,
            "depends_on": self.dependency_ids,
            "on_dependency_failure": self.on_dependency_failure,
            "failed_by": self.failed_by,
            "pending_dependencies": self.pending_dependencies,
        }
        if self.corrupt is not None:
            view["corrupt"] = self.corrupt
        return view

    def __repr__(self) -> str:
        return f"<Job id={self.id} type={self.type!r} state={self.state}>"

    # -- events --------------------------------------------------------------

    def on(self, event: str, callback: Callback) -> Job:
        """Call ``callback`` on this job's events (plain or async callbacks).

        Events and arguments: ``enqueue``/``start``/``remove`` (), ``progress`` (percent, data),
        ``complete`` (result), ``failed attempt`` (error, attempts_made), ``failed`` (error),
        ``state`` (from, to), ``priority`` (priority), ``stalled`` (stalls), ``ready`` (state: its
        dependencies are done, it moved from waiting to inactive or delayed); the full list is
        event_names.JOB_EVENTS. Events are delivered in order, from the moment the job was saved.
        """
        if event not in JOB_EVENTS:
            raise InvalidJob(
                f"unknown job event {shown(event)}; use one of {', '.join(JOB_EVENTS)}"
            )
        if not callable(callback):
            raise InvalidJob("callback must be callable")
        if self.listeners is NO_LISTENERS:
            self.listeners, self.delivered = {}, {}
        self.listeners.setdefault(event, []).append(callback)
        self.queue._backend.watch(self)
        return self

    # -- I/O, through the queue -----------------------------------------------

    async def save(self) -> Job:
        """Store the job in Redis; sets ``id`` (with ``created`` and ``state``) only together
        with the reply. Safe to call again after any error (timeout, cancel,
        ConnectionFailed, NotReplicated): a job whose save got no answer is sent again in
        the very script call it went in (same save token, same jobs), which answers what
        it did if it ran, so it is never saved twice and ``created`` repeats the first
        answer."""
        await self.queue._save([self])
        return self

    async def wait(self, timeout: float | None = None) -> Any:
        """Wait until the job completes and return its result; JobFailed if it failed."""
        return await self.queue._backend.wait_for(self, timeout)

    async def progress(self, completed: float, total: float = 100, data: Any = None) -> None:
        """Report progress from inside a handler: percent = completed / total * 100."""
        percent = progress_percent(completed, total)
        encoded = dumps(data, "progress data") if data is not None else b""
        check_size("progress data", encoded, self.queue.max_payload)
        await self.queue._backend.progress(self, percent, data, encoded)

    async def log(self, message: str, *args: Any) -> None:
        """Append a line (``message % args``) to the job's log."""
        if args:
            try:
                message = message % args
            except (TypeError, ValueError) as exc:  # e.g. "100%" with an argument
                raise InvalidJob(
                    f"log message {shown(message)} does not take {shown(args)}: {exc}"
                ) from None
        if not isinstance(message, str):
            raise InvalidJob(f"log message must be a string, got {type(message).__name__}")
        try:
            encoded = message.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from an undecodable name
            raise InvalidJob(
                f"log line is not valid text ({exc.reason} at {exc.start}); "
                "write it with errors='backslashreplace' first"
            ) from None
        check_size("log line", encoded, self.queue.max_payload)
        await self.queue._backend.log(self, message, encoded)

    async def remove(self, *, force: bool = False) -> None:
        """Delete the job (see ``Admin.remove``: ``force`` while jobs wait for it)."""
        await self.queue.admin.remove(self.job_id, force=force)

    async def retry(self) -> None:
        """Move a failed job back to inactive with its attempts reset."""
        await self.queue.admin.retry(self.job_id)

    async def refresh(self) -> Job:
        """Re-read the job's fields from Redis."""
        fresh = await self.queue.admin.get_job(self.job_id)
        for name in ("state", "attempts_made", "stalls", "percent", "progress_data", "result"):
            setattr(self, name, getattr(fresh, name))
        for name in ("error", "worker", "updated_at", "started_at", "completed_at", "failed_at"):
            setattr(self, name, getattr(fresh, name))
        self.run_at, self.priority = fresh.run_at, fresh.priority
        self.failed_by, self.pending_dependencies = fresh.failed_by, fresh.pending_dependencies
        return self

    async def dependency_results(self) -> dict[int, Any]:
        """``{dependency id: result}`` in ``depends_on`` order, for the dependencies that
        finished; one that failed (``on_dependency_failure="ignore"``) maps to a
        ``DependencyFailed``. A handler gets them as they were when its job was claimed."""
        outcomes = self.outcomes  # a handler's, from its claim; else read now
        if outcomes is None:
            outcomes = await self.queue._backend.outcomes(self.job_id)
        return flows.results(self.dependency_ids, outcomes)

    @property
    def parent_result(self) -> Any:
        """The result of the job's first dependency (in a chain: the step before), as it
        was when the job was claimed; None when it has none or that one failed."""
        return flows.first_result(self.dependency_ids, self.outcomes)

    @property
    def dependency_ids(self) -> list[int]:
        """The ids of ``depends_on``, each once (two Jobs saved with one unique key are one
        job); a Job not saved yet is left out."""
        ids: dict[int, None] = {}
        for dep in self.depends_on:
            dep_id = dep if isinstance(dep, int) else dep.id
            if dep_id is not None:
                ids[dep_id] = None
        return list(ids)

    @property
    def delay_ms(self) -> int:
        return round(self.delay * 1000)

    @property
    def job_id(self) -> int:
        if self.id is None:
            raise InvalidJob("the job has not been saved yet")
        return self.id
