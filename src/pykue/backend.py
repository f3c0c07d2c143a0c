"""The operations a Queue needs from where its jobs live, as one interface.

Two implementations: ``RedisBackend`` (redis_backend.py: Lua scripts, the event
stream) and ``MemoryBackend`` (memory.py: test mode, Kue's ``queue.testMode``). Queue,
Admin and Job hold a Backend and never ask which one it is, so every producer and
admin call behaves in test mode as it does on Redis.

Arguments arrive checked (ids, names, states, ranges: see admin.py and job.py);
a backend raises the errors of pykue's one tree (JobNotFound, InvalidState,
LeaseLost, ConnectionFailed...), never a raw client error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .limits import Limits

if TYPE_CHECKING:
    from .flows import Node
    from .job import Job, JobState
    from .schedules import Rule, Schedule
    from .stats import Totals


@dataclass(frozen=True, slots=True)
class TypeStats:
    """One job type's figures: jobs per state, whether its claiming is paused, its limits."""

    name: str
    paused: bool
    counts: dict[str, int]
    limits: Limits = field(default_factory=Limits)


class Backend(Protocol):
    """Where one Queue's jobs live."""

    async def connect(self) -> None:
        """Connect now (otherwise done on first use)."""

    async def close(self) -> None:
        """Close connections and the event reader."""

    # -- producing and listening ---------------------------------------------------

    async def save(self, groups: list[list[Job]], encoded: list[list[list[Any]]]) -> None:
        """Store the jobs of ``groups`` (flows.plan: each group a flow, dependencies
        first, to be stored in one call; ``encoded`` by ``Queue._enqueue_args``, their
        dependencies still Jobs or ids), setting each job's id, ``created`` and ``state``
        together with the reply; safe to call again with any of them after an error
        (none is saved twice)."""

    def listening(self) -> None:
        """Queue-wide listeners were added: deliver their events from now on."""

    def watch(self, job: Job) -> None:
        """Deliver ``job``'s events to its listeners (``job.on``)."""

    async def wait_for(self, job: Job, timeout: float | None) -> Any:
        """The result of ``job`` once it completes; JobFailed, JobTimeout."""

    async def progress(self, job: Job, percent: int, data: Any, encoded: bytes) -> None:
        """Record a running job's progress (``encoded``: ``data`` as JSON, b'' for none)
        and set ``job.percent``/``job.progress_data`` if it was recorded."""

    async def log(self, job: Job, line: str, encoded: bytes) -> None:
        """Append ``line`` (``encoded``: its UTF-8) to the job's log."""

    # -- queries -------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        """The job with ``job_id``; JobNotFound if there is none."""

    async def get_log(self, job_id: int) -> list[str]: ...

    async def get_errors(self, job_id: int) -> list[dict[str, Any]]: ...

    async def counts(self, job_type: str | None) -> dict[str, int]:
        """Jobs per state (every state of keys.STATES), of all types or of one."""

    async def type_stats(self) -> list[TypeStats]:
        """Every type saved or limited: its counts, paused flag and limits, by name."""

    async def types(self) -> list[str]: ...

    async def is_paused(self, job_type: str) -> bool: ...

    async def jobs(
        self, states: Sequence[str], job_type: str | None, start: int, stop: int, desc: bool
    ) -> list[Job]:
        """Jobs at positions ``start``..``stop`` of one state's index (in its order), or
        with several ``states``, of all jobs in those states ordered by id."""

    async def search(self, needle: str, limit: int) -> list[int]:
        """Ids, newest first among the newest ``limit`` jobs, whose id is ``needle`` or
        whose type or data contain it (``needle`` is lower-case)."""

    async def dependents(self, job_id: int) -> list[int]:
        """Ids of the jobs that depend on ``job_id``, ascending."""

    async def nodes(self, ids: list[int]) -> dict[int, Node]:
        """What a tree shows of each job of ``ids`` that exists."""

    async def outcomes(self, job_id: int) -> dict[bytes, bytes]:
        """The job's deps hash: dependency id -> outcome (flows.decode_outcome)."""

    async def inactive_ids(self, job_type: str, limit: int) -> list[int]:
        """Ids of ``job_type``'s waiting jobs in claim order."""

    async def totals(self) -> Totals:
        """Work time, outcome totals and histograms (stats.py)."""

    async def throughput(self, minutes: int) -> list[dict[str, int]]:
        """Completed and failed per minute over the last ``minutes``, oldest first."""

    # -- admin ---------------------------------------------------------------------

    async def remove(self, job_id: int, force: bool) -> None:
        """Delete the job; InvalidState while jobs wait for it, unless ``force`` (they
        fail "dependency N removed")."""

    async def retry(self, job_id: int) -> None: ...

    async def pause(self, job_type: str, paused: bool) -> bool:
        """Pause (or resume) claiming of ``job_type``; True if that changed anything."""

    async def set_state(self, job_id: int, state: JobState) -> None: ...

    async def set_priority(self, job_id: int, priority: int) -> None: ...

    # -- schedules and limits --------------------------------------------------------

    async def set_schedule(self, key: str, spec: bytes, rule: Rule) -> None:
        """Store schedule ``key`` (schedules.encode_spec), first run by ``rule`` from now."""

    async def unschedule(self, key: str) -> bool: ...

    async def schedules(self) -> list[Schedule]:
        """Every schedule, sorted by key."""

    async def get_schedule(self, key: str) -> Schedule | None: ...

    async def set_limits(self, job_type: str, change: bytes) -> Limits:
        """Apply ``change`` (limits.patch) and return the type's limits."""

    async def limits(self, job_type: str) -> Limits: ...
