"""Job dependencies in test mode: what the Lua scripts do to the dependencies of a
MemoryBackend's jobs (memory.py). The reference is _common.lua's dependency helpers
(done, release, record, dependency_complete, fail_waiting, dependency_failed,
other_failure, dependency_retried), enqueue.lua's check and link, and the dependency
parts of complete.lua, fail.lua, remove.lua, retry.lua and set_state.lua; names below
are theirs.

Changes are made at once and their events queued: the MemoryBackend delivers them after
the call's own event (``take``), as Redis's reader delivers a script's events once the
script has run, so a listener sees every job as the whole call left it. Dependents are
visited in ascending id order, the order SMEMBERS gives for a set of ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from .errors import ERR_WAITED_FOR, raise_for_code
from .flows import HAND_FAILED, MAX_DEPENDENTS, MAX_DEPTH, Node, pack
from .job import Job, JobState
from .redis_backend import BULK_CHUNK
from .scripts import replies

if TYPE_CHECKING:
    from .memory import MemoryBackend

# an event to deliver: the job, its name and its stream fields (MemoryBackend._emit)
Event = tuple[Job, str, dict[str, str | bytes | int]]


def done(outcome: bytes | None) -> bool:
    """Completed, failed but ignored, or removed: the dependency no longer holds its
    dependent (a failure, 'f', still does)."""
    return outcome is not None and outcome[:1] in (b"c", b"i", b"r")


def calls(groups: list[list[Job]]) -> list[list[Job]]:
    """The enqueue.lua calls RedisBackend cuts ``groups`` into: each is checked, and
    refused, as one."""
    return pack(groups, lambda job: len(job.depends_on), BULK_CHUNK)


def refuse(code: int, dep: int) -> None:
    """enqueue.lua's ``{code, id}`` refusal, raised as the reply reader raises it."""
    replies.saved([code, dep])
    raise AssertionError(f"enqueue refusal {code} was not raised")  # pragma: no cover


