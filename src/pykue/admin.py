"""Admin: queries and hand-made changes of a queue's jobs (``queue.admin``).

Every call checks its arguments here, once (InvalidArgument, nothing sent), then asks
the queue's backend: Redis, or memory in test mode, which behave the same. The
dashboard, the JSON API and the CLI go through these calls; ``Queue`` keeps a thin
method of the same name for each.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import flows
from . import limits as limits_
from .backend import Backend, TypeStats
from .errors import (
    MAX_INDEX,
    InvalidArgument,
    InvalidJob,
    ScheduleNotFound,
    check_id,
    check_int,
    shown,
)
from .job import Job, JobState, RemovePolicy, parse_priority, parse_state
from .keys import STATES, check_name
from .limits import UNSET, Limits, Rate
from .schedules import Schedule, encode_spec, parse_rule
from .stats import Totals

if TYPE_CHECKING:
    from .queue import Queue

PAGE_LIMIT = 1000  # jobs per page, and ids per search


class Admin:
    """The queries and admin calls of one Queue."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    @property
    def _backend(self) -> Backend:
        return self._queue._backend

    # -- queries ---------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        """The job with ``job_id``; JobNotFound if there is none."""
        return await self._backend.get_job(check_id(job_id))

    async def get_log(self, job_id: int) -> list[str]:
        """The job's log lines (``job.log()``), oldest first."""
        return await self._backend.get_log(check_id(job_id))

    async def get_errors(self, job_id: int) -> list[dict[str, Any]]:
        """One record per failed attempt: attempt, error, traceback, at (ms)."""
        return await self._backend.get_errors(check_id(job_id))

    async def counts(self, type: str | None = None) -> dict[str, int]:
        """Number of jobs per state, for all types or one."""
        return await self._backend.counts(_type_or_none(type))

    async def type_stats(self) -> list[TypeStats]:
        """Every job type's counts per state and paused flag, sorted by name, in two
        round trips however many types there are."""
        return await self._backend.type_stats()

    async def types(self) -> list[str]:
        """The job types ever saved, sorted."""
        return await self._backend.types()

    async def is_paused(self, job_type: str) -> bool:
        return await self._backend.is_paused(check_name("job type", job_type))

    async def jobs(
        self,
        state: str | JobState | None = None,
        *,
        type: str | None = None,
        start: int = 0,
        stop: int = 99,
        order: str = "asc",
    ) -> list[Job]:
        """Jobs of one state (or every state), optionally of one type, by index range.

        Inactive jobs of a type come in claim order; other lists in the order jobs
        entered the state; every state together by id. ``stop`` is inclusive; a page
        holds at most 1,000 jobs, read from Redis page by page.
        """
        if order not in ("asc", "desc"):
            raise InvalidArgument(f"order must be 'asc' or 'desc', got {shown(order)}")
        for name, value in (("start", start), ("stop", stop)):
            check_int(name, value, 0, MAX_INDEX - 1, "2**53")  # ZRANGE refuses past 2**63
        if stop < start or stop - start >= PAGE_LIMIT:
            raise InvalidArgument(
                f"range {start}..{stop} must be ascending and hold <= {PAGE_LIMIT}"
            )
        states = STATES if state is None else (parse_state(state).value,)
        return await self._backend.jobs(states, _type_or_none(type), start, stop, order == "desc")

    async def search(self, text: str, *, limit: int = PAGE_LIMIT) -> list[int]:
        """Ids of jobs whose id is ``text`` or whose type or data contain it (case-insensitive),
        newest first, looking at the newest ``limit`` (at most 1,000) jobs only."""
        if not isinstance(text, str) or not text.strip() or len(text) > 200:
            raise InvalidArgument("search text must be 1 to 200 characters")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= PAGE_LIMIT:
            raise InvalidArgument(f"limit must be 1 to {PAGE_LIMIT}")
        return await self._backend.search(text.strip().lower(), limit)

    async def inactive_ids(self, job_type: str) -> list[int]:
        """Ids of the waiting jobs of ``job_type``, in the order workers will take them
        (at most 1,000)."""
        return await self._backend.inactive_ids(check_name("job type", job_type), PAGE_LIMIT)

    async def totals(self) -> Totals:
        """Work time, completed/failed totals and the duration and wait histograms."""
        return await self._backend.totals()

    async def throughput(self, minutes: int = 60) -> list[dict[str, int]]:
        """Completed and failed jobs per minute over the last ``minutes``, oldest first
        (minutes by the Redis server's clock)."""
        return await self._backend.throughput(check_int("minutes", minutes, 1, 24 * 60))

    # -- changes ---------------------------------------------------------------------

    async def remove(self, job_id: int, *, force: bool = False) -> None:
        """Delete a job in any state (a worker running it loses its lease). While jobs
        wait for it, InvalidState, unless ``force``: then they fail ("dependency N
        removed")."""
        if not isinstance(force, bool):
            raise InvalidArgument(f"force must be True or False, got {shown(force)}")
        await self._backend.remove(check_id(job_id), force)

    async def dependents(self, job_id: int) -> list[int]:
        """Ids of the jobs that depend on ``job_id`` (waiting for it or done), ascending."""
        return await self._backend.dependents(check_id(job_id))

    async def tree(self, job_id: int) -> dict[str, Any]:
        """The job with what it waits for, recursively, and what waits for it, as JSON
        (``GET /job/{id}/tree``): ids, types, states and each dependency's outcome."""
        return await flows.tree(self._backend, check_id(job_id))

    async def retry(self, job_id: int) -> None:
        """Move a failed job back to inactive, with its attempts reset."""
        await self._backend.retry(check_id(job_id))

    async def pause(self, job_type: str) -> bool:
        """Stop workers claiming jobs of ``job_type`` (running ones finish). True if changed."""
        return await self._backend.pause(check_name("job type", job_type), True)

    async def resume(self, job_type: str) -> bool:
        """Let workers claim jobs of ``job_type`` again. True if changed."""
        return await self._backend.pause(check_name("job type", job_type), False)

    async def set_state(self, job_id: int, state: str | JobState) -> None:
        """Move a job by hand to inactive, delayed, complete or failed (Kue's state route).

        A running job's worker loses it: its late answer is refused."""
        job_id = check_id(job_id)
        target = parse_state(state)
        if target is JobState.ACTIVE:
            # InvalidJob, as for any other state it cannot take (parse_state)
            raise InvalidJob("only a worker makes a job active; use inactive to re-queue it")
        if target is JobState.WAITING:
            raise InvalidJob("only unfinished dependencies make a job waiting")
        await self._backend.set_state(job_id, target)

    async def set_priority(self, job_id: int, priority: int | str) -> None:
        """Change a job's priority; a waiting job moves in the claim order at once."""
        await self._backend.set_priority(check_id(job_id), parse_priority(priority))

    # -- schedules ---------------------------------------------------------------------

    async def schedule(
        self,
        job_type: str,
        *,
        key: str,
        cron: str | None = None,
        every: float | timedelta | None = None,
        tz: str = "UTC",
        data: Mapping[str, Any] | None = None,
        catch_up: bool = True,
        priority: int | str = "normal",
        attempts: int = 1,
        backoff: Mapping[str, Any] | bool | None = None,
        ttl: float | timedelta | None = None,
        remove_on_complete: RemovePolicy = False,
        limit_key: str | None = None,
    ) -> Schedule:
        """Make a job of ``job_type`` on a cron rule (``cron``, in time zone ``tz``) or
        every ``every`` seconds, from now on; a schedule of the same ``key`` is replaced
        at once. Running workers make the jobs, one per run however many there are;
        after all were down past several runs, one catch-up job is made (none with
        ``catch_up=False``). The jobs carry ``data`` and the options given, and the
        schedule's key (``job.schedule``)."""
        key = check_name("schedule key", key)
        rule = parse_rule(cron, every, tz)
        if not isinstance(catch_up, bool):
            raise InvalidArgument(f"catch_up must be True or False, got {shown(catch_up)}")
        queue = self._queue
        job = Job(
            queue, job_type, data, priority=priority, attempts=attempts, backoff=backoff,
            ttl=ttl, remove_on_complete=remove_on_complete, limit_key=limit_key,
        )  # fmt: skip
        options = {
            "priority": job.priority,
            "attempts": job.attempts,
            "backoff": job.backoff,
            "ttl": job.ttl,
            "remove_on_complete": _policy_view(job.remove_on_complete),
            "limit_key": job.limit_key,
        }
        spec = encode_spec(job.type, rule, catch_up, queue._enqueue_args(job), options)
        await self._backend.set_schedule(key, spec, rule)
        return await self.get_schedule(key)

    async def schedules(self) -> list[Schedule]:
        """Every schedule, by key."""
        return await self._backend.schedules()

    async def get_schedule(self, key: str) -> Schedule:
        """The schedule of ``key``; ScheduleNotFound if there is none."""
        found = await self._backend.get_schedule(check_name("schedule key", key))
        if found is None:
            raise ScheduleNotFound(f"schedule {key!r} not found")
        return found

    async def unschedule(self, key: str) -> bool:
        """Remove the schedule of ``key`` (the jobs it made stay); True if there was one."""
        return await self._backend.unschedule(check_name("schedule key", key))

    # -- limits ----------------------------------------------------------------------

    async def set_limits(
        self,
        job_type: str,
        *,
        rate: tuple[int, float] | Rate | Any | None = UNSET,
        concurrency: int | Any | None = UNSET,
        key_rate: tuple[int, float] | Rate | Any | None = UNSET,
    ) -> Limits:
        """Limit ``job_type`` for every worker: ``rate=(count, per)`` starts at most
        ``count`` jobs in any ``per`` seconds, ``concurrency`` runs at most that many at
        once, ``key_rate=(count, per)`` is a rate per limit key (``queue.create(...,
        limit_key=...)``). A limit left out stays as it is; None removes it."""
        job_type = check_name("job type", job_type)
        change = limits_.patch(rate, concurrency, key_rate)
        return await self._backend.set_limits(job_type, change)

    async def limits(self, job_type: str) -> Limits:
        """The limits of ``job_type`` (all None when it has none)."""
        return await self._backend.limits(check_name("job type", job_type))


def _policy_view(policy: RemovePolicy) -> bool | int | dict[str, float]:
    """remove_on_complete as JSON can carry it (a max age in seconds)."""
    if isinstance(policy, timedelta):
        return {"age": policy.total_seconds()}
    return policy


def _type_or_none(job_type: str | None) -> str | None:
    return None if job_type is None else check_name("job type", job_type)


# The calls Queue and pykue.sync.Queue both offer, by name (tests/test_sync.py checks).
CALLS = tuple(
    name for name, value in vars(Admin).items() if callable(value) and not name.startswith("_")
)
