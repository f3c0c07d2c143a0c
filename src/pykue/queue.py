"""Queue: create and save jobs, listen to their events, process them.

A Queue connects lazily on first use, so creating one (or using test mode) never
touches Redis. Where its jobs live is its backend (backend.py: Redis, or memory in
test mode); queries and admin calls are ``queue.admin`` (admin.py), each also a thin
method of Queue; processing is a Worker's (worker.py).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from . import flows
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

# a save: jobs sent before without an answer, then the new ones grouped (flows.plan)
# and encoded
Prepared = tuple[list[Job], list[list[Job]], list[list[list[Any]]]]

SAVE_TIMEOUT = 5.0  # the default save_timeout: a save in seconds, or a clear error


def _refuse_saved(what: str, job: Job) -> None:
    """A saved job cannot be made to wait: its links were stored with it."""
    if job.id is not None:
        raise InvalidJob(f"job {job.id} is already saved: {what}() can only make new jobs wait")


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
        depends_on: Sequence[Job | int] = (),
        children: Sequence[Job | int] = (),
        on_dependency_failure: str = "fail",
    ) -> Job:
        """A new, unsaved job of ``job_type`` carrying ``data`` (a JSON object).

        ``unique``: a key no other job holds while this one exists (a save that meets
        it returns the job that has it), or, with ``unique_for`` seconds, for that long
        after this job was made. ``debounce`` with ``debounce_for`` seconds: the job
        waits that long; a save of the same key meanwhile gives the waiting job its data
        and restarts the wait (the save's job comes back with ``debounced`` True), so
        one job runs, with the last data. ``limit_key``: the key the type's per-key rate
        (``set_limits(type, key_rate=...)``) counts this job under.

        ``depends_on`` (Jobs of this queue or ids; ``children`` in a flow): the job waits
        (state ``waiting``) until each has completed, then runs (after ``delay``, if
        any); saving it saves those not saved yet, in the same script call. If one
        fails for good, ``on_dependency_failure`` says what it does: ``"fail"`` too
        (with "dependency N failed: ..."), ``"ignore"`` it and run, or ``"wait"`` for
        a retry of it to complete."""
        return Job(
            self, job_type, data, priority=priority, attempts=attempts, backoff=backoff,
            delay=delay, ttl=ttl, remove_on_complete=remove_on_complete, unique=unique,
            unique_for=unique_for, debounce=debounce, debounce_for=debounce_for,
            limit_key=limit_key, depends_on=depends_on, children=children,
            on_dependency_failure=on_dependency_failure,
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

    async def add_flow(self, root: Job) -> Job:
        """Save ``root`` with every unsaved job it depends on (its ``children``, theirs,
        ...), in one script call: none of them runs before all are stored."""
        if not isinstance(root, Job):
            raise InvalidJob("add_flow takes the root Job of a flow, from queue.create()")
        await self._save([root])
        return root

    async def chain(self, steps: list[Job]) -> list[Job]:
        """Save ``steps`` so that each runs after the one before has completed (and gets
        its result as ``job.parent_result``), in one script call."""
        steps = self._unsaved_list("chain", steps)
        # chained before (a chain saved again is left as it is), or to be linked now
        links = [
            (before, step)
            for before, step in itertools.pairwise(steps)
            if not any(dep is before for dep in step.depends_on)
        ]
        for _, step in links:
            _refuse_saved("chain", step)
        # every step checked before any changes: a refused chain leaves its jobs as given
        linked = [
            (step, flows.check_dependencies([before, *step.depends_on])) for before, step in links
        ]
        for step, depends_on in linked:
            step.depends_on = depends_on
        await self._save(steps)
        return steps

    async def group(self, jobs: list[Job], *, then: Job | None = None) -> list[Job]:
        """Save ``jobs`` together; with ``then``, a job that runs once after all of them
        have completed (a chord). Returns the jobs, ``then`` last."""
        jobs = self._unsaved_list("group", jobs)
        if then is None:
            await self._save(jobs)
            return jobs
        if not isinstance(then, Job) or any(then is job for job in jobs):
            raise InvalidJob("then must be a Job from queue.create(), not one of the group")
        known = {id(dep) for dep in then.depends_on}
        extra = [job for job in jobs if id(job) not in known]
        if extra:
            _refuse_saved("group", then)
        then.depends_on = flows.check_dependencies([*then.depends_on, *extra])
        await self._save([*jobs, then])
        return [*jobs, then]

    @staticmethod
    def _unsaved_list(what: str, jobs: object) -> list[Job]:
        if not isinstance(jobs, list) or not all(isinstance(job, Job) for job in jobs):
            raise InvalidJob(f"{what} takes a list of Job objects from queue.create()")
        if len({id(job) for job in jobs}) != len(jobs):
            raise InvalidJob(f"{what} got the same Job twice")
        return jobs

    async def _save(self, jobs: list[Job]) -> None:
        """Save ``jobs`` (Job.save, add_bulk, flows): those this Queue saved already are
        left as they are; every other one, and every unsaved job they depend on, is
        checked before anything is sent."""
        await self._send(self._prepare(jobs))

    def _prepare(self, jobs: list[Job]) -> Prepared:
        """What saving ``jobs`` sends, checked and encoded: nothing is sent if this raises."""
        todo = [job for job in self._unsaved_list("add_bulk", jobs) if not _saved_here(job)]
        again, groups = flows.plan(todo, self.keys.prefix)
        return again, groups, [[self._enqueue_args(job) for job in group] for group in groups]

    async def _send(self, prepared: Prepared) -> None:
        again, groups, encoded = prepared
        # sent before without an answer: each goes again in the call it went in first
        resent = [[job] for job in again]
        pending = {id(job) for job in again}
        if any(id(dep) in pending for group in groups for job in group for dep in job.depends_on):
            # jobs saved now name these by id: they must have theirs first
            await self._backend.save(resent, [[[]] for _ in resent])
            resent = []
        if resent or groups:
            await self._backend.save(resent + groups, [[[]] for _ in resent] + encoded)

    def _enqueue_args(self, job: Job) -> list[Any]:
        """One job's entry in enqueue.lua's list, validated: nothing is sent if this raises.
        Its dependencies are Jobs or ids here; the backend numbers them for the call."""
        if job.id is not None:
            raise InvalidJob(f"job {job.id} is already saved (it was read from Redis)")
        data = dumps(job.data)
        if len(data) > self.max_payload:
            raise InvalidJob(
                f"job data is {len(data)} bytes, over the limit of {self.max_payload} "
                "(Queue(max_payload=...))"
            )
        policy = "" if job.on_dependency_failure == "fail" else job.on_dependency_failure
        return [
            job.type, data.decode(), job.delay_ms, *job.options_fields(), job.depends_on, policy,
        ]  # fmt: skip

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
    dependents = _admin_call(Admin.dependents)
    tree = _admin_call(Admin.tree)
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
