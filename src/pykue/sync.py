"""The producer/admin API for synchronous code (Flask, Django, scripts, plain threads).

    from pykue.sync import Queue
    queue = Queue()
    job = queue.create("email", {"to": "a@b.c"}).save()
    print(job.id, job.wait(timeout=10))

Each sync Queue runs the async Queue on a private event loop in a daemon thread,
so both APIs share one implementation. Calls are thread-safe; event callbacks run
on that loop's thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import queue as aqueue
from .admin import Admin
from .errors import InvalidJob, UsageError
from .job import Callback, Job, JobState, RemovePolicy

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[Admin, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Queue, P], R]:
    """The sync Queue's method for the Admin call ``method``: the same call, blocking."""
    name = method.__name__

    def call(self: Queue, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound: Callable[P, Coroutine[Any, Any, R]] = getattr(self.queue.admin, name)
        return self.run(bound(*args, **kwargs))

    call.__name__ = call.__qualname__ = name
    call.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    call.__doc__ = method.__doc__
    return call


def _unwrapped(items: Sequence[SyncJob | Job | int]) -> Sequence[Job | int]:
    """depends_on as the async Queue takes it (anything else is left for it to refuse)."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        return items
    return [item.job if isinstance(item, SyncJob) else item for item in items]


class SyncJob:
    """A Job seen from synchronous code; attributes are the Job's, methods block."""

    def __init__(self, owner: Queue, job: Job) -> None:
        self._owner = owner
        self.job = job

    def __getattr__(self, name: str) -> Any:
        return getattr(self.job, name)

    def __repr__(self) -> str:
        return repr(self.job)

    def save(self) -> SyncJob:
        self._owner.run(self.job.save())
        return self

    def wait(self, timeout: float | None = None) -> Any:
        return self._owner.run(self.job.wait(timeout))

    def on(self, event: str, callback: Callback) -> SyncJob:
        async def register() -> None:
            self.job.on(event, callback)

        self._owner.run(register())
        return self

    def remove(self, *, force: bool = False) -> None:
        self._owner.run(self.job.remove(force=force))

    def dependency_results(self) -> dict[int, Any]:
        return self._owner.run(self.job.dependency_results())

    def retry(self) -> None:
        self._owner.run(self.job.retry())

    def refresh(self) -> SyncJob:
        self._owner.run(self.job.refresh())
        return self

    @property
    def state(self) -> JobState | None:
        return self.job.state


class Queue:
    """Blocking twin of ``pykue.Queue`` for producers and admin tools; ``options`` are
    that Queue's (``prefix``, ``save_timeout`` ...), so a blocked save ends after
    ``save_timeout`` with ConnectionFailed, and saving again is safe."""

    def __init__(self, url: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="pykue-sync-loop")  # fmt: skip
        self._thread.start()
        self.queue = aqueue.Queue(url, **options)
        self.test_mode = self.queue.test_mode

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on this queue's loop and wait for its result."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise UsageError("blocking pykue.sync call made from an event callback")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

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
        depends_on: Sequence[SyncJob | Job | int] = (),
        children: Sequence[SyncJob | Job | int] = (),
        on_dependency_failure: str = "fail",
    ) -> SyncJob:
        job = self.queue.create(
            job_type, data, priority=priority, attempts=attempts, backoff=backoff, delay=delay,
            ttl=ttl, remove_on_complete=remove_on_complete, unique=unique,
            unique_for=unique_for, debounce=debounce, debounce_for=debounce_for,
            limit_key=limit_key, depends_on=_unwrapped(depends_on),
            children=_unwrapped(children), on_dependency_failure=on_dependency_failure,
        )  # fmt: skip
        return SyncJob(self, job)

    def add_flow(self, root: SyncJob) -> SyncJob:
        """Save a flow's root and every unsaved job below it (``pykue.Queue.add_flow``)."""
        self.run(self.queue.add_flow(self._job_of("add_flow", root)))
        return root

    def chain(self, steps: list[SyncJob]) -> list[SyncJob]:
        """Each step runs after the one before (``pykue.Queue.chain``)."""
        self.run(self.queue.chain(self._jobs_of("chain", steps)))
        return steps

    def group(self, jobs: list[SyncJob], *, then: SyncJob | None = None) -> list[SyncJob]:
        """Save jobs together; ``then`` runs after all of them (``pykue.Queue.group``)."""
        last = None if then is None else self._job_of("group's then", then)
        self.run(self.queue.group(self._jobs_of("group", jobs), then=last))
        return [*jobs, then] if then is not None else jobs

    def _job_of(self, what: str, job: object) -> Job:
        if not isinstance(job, SyncJob):
            raise InvalidJob(f"{what} takes a job from this queue's create()")
        return job.job

    def _jobs_of(self, what: str, jobs: object) -> list[Job]:
        if not isinstance(jobs, list):
            raise InvalidJob(f"{what} takes a list of jobs from this queue's create()")
        return [self._job_of(what, job) for job in jobs]

    def connect(self) -> None:
        self.run(self.queue.connect())

    def add_bulk(self, jobs: list[SyncJob]) -> list[SyncJob]:
        """Save many jobs, a few hundred per script call (see ``pykue.Queue.add_bulk``)."""
        self.run(self.queue.add_bulk(self._jobs_of("add_bulk", jobs)))
        return jobs

    def get_job(self, job_id: int) -> SyncJob:
        return SyncJob(self, self.run(self.queue.get_job(job_id)))

    def jobs(
        self,
        state: str | JobState | None = None,
        *,
        type: str | None = None,
        start: int = 0,
        stop: int = 99,
        order: str = "asc",
    ) -> list[SyncJob]:
        found = self.run(self.queue.jobs(state, type=type, start=start, stop=stop, order=order))
        return [SyncJob(self, job) for job in found]

    # the other admin calls, each blocking on the async one (Admin owns them all)
    get_log = _blocking(Admin.get_log)
    get_errors = _blocking(Admin.get_errors)
    counts = _blocking(Admin.counts)
    type_stats = _blocking(Admin.type_stats)
    types = _blocking(Admin.types)
    is_paused = _blocking(Admin.is_paused)
    search = _blocking(Admin.search)
    inactive_ids = _blocking(Admin.inactive_ids)
    totals = _blocking(Admin.totals)
    throughput = _blocking(Admin.throughput)
    remove = _blocking(Admin.remove)
    dependents = _blocking(Admin.dependents)
    tree = _blocking(Admin.tree)
    retry = _blocking(Admin.retry)
    pause = _blocking(Admin.pause)
    resume = _blocking(Admin.resume)
    set_state = _blocking(Admin.set_state)
    set_priority = _blocking(Admin.set_priority)
    schedule = _blocking(Admin.schedule)
    schedules = _blocking(Admin.schedules)
    get_schedule = _blocking(Admin.get_schedule)
    unschedule = _blocking(Admin.unschedule)
    set_limits = _blocking(Admin.set_limits)
    limits = _blocking(Admin.limits)

    def on(self, event: str, callback: Callback) -> Queue:
        async def register() -> None:
            await self.queue.connect()
            self.queue.on(event, callback)

        self.run(register())
        return self

    def close(self) -> None:
        """Close connections and stop the loop thread."""
        if self._loop.is_closed():
            return
        self.run(self.queue.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
