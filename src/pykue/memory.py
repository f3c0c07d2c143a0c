"""MemoryBackend: a Queue's jobs in this process's memory, for test mode (testing.py).

It answers every Backend call (backend.py) as RedisBackend and the Lua scripts do:
the same ids, states, orders, events, error messages and counters, with nothing
written anywhere. What the scripts do is mirrored call by call; where a script's
behaviour is named below, that script is the reference.

Time does not pass by itself here: nothing is promoted, expired or stalled, so

- a job saved with a delay, or retried after a failed attempt with a backoff, stays
  ``delayed`` until ``set_state(id, "inactive")`` (or ``retry`` once failed) moves it;
- with ``process=True`` a job is run, by its registered handler, inside the call that
  made it inactive (``save``, ``retry``, ``set_state(..., "inactive")``, ``resume``, or
  the end of its last dependency) and before that call returns: one at a time, attempt
  after attempt while attempts remain and no backoff delays it. A job whose type is
  paused, or has no handler, stays inactive until ``resume`` (which runs the type's
  waiting jobs in claim order);
- a handler's ``progress`` and ``log`` are taken whatever the job's state, so a
  handler can be unit-tested by calling it with a captured job; the job must exist.

Dependencies (waiting jobs, failure policies, outcomes) are memory_flows.py's.

Events reach the job's listeners first, then the queue's (``queue.on``), with the
arguments ``events.event_args`` gives the Redis reader. A failed attempt's traceback
is also appended to the job's log, as test mode always did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from . import stats
from .backend import TypeStats
from .errors import ERR_STATE, InvalidJob, InvalidState, JobFailed, JobNotFound, raise_for_code
from .events import call_listener, event_args
from .flows import Node
from .job import Job, JobState, backoff_delay, dumps, encode_remove_policy, loads
from .keys import INACTIVE_WEIGHT, STATES
from .limits import Limits, Rate
from .limits import decode as limits_decode
from .memory_flows import Links, calls
from .runner import TTLExceeded, error_text, run_handler, trace_text
from .schedules import first_run, schedule_of

if TYPE_CHECKING:
    from .queue import Queue
    from .schedules import Rule, Schedule

WORKER = "test-mode"  # the worker id a job run in process mode records


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def not_found(job_id: int) -> JobNotFound:
    return JobNotFound(f"job {job_id} not found")  # raise_for_code's ERR_NOT_FOUND message


class MemoryBackend:
    """The Backend (backend.py) of a Queue in test mode.

    ``saved`` holds the stored Job objects themselves, in save order: ``get_job`` returns
    the very object ``save`` was given, so its fields always show the job as it is.
    """

    def __init__(self, queue: Queue, *, process: bool = False) -> None:
        self.queue = queue
        self.process = process
        self.saved: list[Job] = []
        self._last_id = 0  # never reset: an id names one job only, as on Redis
        self._by_id: dict[int, Job] = {}
        # Job objects other than the stored one whose listeners want that id's events: a
        # save that met a unique key, as RedisBackend watches the job it returns
        self._watchers: dict[int, list[Job]] = {}
        self._logs: dict[int, list[str]] = {}
        self._errors: dict[int, list[dict[str, Any]]] = {}
        self._unique: dict[str, int] = {}
        self._debounce: dict[str, int] = {}
        self._limits: dict[str, Limits] = {}
        # key -> (spec as stored, next run, created, updated, last run, last job)
        self._schedules: dict[str, tuple[bytes, int, int, int, int | None, int | None]] = {}
        self._types: set[str] = set()
        self._paused: set[str] = set()
        self._stats: dict[str, int] = {}  # the fields of {prefix}:stats
        self._minutes: dict[int, dict[str, int]] = {}  # epoch minute -> outcome -> count
        self.flows = Links(self)

    def clear(self) -> None:
        """Forget every job, log, error, unique and debounce key, type, pause, counter,
        limit and schedule (ids go on from the last one given)."""
        self.saved.clear()
        for table in (self._by_id, self._watchers, self._logs, self._errors, self._unique):
            table.clear()
        self._debounce.clear()
        self._limits.clear()
        self._schedules.clear()
        self._types.clear()
        self._paused.clear()
        self._stats.clear()
        self._minutes.clear()
        self.flows.clear()

    def log_lines(self, job_id: int) -> list[str]:
        return list(self._logs.get(job_id, ()))

    # -- connection: there is none -----------------------------------------------------

    async def connect(self) -> None:
        pass

    async def close(self) -> None:
        pass

    # -- producing and listening ---------------------------------------------------------

    async def save(self, groups: list[list[Job]], encoded: list[list[list[Any]]]) -> None:
        """As enqueue.lua, call by call as RedisBackend cuts them: a call's dependencies
        checked first (InvalidJob, nothing stored), then every job stored (one id each,
        a duplicate's left unused), then, with ``process``, each new inactive job run."""
        for call in calls(groups):
            depth = self.flows.check(call)
            await self._save_call(call, depth)

    async def _save_call(self, jobs: list[Job], depth: dict[int, int]) -> None:
        now = now_ms()
        created: list[Job] = []
        for job in jobs:
            if job.id is not None and self._by_id.get(job.id) is job:
                continue  # saved here already: left as it is
            self._last_id += 1
            existing = self._by_id.get(self._unique.get(job.unique, 0)) if job.unique else None
            if existing is not None and existing.unique_for is not None:
                ends = (existing.created_at or 0) + round(existing.unique_for * 1000)
                existing = existing if ends > now else None  # its unique_for window is over
            held = self._debounced(job, now)
            if held is not None:
                existing = held
            if existing is not None:
                job.id, job.created, job.debounced = existing.id, False, held is not None
                job.state, job.created_at = existing.state, existing.created_at
                job.run_at = existing.run_at
                job.pending_save = None
                job.depends_on = list(job.dependency_ids)
                if job.listeners:
                    self.watch(job)
                if held is not None:
                    await self._emit(held, "debounced")
                continue
            job.id, job.created = self._last_id, True
            waits = self.flows.link(job, now, depth[id(job)]) if job.depends_on else None
            job.state = waits or (JobState.DELAYED if job.delay_ms > 0 else JobState.INACTIVE)
            job.created_at = job.updated_at = now
            job.run_at = now + job.delay_ms if job.delay_ms > 0 and waits is None else None
            job.pending_save = None
            self._by_id[job.id] = job
            self.saved.append(job)
            self._types.add(job.type)
            if job.unique:
                self._unique[job.unique] = job.id
            if job.debounce:
                self._debounce[job.debounce] = job.id
            created.append(job)
        for job in created:
            await self._emit(job, "enqueue", state=str(job.state))
            if job.state is JobState.FAILED:  # a dependency failed already
                await self._emit(job, "failed", error=job.error or "")
        for job in created:
            await self._run(job)

    def _debounced(self, job: Job, now: int) -> Job | None:
        """As enqueue.lua: the waiting job of ``job``'s debounce key takes its data and
        waits its window again; None when there is none."""
        held = self._by_id.get(self._debounce.get(job.debounce, 0)) if job.debounce else None
        if held is None or held.type != job.type:
            return None
        if held.state not in (JobState.DELAYED, JobState.INACTIVE) or held.attempts_made:
            return None
        held.data, held.updated_at = dict(job.data), now
        if held.state is JobState.DELAYED:  # an inactive one keeps its place
            held.run_at = now + job.delay_ms
        return held

    def listening(self) -> None:
        pass  # events are delivered as they happen

    def watch(self, job: Job) -> None:
        """Only a Job that is not the stored one (a unique key's duplicate) needs a
        watch: the stored job's own listeners are always called."""
        if job.id is None or self._by_id.get(job.id) is job:
            return
        watchers = self._watchers.setdefault(job.id, [])
        if all(other is not job for other in watchers):
            watchers.append(job)

    async def wait_for(self, job: Job, timeout: float | None) -> Any:
        """The result at once, or JobFailed; a job still to finish is InvalidState
        (nothing could finish it while this waited), a removed one JobNotFound."""
        job_id = job.job_id
        stored = self._by_id.get(job_id)
        current = stored if stored is not None else job
        if current.state is JobState.COMPLETE:
            return current.result  # also after remove_on_complete dropped it
        if current.state is JobState.FAILED:
            raise JobFailed(job_id, current.error or "")
        if stored is None:
            raise not_found(job_id)
        raise InvalidState(f"job {job_id} is {current.state} in test mode; {self._why(current)}")

    def _why(self, job: Job) -> str:
        if job.state is JobState.WAITING:
            return f"it waits for {job.pending_dependencies} of its dependencies to end"
        if not self.process:
            return "enter(process=True) to run handlers"
        if job.type not in self.queue.handlers:
            return f"no handler is registered for {job.type!r}"
        if job.type in self._paused:
            return f"{job.type!r} is paused"
        if job.state is JobState.DELAYED:
            return "time does not pass in test mode: set_state(id, 'inactive') runs it"
        return "it runs inside the call that queued it, so waiting cannot finish it"

    async def progress(self, job: Job, percent: int, data: Any, encoded: bytes) -> None:
        stored = self._stored(job.job_id)
        job.percent, job.progress_data = percent, loads(encoded)  # as the reader decodes it
        stored.percent, stored.progress_data = job.percent, job.progress_data
        stored.updated_at = now_ms()
        await self._emit(stored, "progress", progress=percent, data=encoded)

    async def log(self, job: Job, line: str, encoded: bytes) -> None:
        self._stored(job.job_id)  # log.lua: no log for a job that does not exist
        self._logs.setdefault(job.job_id, []).append(line)

    # -- queries ---------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        return self._stored(job_id)

    async def get_log(self, job_id: int) -> list[str]:
        return self.log_lines(job_id)

    async def get_errors(self, job_id: int) -> list[dict[str, Any]]:
        return [dict(record) for record in self._errors.get(job_id, ())]

    async def counts(self, job_type: str | None) -> dict[str, int]:
        found = dict.fromkeys(STATES, 0)
        for job in self.saved:
            if job.state is not None and (job_type is None or job.type == job_type):
                found[job.state.value] += 1
        return found

    async def type_stats(self) -> list[TypeStats]:
        return [
            TypeStats(name, name in self._paused, await self.counts(name), await self.limits(name))
            for name in sorted(self._types | set(self._limits))
        ]

    async def types(self) -> list[str]:
        return sorted(self._types)

    async def is_paused(self, job_type: str) -> bool:
        return job_type in self._paused

    async def jobs(
        self, states: Sequence[str], job_type: str | None, start: int, stop: int, desc: bool
    ) -> list[Job]:
        """One state: in the order of its Redis index (the claim order for inactive jobs of
        one type, else id for inactive and active, run-at for delayed, the time it
        completed or failed), ties by id. Several states: by id."""
        chosen = self._in_order(states, job_type)
        if desc:
            chosen.reverse()
        return chosen[start : stop + 1]

    def _in_order(self, states: Sequence[str], job_type: str | None) -> list[Job]:
        chosen = [
            job
            for job in self.saved  # in id order: ids are given in save order
            if job.state is not None
            and job.state.value in states
            and (job_type is None or job.type == job_type)
        ]
        if len(states) == 1:
            chosen.sort(key=lambda job: (self._score(job, job_type is not None), job.job_id))
        return chosen

    @staticmethod
    def _score(job: Job, typed: bool) -> int:
        """The job's score in its state's index, as the scripts write it."""
        if job.state is JobState.INACTIVE:
            return job.priority * INACTIVE_WEIGHT + job.job_id if typed else job.job_id
        if job.state is JobState.DELAYED:
            return job.run_at or 0
        if job.state is JobState.COMPLETE:
            return job.completed_at or 0
        if job.state is JobState.FAILED:
            return job.failed_at or 0
        return job.job_id

    async def search(self, needle: str, limit: int) -> list[int]:
        found = []
        for job_id in range(self._last_id, max(self._last_id - limit, 0), -1):
            job = self._by_id.get(job_id)
            if job is None:
                continue
            text = (job.type + " " + orjson.dumps(job.data).decode()).lower()
            if needle == str(job_id) or needle in text:
                found.append(job_id)
        return found

    async def dependents(self, job_id: int) -> list[int]:
        return self.flows.dependents_of(job_id)

    async def nodes(self, ids: list[int]) -> dict[int, Node]:
        found = {job_id: self._by_id.get(job_id) for job_id in ids}
        return {job_id: self.flows.node(job) for job_id, job in found.items() if job}

    async def outcomes(self, job_id: int) -> dict[bytes, bytes]:
        return self.flows.outcomes(job_id)

    async def inactive_ids(self, job_type: str, limit: int) -> list[int]:
        waiting = self._in_order((JobState.INACTIVE.value,), job_type)
        return [job.job_id for job in waiting[:limit]]

    async def totals(self) -> stats.Totals:
        return stats.totals_from(self._stats)

    async def throughput(self, minutes: int) -> list[dict[str, int]]:
        """Minutes by this process's clock, as the jobs run here counted them."""
        now_minute = now_ms() // 60_000
        empty: dict[str, int] = {}
        return [
            {
                "at": minute * 60_000,
                "complete": self._minutes.get(minute, empty).get("complete", 0),
                "failed": self._minutes.get(minute, empty).get("failed", 0),
            }
            for minute in range(now_minute - minutes + 1, now_minute + 1)
        ]

    # -- admin -------------------------------------------------------------------------

    async def remove(self, job_id: int, force: bool) -> None:
        """As remove.lua; a job running in process mode has its outcome refused."""
        job = self._stored(job_id)
        self.flows.removing(job, force, now_ms())
        self._drop(job)
        await self._settle()  # its dependents' events come first, as in the script
        await self._emit(job, "remove")

    async def retry(self, job_id: int) -> None:
        """As retry.lua: failed only; attempts, stalls and progress reset (its log and
        error records stay); waiting while dependencies are not done."""
        job = self._stored(job_id)
        if job.state is not JobState.FAILED:
            raise_for_code(ERR_STATE, job_id, str(job.state))
        job.attempts_made = job.stalls = job.percent = 0
        job.error = job.failed_at = job.progress_data = job.failed_by = None
        held = job.pending_dependencies > 0
        job.state, job.updated_at = JobState.WAITING if held else JobState.INACTIVE, now_ms()
        self.flows.retried(job, job.updated_at)
        await self._emit(job, "retry")
        await self._settle()
        await self._run(job)

    async def pause(self, job_type: str, paused: bool) -> bool:
        """As pause.lua; a resume (changed or not) runs the type's waiting jobs."""
        changed = (job_type not in self._paused) if paused else (job_type in self._paused)
        if paused:
            self._paused.add(job_type)
        else:
            self._paused.discard(job_type)
        if changed:
            for callback in list(self.queue.listeners.get("pause" if paused else "resume", ())):
                await call_listener(callback, job_type)
        if not paused:
            for job in self._in_order((JobState.INACTIVE.value,), job_type):
                await self._run(job)
        return changed

    async def set_state(self, job_id: int, state: JobState) -> None:
        """As set_state.lua: a running job loses its claim (its outcome is refused)."""
        job = self._stored(job_id)
        before = job.state
        if before is state:
            return
        now = now_ms()
        if before is JobState.ACTIVE:
            job.token += 1
        job.state, job.updated_at = state, now
        if state is JobState.DELAYED:
            job.run_at = max(job.run_at or now, now)  # a future run-at is kept
        elif state is JobState.COMPLETE:
            job.completed_at = now
        elif state is JobState.FAILED:
            job.failed_at = now
        self.flows.moved(job, before, state, now)
        await self._emit(job, "state", **{"from": str(before), "to": str(state)})
        await self._settle()
        await self._run(job)

    async def set_priority(self, job_id: int, priority: int) -> None:
        job = self._stored(job_id)
        job.priority = priority  # the claim order follows: it is computed from it
        await self._emit(job, "priority", priority=priority)

    # -- running jobs (process=True) ---------------------------------------------------

    def _runnable(self, job: Job) -> bool:
        return (
            self.process
            and job.state is JobState.INACTIVE
            and job.id is not None
            and self._by_id.get(job.id) is job
            and job.type in self.queue.handlers
            and job.type not in self._paused
        )

    async def _run(self, job: Job) -> None:
        while self._runnable(job):
            await self._attempt(job)

    async def _attempt(self, job: Job) -> None:
        """One attempt, as claim.lua, the worker and complete.lua or fail.lua do it."""
        handler = self.queue.handlers[job.type][0]
        now = now_ms()
        self._observe("latency", now - (job.updated_at or now))
        job.token += 1
        token = job.token
        job.state, job.started_at, job.updated_at, job.worker = JobState.ACTIVE, now, now, WORKER
        job.outcomes = self.flows.snapshot(job)  # what its handler reads, as claimed
        await self._emit(job, "start")
        try:
            result = await run_handler(handler, job, job.ttl, lambda: None)
            encoded = dumps(result, "job result")
            if len(encoded) > self.queue.max_payload:
                raise InvalidJob(
                    f"job result is {len(encoded)} bytes, over the limit of "
                    f"{self.queue.max_payload} (Queue(max_payload=...))"
                )
        except TTLExceeded as exc:
            if self._holds(job, token):
                await self._fail(job, str(exc), "")
            return
        except Exception as exc:
            if self._holds(job, token):
                await self._fail(job, error_text(exc), trace_text(exc))
            return
        finally:
            job.outcomes = None  # outside a handler they are read afresh, as from Redis
        if self._holds(job, token):
            await self._complete(job, encoded)

    def _holds(self, job: Job, token: int) -> bool:
        """False once the job was removed or moved by hand while it ran: the scripts
        refuse such a late answer."""
        return (
            self._by_id.get(job.job_id) is job
            and job.state is JobState.ACTIVE
            and job.token == token
        )

    async def _complete(self, job: Job, encoded: bytes) -> None:
        now = now_ms()
        job.state, job.result, job.completed_at = JobState.COMPLETE, loads(encoded), now
        job.percent, job.updated_at, job.attempts_made = 100, now, job.attempts_made + 1
        self._ran(job, now)
        self._bump("completed")
        self._count_minute(now, "complete")
        self.flows.completed(job, encoded, now)
        self._retain(job, now)  # before the event, as in the script: listeners see it gone
        await self._emit(job, "complete", result=encoded)
        await self._settle()

    async def _fail(self, job: Job, message: str, trace: str) -> None:
        now = now_ms()
        made = job.attempts_made + 1
        self._errors.setdefault(job.job_id, []).append(
            {"attempt": made, "error": message, "traceback": trace, "at": now, "worker": WORKER}
        )
        if trace:
            self._logs.setdefault(job.job_id, []).append(trace)
        job.attempts_made, job.error, job.updated_at = made, message, now
        self._ran(job, now)
        if made < job.attempts:
            self._bump("failed_attempts")
            try:
                delay = int(backoff_delay(job.backoff, made) * 1000)
            except (TypeError, ValueError, OverflowError):  # as the worker: a hand-made backoff
                delay = 0
            if delay > 0:
                job.state, job.run_at = JobState.DELAYED, now + delay
            else:
                job.state = JobState.INACTIVE
            await self._emit(job, "failed attempt", error=message, attempts_made=made)
            return
        job.state, job.failed_at = JobState.FAILED, now
        self._bump("failed")
        self._count_minute(now, "failed")
        self.flows.failed(job, message, now)
        await self._emit(job, "failed", error=message)
        await self._settle()

    def _retain(self, job: Job, now: int) -> None:
        """complete.lua's retention: 'all' drops the job, 'count:N' keeps the type's N
        newest complete jobs, 'age:MS' drops its complete jobs older than MS."""
        policy = encode_remove_policy(job.remove_on_complete)
        if policy == "all":
            self._drop(job)
            return
        done = [j for j in self.saved if j.type == job.type and j.state is JobState.COMPLETE]
        doomed: list[Job] = []
        if policy.startswith("count:"):
            done.sort(key=lambda j: (j.completed_at or 0, j.job_id))
            doomed = done[: max(0, len(done) - int(policy[6:]))]
        elif policy.startswith("age:"):
            edge = now - int(policy[4:])
            doomed = [j for j in done if (j.completed_at or 0) <= edge]
        for victim in doomed:
            self._drop(victim)

    # -- schedules and limits: stored as on Redis; no clock here, so no schedule runs ------

    async def set_schedule(self, key: str, spec: bytes, rule: Rule) -> None:
        now = now_ms()
        before = self._schedules.get(key)
        created, last_run, last_job = (now, None, None)
        if before is not None:
            created, last_run, last_job = before[2], before[4], before[5]
        due = first_run(rule, before[0] if before else None, before[1] if before else None, now)
        self._schedules[key] = (spec, due, created, now, last_run, last_job)
        for callback in list(self.queue.listeners.get("schedule", ())):
            await call_listener(callback, orjson.loads(spec)["type"], key)

    async def unschedule(self, key: str) -> bool:
        stored = self._schedules.pop(key, None)
        if stored is not None:
            for callback in list(self.queue.listeners.get("unschedule", ())):
                await call_listener(callback, orjson.loads(stored[0])["type"], key)
        return stored is not None

    async def schedules(self) -> list[Schedule]:
        found = [await self.get_schedule(key) for key in sorted(self._schedules)]
        return [schedule for schedule in found if schedule is not None]

    async def get_schedule(self, key: str) -> Schedule | None:
        stored = self._schedules.get(key)
        if stored is None:
            return None
        spec, due, created, updated, last_run, last_job = stored
        runs = f"{created}:{updated}:{last_run or ''}:{last_job or ''}".encode()
        return schedule_of(key, spec, due, runs)

    async def set_limits(self, job_type: str, change: bytes) -> Limits:
        """As set_limits.lua: each limit named is set (null: removed), the others kept."""
        current = self._limits.get(job_type, Limits())

        def stored_rate(rate: Rate | None) -> list[int] | None:
            return None if rate is None else [rate.count, round(rate.per * 1000)]

        stored: dict[str, Any] = {
            "rate": stored_rate(current.rate),
            "concurrency": current.concurrency,
            "key_rate": stored_rate(current.key_rate),
        }
        stored.update(orjson.loads(change))
        updated = limits_decode(orjson.dumps({k: v for k, v in stored.items() if v is not None}))
        if updated:
            self._limits[job_type] = updated
        else:
            self._limits.pop(job_type, None)
        for callback in list(self.queue.listeners.get("limits", ())):
            await call_listener(callback, job_type)
        return updated

    async def limits(self, job_type: str) -> Limits:
        return self._limits.get(job_type, Limits())

    # -- bookkeeping ---------------------------------------------------------------------

    def _stored(self, job_id: int) -> Job:
        job = self._by_id.get(job_id)
        if job is None:
            raise not_found(job_id)
        return job

    def _drop(self, job: Job) -> None:
        """Forget a job with its log, errors and unique key (_common.lua's drop)."""
        job_id = job.job_id
        del self._by_id[job_id]
        self.saved.remove(job)
        if job.unique and self._unique.get(job.unique) == job_id:
            del self._unique[job.unique]
        if job.debounce and self._debounce.get(job.debounce) == job_id:
            del self._debounce[job.debounce]
        self._logs.pop(job_id, None)
        self._errors.pop(job_id, None)
        self.flows.forget(job)

    def _bump(self, field: str, n: int = 1) -> None:
        self._stats[field] = self._stats.get(field, 0) + n

    def _observe(self, name: str, ms: int) -> None:
        """Count ``ms`` into histogram ``name`` as _common.lua's observe does."""
        ms = max(0, ms)
        self._bump(f"{name}_count")
        self._bump(f"{name}_sum", ms)
        for bound in stats.BUCKETS_MS:
            if ms <= bound:
                self._bump(f"{name}_le_{bound}")
                return

    def _ran(self, job: Job, now: int) -> None:
        ran = max(0, now - (job.started_at or now))
        self._bump("work_time", ran)
        self._observe("duration", ran)

    def _count_minute(self, now: int, outcome: str) -> None:
        counts = self._minutes.setdefault(now // 60_000, {})
        counts[outcome] = counts.get(outcome, 0) + 1

    async def _settle(self) -> None:
        """Deliver the events dependency changes queued, then run the jobs they released."""
        events, released = self.flows.take()
        for job, name, fields in events:
            await self._emit(job, name, **fields)
        for job in released:
            await self._run(job)

    async def _emit(self, job: Job, name: str, **fields: str | bytes | int) -> None:
        """Deliver event ``name`` as the reader would deliver the stream entry the script
        writes with ``fields``: the job's listeners, then the queue's."""
        raw = {
            key.encode(): value if isinstance(value, bytes) else str(value).encode()
            for key, value in fields.items()
        }
        args = event_args(name, raw)
        for target in (job, *self._watchers.get(job.job_id, ())):
            for callback in list(target.listeners.get(name, ())):
                await call_listener(callback, *args)
        queue_args = args if args else (job.type,)
        for callback in list(self.queue.listeners.get("job " + name, ())):
            await call_listener(callback, job.job_id, *queue_args)