class Links:
    """The dependency links of one MemoryBackend's jobs: their deps hashes, dependents
    sets and depths; what a Job object holds (state, pending_dependencies, failed_by,
    error) is kept on the stored Job itself."""

    def __init__(self, backend: MemoryBackend) -> None:
        self.backend = backend
        self.deps: dict[int, dict[int, bytes]] = {}  # P:job:ID:deps, in insertion order
        self.dependents: dict[int, set[int]] = {}  # P:job:ID:dependents
        self.depth: dict[int, int] = {}  # the 'depth' field (absent: 0)
        self.events: list[Event] = []
        self.released: list[Job] = []  # made inactive or delayed: process mode runs them

    def clear(self) -> None:
        for table in (self.deps, self.dependents, self.depth):
            table.clear()
        self.events.clear()
        self.released.clear()

    def take(self) -> tuple[list[Event], list[Job]]:
        """The queued events and released jobs, handed over once."""
        events, released = self.events, self.released
        self.events, self.released = [], []
        return events, released

    # -- reading ---------------------------------------------------------------------

    def outcomes(self, job_id: int) -> dict[bytes, bytes]:
        """The deps hash as HGETALL answers it."""
        return {str(dep).encode(): raw for dep, raw in self.deps.get(job_id, {}).items()}

    def node(self, job: Job) -> Node:
        state = None if job.state is None else str(job.state)
        return Node(job.type, state, job.dependency_ids, self.outcomes(job.job_id))

    def dependents_of(self, job_id: int) -> list[int]:
        return sorted(self.dependents.get(job_id, ()))

    # -- saving (enqueue.lua) --------------------------------------------------------

    def check(self, call: list[Job]) -> dict[int, int]:
        """enqueue.lua's check before anything is written: every dependency id names a
        job and none nests deeper than MAX_DEPTH; InvalidJob otherwise. Returns each
        job's depth (by ``id(job)``)."""
        depth: dict[int, int] = {}
        adding: dict[int, int] = {}
        for job in call:
            deepest = 0
            for dep in job.depends_on:
                if isinstance(dep, Job) and dep.id is None:
                    below = depth.get(id(dep), 0)  # saved in this call, before ``job``
                else:
                    dep_id = dep if isinstance(dep, int) else dep.job_id
                    if dep_id not in self.backend._by_id:
                        refuse(replies.ERR_DEPENDENCY, dep_id)
                    below = self.depth.get(dep_id, 0)
                    had = adding.get(dep_id, len(self.dependents.get(dep_id, ())))
                    adding[dep_id] = had + 1
                    if adding[dep_id] > MAX_DEPENDENTS:
                        refuse(replies.ERR_DEPENDENTS, dep_id)
                deepest = max(deepest, below + 1)
            if deepest > MAX_DEPTH:
                refuse(replies.ERR_DEPTH, 0)
            depth[id(job)] = deepest
        return depth

    def link(self, job: Job, now: int, depth: int) -> JobState | None:
        """enqueue.lua's link for new job ``job`` (its id given): each dependency learns
        of it and what already ended is recorded. Returns the state that holds it
        (waiting, or failed when a dependency failed already under policy fail), None
        when every dependency is done. Its depends_on becomes ids."""
        job_id, policy = job.job_id, job.on_dependency_failure
        outcomes = self.deps.setdefault(job_id, {})
        ids: list[int] = []
        pending, failed_by, why = 0, None, ""
        for dep in job.depends_on:
            dep_id = dep if isinstance(dep, int) else dep.job_id
            if dep_id in ids:
                continue  # two entries name one job once ids are known (a unique key's)
            ids.append(dep_id)
            self.dependents.setdefault(dep_id, set()).add(job_id)
            other = self.backend._by_id.get(dep_id)
            state = None if other is None else other.state
            error = ((other.error if other else None) or HAND_FAILED).encode()
            if other is not None and state is JobState.COMPLETE:
                outcomes[dep_id] = b"c" + orjson.dumps(other.result)
            elif state is JobState.FAILED and policy == "ignore":
                outcomes[dep_id] = b"i" + error
            else:
                pending += 1
                if state is JobState.FAILED:
                    outcomes[dep_id] = b"f" + error
                    if policy == "fail" and failed_by is None:
                        failed_by, why = dep_id, f"dependency {dep_id} failed: {error.decode()}"
        job.depends_on = list(ids)
        job.pending_dependencies = pending
        self.depth[job_id] = depth
        if failed_by is None:
            return JobState.WAITING if pending else None
        job.error, job.failed_by, job.failed_at = why, failed_by, now
        self._failure_recorded(job, why, now)
        return JobState.FAILED

    # -- a dependency ended (_common.lua) ----------------------------------------------

    def record(self, job: Job, dep: int, outcome: bytes) -> tuple[bool, bool]:
        """``outcome`` of ``dep`` recorded in ``job``: whether the dependency still held
        it, and whether this made its last dependency done. A done outcome is replaced
        only by a completion."""
        outcomes = self.deps.setdefault(job.job_id, {})
        before = outcomes.get(dep)
        if done(before):
            if outcome[:1] == b"c":
                outcomes[dep] = outcome
            return False, False
        outcomes[dep] = outcome
        if not done(outcome):
            return True, False
        job.pending_dependencies -= 1
        return True, job.pending_dependencies <= 0

    def release(self, job: Job, now: int) -> None:
        if job.delay_ms > 0:
            job.state, job.run_at = JobState.DELAYED, now + job.delay_ms
        else:
            job.state = JobState.INACTIVE
        job.updated_at = now
        self.events.append((job, "ready", {"state": str(job.state)}))
        self.released.append(job)

    def completed(self, job: Job, result: bytes, now: int) -> None:
        """dependency_complete: its dependents record ``result`` (JSON); those waiting
        for nothing else are released."""
        for dep_id in self.dependents_of(job.job_id):
            other = self.backend._by_id.get(dep_id)
            if other is None:
                continue
            waiting = other.state is JobState.WAITING
            if self.record(other, job.job_id, b"c" + result)[1] and waiting:
                self.release(other, now)

    def failed(self, job: Job, message: str, now: int, removed: bool = False) -> None:
        """dependency_failed: ``job`` failed for good with ``message`` (or was
        ``removed``); each dependent follows its policy, and those that fail take their
        own dependents with them, level by level."""
        work = [(job.job_id, message, removed)]
        for failed_id, why, gone in work:  # grows while it is walked
            for dep_id in self.dependents_of(failed_id):
                other = self.backend._by_id.get(dep_id)
                if other is None:
                    continue
                waiting = other.state is JobState.WAITING
                policy = other.on_dependency_failure
                if gone:
                    # nothing can come back: done, yet a dependent it held fails
                    held = self.record(other, failed_id, b"r")[0]
                elif policy == "ignore":
                    if self.record(other, failed_id, b"i" + why.encode())[1] and waiting:
                        self.release(other, now)
                    continue
                else:
                    held = self.record(other, failed_id, b"f" + why.encode())[0]
                    if policy == "wait":
                        continue
                if held and waiting:  # not for one it no longer waited for
                    text = (
                        f"dependency {failed_id} removed"
                        if gone
                        else f"dependency {failed_id} failed: {why}"
                    )
                    self._fail_waiting(other, failed_id, text, now)
                    work.append((dep_id, text, False))

    def _fail_waiting(self, job: Job, dep: int, message: str, now: int) -> None:
        job.state, job.error, job.failed_by = JobState.FAILED, message, dep
        job.failed_at = job.updated_at = now
        self._failure_recorded(job, message, now)
        self.events.append((job, "failed", {"error": message}))

    def _failure_recorded(self, job: Job, message: str, now: int) -> None:
        """A job failed by a dependency: its error record (attempt 0) and the counters."""
        record = {"attempt": 0, "error": message, "traceback": "", "at": now}
        self.backend._errors.setdefault(job.job_id, []).append(record)
        self.backend._bump("failed")
        self.backend._count_minute(now, "failed")

    def retried(self, job: Job, now: int) -> None:
        """dependency_retried: ``job`` left failed; its dependents forget its failure, and
        those failed only because of it wait again (with their own dependents)."""
        work = [job.job_id]
        for retried_id in work:  # grows while it is walked
            for dep_id in self.dependents_of(retried_id):
                other = self.backend._by_id.get(dep_id)
                if other is None:
                    continue
                outcomes = self.deps.get(dep_id, {})
                if outcomes.get(retried_id, b"")[:1] == b"f":
                    del outcomes[retried_id]
                if other.state is not JobState.FAILED or other.failed_by != retried_id:
                    continue
                blame = None
                if other.on_dependency_failure != "wait":
                    blame = next((d for d, raw in outcomes.items() if raw[:1] == b"f"), None)
                if blame is not None:
                    other.failed_by = blame
                    continue
                other.state, other.updated_at = JobState.WAITING, now
                other.error = other.failed_at = other.failed_by = None
                self.events.append((other, "state", {"from": "failed", "to": "waiting"}))
                if other.pending_dependencies <= 0:  # its others ended meanwhile: it runs
                    self.release(other, now)
                work.append(dep_id)

    def moved(self, job: Job, before: JobState | None, target: JobState, now: int) -> None:
        """set_state.lua: dependents learn of a hand-made move as of a worker's outcome."""
        if before is JobState.FAILED:
            self.retried(job, now)
        if target is JobState.COMPLETE:
            self.completed(job, orjson.dumps(job.result), now)
        elif target is JobState.FAILED:
            error = HAND_FAILED if job.error is None else job.error
            self.failed(job, error, now)

    # -- removing (remove.lua, _common.lua's drop) ------------------------------------

    def removing(self, job: Job, force: bool, now: int) -> None:
        """Refused (InvalidState, nothing changed) while jobs wait for ``job``, unless
        ``force``: then they fail 'dependency N removed'."""
        waiting = [
            dep_id
            for dep_id in self.dependents_of(job.job_id)
            if dep_id in self.backend._by_id and not done(self.deps.get(dep_id, {}).get(job.job_id))
        ]
        if not waiting:
            return
        if not force:
            raise_for_code(ERR_WAITED_FOR, job.job_id, ", ".join(map(str, waiting[:20])))
        self.failed(job, "", now, removed=True)

    def forget(self, job: Job) -> None:
        """drop: the job leaves its dependencies' dependents; its own links go."""
        job_id = job.job_id
        for dep_id in job.dependency_ids:
            self.dependents.get(dep_id, set()).discard(job_id)
        for table in (self.deps, self.dependents, self.depth):
            table.pop(job_id, None)

    def snapshot(self, job: Job) -> dict[bytes, bytes] | None:
        """What a claim hands a job with dependencies (claim.lua's deps HGETALL): the
        outcomes its handler reads; None for a job without any, as the worker leaves it."""
        return self.outcomes(job.job_id) if job.depends_on else None
