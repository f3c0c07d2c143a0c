"""Queue: create and save jobs, listen to their events, process them.

A Queue connects lazily on first use, so creating one (or using test mode) never
touches Redis. Where its jobs live is its backend (backend.py: Redis, or memory in
test mode); queries and admin calls are ``queue.admin`` (admin.py), each also a thin
method of Queue; processing is a Worker's (worker.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from .admin import Admin
from .backend import Backend
from .config import Settings
from .errors import (
    MAX_INDEX,
    InvalidArgument,
    InvalidJob,
    UsageError,
    check_int,
    check_seconds,
    shown,
)
from .event_names import JOB_EVENTS, QUEUE_EVENTS, TYPE_EVENTS
from .job import Callback, Job, RemovePolicy, dumps
from .keys import Keys, check_name
from .redis_backend import RedisBackend
from .runner import Handler
from .testing import TestMode
from .worker import MAX_CONCURRENCY, Worker

H = TypeVar("H", bound=Handler)
P = ParamSpec("P")
R = TypeVar("R")

SAVE_TIMEOUT = 5.0  # the default save_timeout: a save in seconds, or a clear error


def _saved_here(job: Job) -> bool:
    """True for a job whose own save() or add_bulk() gave it its id (a Job read from Redis
    has ``created`` None)."""
    return job.id is not None and job.created is not None


def _admin_call(
    method: Callable[Concatenate[Admin, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Queue, P], Coroutine[Any, Any, R]]:
    """Queue's thin method for the Admin call ``method`` (one owner, two doors)."""
    name = method.__name__

    async def call(self: Queue, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, Coroutine[Any, Any, R]] = getattr(self.admin, name)
        return await bound(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    call.__doc__ = f"``queue.admin.{name}``: {method.__doc__ or ''}".rstrip()
    return call


class Queue:
    """A Redis-backed job queue. All keys live under the hash tag ``{prefix}``.

    ``lease``: seconds a worker's claim holds without renewal (renewed every lease/3).
    ``max_stalls``: lease expiries a job survives before it fails as stalled.
    ``max_payload``: the largest encoded job data accepted, in bytes.
    ``replicas``: durable saves: ``save()`` and ``add_bulk()`` return only once this many
    replicas have the jobs (Redis ``WAIT``), else raise NotReplicated after
    ``replica_timeout`` s. 0 (the default) trusts the master alone: asynchronous
    replication can then lose the last saves if the master fails.
    ``save_timeout``: the producer's deadline. ``save()`` (connecting included) raises
    ConnectionFailed once it has taken this long; ``add_bulk()`` once any one chunk of
    its jobs (connecting included for the first) has waited this long for Redis, so a
    large bulk that keeps making progress is not cut short. With ``replicas``,
    ``replica_timeout`` is added. The job may or may not have been saved then; saving
    it again is safe: it is sent again in the very call it went in, whose save token
    finds what that call did, so it is never saved twice.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str | None = None,
        lease: float = 30.0,
        max_stalls: int = 1,
        max_payload: int = 1 << 20,
        events_maxlen: int = 10_000,
        replicas: int = 0,
        replica_timeout: float = 1.0,
        save_timeout: float = SAVE_TIMEOUT,
    ) -> None:
        self.settings = Settings.from_env(url=url, prefix=prefix)
        self.keys = Keys(self.settings.prefix)
        self.lease = check_seconds("lease", lease, 0.1, 86400)
        # every script passes events_maxlen to XADD, which refuses one past a signed
        # 64-bit int: after the script's writes, so a job would be left half saved
        for name, value, low in (
            ("max_stalls", max_stalls, 0),
            ("max_payload", max_payload, 1),
            ("events_maxlen", events_maxlen, 100),
        ):
            check_int(name, value, low, MAX_INDEX - 1, "2**53")
        self.replicas = check_int("replicas", replicas, 0, 100)
        self.replica_timeout = check_seconds("replica_timeout", replica_timeout, 0.001, 60)
        self.save_timeout = check_seconds("save_timeout", save_timeout, 0.001, 3600)
        self.max_stalls = max_stalls
        self.max_payload = max_payload
        self.events_maxlen = events_maxlen
        self.handlers: dict[str, tuple[Handler, int]] = {}
        self.listeners: dict[str, list[Callback]] = {}  # queue-wide, see on()
        self._redis = RedisBackend(self)
        self._backend: Backend = self._redis  # test mode swaps in its memory backend
        self.admin = Admin(self)
        self.test_mode = TestMode(self)
        self._worker: Worker | None = None  # while run() is active

    # -- connection ---------------------------------------------------------------

    async def connect(self) -> None:
        """Resolve and connect to Redis now (otherwise done on first use)."""
        await self._backend.connect()

    async def close(self) -> None:
        """Close the event reader and connections (a running worker is shut down first)."""
        await self.shutdown()
        await self._redis.close()

    # -- producing -------------------------------------------------------------------

    def create(
        self,
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
    ) -> Job:
        """A new, unsaved job of ``job_type`` carrying ``data`` (a JSON object).

        ``unique``: a key no other job holds while this one exists (a save that meets
        it returns the job that has it), or, with ``unique_for`` seconds, for that long
        after this job was made. ``debounce`` with ``debounce_for`` seconds: the job
        waits that long; a save of the same key meanwhile gives the waiting job its data
        and restarts the wait (the save's job comes back with ``debounced`` True), so
        one job runs, with the last data. ``limit_key``: the key the type's per-key rate
        (``set_limits(type, key_rate=...)``) counts this job under."""
        return Job(
            self, job_type, data, priority=priority, attempts=attempts, backoff=backoff,
            delay=delay, ttl=ttl, remove_on_complete=remove_on_complete, unique=unique,
            unique_for=unique_for, debounce=debounce, debounce_for=debounce_for,
            limit_key=limit_key,
        )  # fmt: skip

    async def add_bulk(self, jobs: list[Job]) -> list[Job]:
        """Save many jobs, a few hundred per script call; each call is atomic.

        Every job is checked before anything is sent. Chunks go one after another, so
        ids follow the list's order (a retry's resent calls go first); the reply to one
        is applied while the next runs.
        Each job's fields (``id`` ...) are set together with its chunk's reply. If it
        raises (a timeout, a cancel, ConnectionFailed, NotReplicated), the jobs that
        have an id were saved and the others may or may not have been: call it again
        with the same list (or any part of it, in any order): jobs already saved are
        left as they are and every other job is saved once, never twice: a job sent
        before without an answer goes again in the very call it was sent in (its token,
        its jobs, their data as sent then), which answers what it did if it ran; jobs of
        that call not in the list come back saved with it."""
        await self._save(jobs)
        return jobs

    def _encode_bulk(self, jobs: list[Job]) -> tuple[list[Job], list[list[str | int]]]:
        """The jobs of ``jobs`` still to save, checked and encoded for add_bulk: nothing
        is sent if this raises."""
        if not isinstance(jobs, list) or not all(isinstance(job, Job) for job in jobs):
            raise InvalidJob("add_bulk takes a list of Job objects from queue.create()")
        if len({id(job) for job in jobs}) != len(jobs):
            raise InvalidJob("add_bulk got the same Job twice")
        todo = [job for job in jobs if not _saved_here(job)]
        return todo, [self._enqueue_args(job) for job in todo]

    async def _save(self, jobs: list[Job]) -> None:
        """Save ``jobs`` (Job.save, add_bulk): those this Queue saved already are left
        as they are; every other one is checked before anything is sent."""
        todo, encoded = self._encode_bulk(jobs)
        await self._save_encoded(todo, encoded)

    async def _save_encoded(self, jobs: list[Job], encoded: list[list[str | int]]) -> None:
        if jobs:
            await self._backend.save(jobs, encoded)

    def _enqueue_args(self, job: Job) -> list[str | int]:
        """One job's entry in enqueue.lua's list, validated: nothing is sent if this raises."""
        if job.id is not None:
            raise InvalidJob(f"job {job.id} is already saved (it was read from Redis)")
        data = dumps(job.data)
        if len(data) > self.max_payload:
            raise InvalidJob(
                f"job data is {len(data)} bytes, over the limit of {self.max_payload} "
                "(Queue(max_payload=...))"
            )
        return [job.type, data.decode(), job.delay_ms, *job.options_fields()]

    async def get_job(self, job_id: int) -> Job:
        """The job with ``job_id``; JobNotFound if there is none."""
        return await self.admin.get_job(job_id)

    # -- events ---------------------------------------------------------------------------

    def on(self, event: str, callback: Callback) -> Queue:
        """Queue-wide events, Kue's names: ``job complete`` (id, result), ``job failed``
        (id, error), ``job failed attempt`` (id, error, attempts), ``job progress``
        (id, percent, data), ``job state`` (id, from, to), ``job priority`` (id, priority),
        ``job stalled`` (id, stalls), ``job enqueue``/``job start``/``job remove``/... (id,
        type), ``job debounced`` (id, type), ``pause``/``resume``/``limits`` (type),
        ``schedule``/``unschedule`` (type, key); the full list is event_names.QUEUE_EVENTS.
        Delivery starts once the queue is connected; jobs saved after that are all seen."""
        if event not in QUEUE_EVENTS:
            raise InvalidArgument(
                f"unknown queue event {shown(event)}; use 'job ' and a job event "
                f"({', '.join(JOB_EVENTS)}) or {', '.join(TYPE_EVENTS)}"
            )
        if not callable(callback):
            raise InvalidArgument("callback must be callable")
        self.listeners.setdefault(event, []).append(callback)
        self._backend.listening()
        return self

    # -- processing ----------------------------------------------------------------------

    @overload
    def process(self, job_type: str, *, concurrency: int = 1) -> Callable[[H], H]: ...
    @overload
    def process(self, job_type: str, handler: H, *, concurrency: int = 1) -> H: ...

    def process(
        self, job_type: str, handler: H | None = None, *, concurrency: int = 1
    ) -> H | Callable[[H], H]:
        """Register ``handler`` for ``job_type`` (usable as a decorator). ``await queue.run()``
        processes; async handlers run on the loop, plain ``def`` handlers in threads."""
        check_name("job type", job_type)
        check_int("concurrency", concurrency, 1, MAX_CONCURRENCY)

        def register(fn: H) -> H:
            if not callable(fn):
                raise InvalidArgument("handler must be callable")
            self.handlers[job_type] = (fn, concurrency)
            return fn

        return register if handler is None else register(handler)

    async def run(self, *, handle_signals: bool = True) -> None:
        """Process the registered types until ``shutdown()`` (or SIGINT/SIGTERM): the short
        form of ``Worker(queue, queue.handlers).run()``."""
        if self._worker is not None:
            raise UsageError("this queue is already running")
        worker = self._worker = Worker(self, self.handlers)
        try:
            await worker.run(handle_signals=handle_signals)
        finally:
            self._worker = None

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop processing: no new claims; running jobs get ``timeout`` s, then are released."""
        if self._worker is not None:
            await self._worker.shutdown(timeout)

    # -- queries and admin: owned by queue.admin (admin.py) ---------------------------

    get_log = _admin_call(Admin.get_log)
    get_errors = _admin_call(Admin.get_errors)
    counts = _admin_call(Admin.counts)
    type_stats = _admin_call(Admin.type_stats)
    types = _admin_call(Admin.types)
    is_paused = _admin_call(Admin.is_paused)
    jobs = _admin_call(Admin.jobs)
    search = _admin_call(Admin.search)
    inactive_ids = _admin_call(Admin.inactive_ids)
    totals = _admin_call(Admin.totals)
    throughput = _admin_call(Admin.throughput)
    remove = _admin_call(Admin.remove)
    retry = _admin_call(Admin.retry)
    pause = _admin_call(Admin.pause)
    resume = _admin_call(Admin.resume)
    set_state = _admin_call(Admin.set_state)
    set_priority = _admin_call(Admin.set_priority)
    schedule = _admin_call(Admin.schedule)
    schedules = _admin_call(Admin.schedules)
    get_schedule = _admin_call(Admin.get_schedule)
    unschedule = _admin_call(Admin.unschedule)
    set_limits = _admin_call(Admin.set_limits)
    limits = _admin_call(Admin.limits)
