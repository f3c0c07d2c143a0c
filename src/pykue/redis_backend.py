"""RedisBackend: a Queue's jobs in Redis, reached through the typed Lua scripts.

It owns the connection (made lazily, on first use), the scripts, the event reader and
the save path: jobs go in enqueue.lua calls of up to BULK_CHUNK, each within the
queue's save_timeout, and a call whose reply never came is sent again as it was (see
``save``). Errors of the Redis client never leave it raw: an unreachable server is
ConnectionFailed, an error reply ServerRefused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import RedisError

from . import flows, limits, stats
from .aio import TRANSIENT, cancel_all, raise_if_cancel_lost, refused_for_now
from .backend import TypeStats
from .config import redact_url
from .connection import Client, check_server, close_client, create_client, refusal, resolve_url
from .errors import (
    ConnectionFailed,
    InvalidJob,
    JobFailed,
    JobNotFound,
    JobTimeout,
    NotConnected,
    NotReplicated,
    ServerRefused,
    shown,
)
from .events import BLOCK_MS, EventReader, Watch, id_before, stream_id
from .job import Job, JobState, PendingSave, loads
from .keys import NAME_PATTERN, STATES, Keys
from .schedules import Rule, Schedule, first_run, schedule_of
from .scripts import Enqueued, Scripts

if TYPE_CHECKING:
    from .queue import Queue

log = logging.getLogger("pykue")

SAVE_TOKEN_TTL = 24 * 3600  # a retried save within a day returns the first save's job
BULK_CHUNK = 500  # jobs per enqueue script call: each call holds Redis for a few ms at most


def error_record(raw: bytes) -> dict[str, Any]:
    """A stored error record; one that is not pykue's (written by another tool) comes back
    as a record whose error says so, rather than failing every reader of the job."""
    try:
        record = loads(raw)
    except orjson.JSONDecodeError:
        record = None
    if isinstance(record, dict):
        return record
    shown_raw = shown(raw.decode(errors="backslashreplace"))
    return {"attempt": None, "error": f"unreadable error record: {shown_raw}", "traceback": ""}


class RedisBackend:
    """The Backend (backend.py) of a Queue on Redis."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.keys: Keys = queue.keys
        self.url: str | None = None
        self._client: Client | None = None
        self._scripts: Scripts | None = None
        self._connect_lock = asyncio.Lock()
        self._reader: EventReader | None = None

    # -- connection ----------------------------------------------------------------

    async def connect(self) -> None:
        async with self.answering():
            pass

    async def ensure(self) -> Scripts:
        """The scripts, once connected (connecting first if need be)."""
        if self._scripts is None:
            async with self._connect_lock:
                if self._scripts is None:
                    await self._open()
        assert self._scripts is not None
        return self._scripts

    async def _open(self) -> None:
        queue = self.queue
        self.url = await resolve_url(queue.settings)
        # WAIT blocks server-side for replica_timeout: a reply may take that long
        block = queue.replica_timeout if queue.replicas else 0.0
        client = create_client(self.url, lease=queue.lease, block=block)
        try:
            await check_server(client, self.url)
        except BaseException as exc:  # e.g. too old a server: close what was opened
            await close_client(client)
            reason = refusal(exc)
            if reason is not None:
                # refused, not unreachable: retrying will not help, so say so
                raise ConnectionFailed(
                    f"Redis at {redact_url(self.url)} refused pykue: {reason}"
                ) from None
            raise
        self._client = client
        self._scripts = Scripts(client, self.keys, queue.events_maxlen)
        if queue.listeners:
            self.events().start()

    @property
    def client(self) -> Client:
        """The connected client (NotConnected before ``connect()``)."""
        if self._client is None:
            raise NotConnected("the queue is not connected yet: await queue.connect() first")
        return self._client

    @property
    def scripts(self) -> Scripts:
        if self._scripts is None:
            raise NotConnected("the queue is not connected yet: await queue.connect() first")
        return self._scripts

    def new_client(self, *, block: float | None = None) -> Client:
        """A client with a pool of its own, for blocking reads of at most ``block``
        seconds (None: up to the longest block pykue uses); its socket timeout is that
        plus the lease's call timeout, so a dead connection is noticed that soon."""
        if self.url is None:
            raise NotConnected("the queue is not connected yet: await queue.connect() first")
        if block is None:
            return create_client(self.url, lease=self.queue.lease, blocking=True)
        return create_client(self.url, lease=self.queue.lease, block=block)

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._client is not None:
            await close_client(self._client)
            self._client = None
            self._scripts = None

    @contextlib.asynccontextmanager
    async def answering(self) -> AsyncIterator[Client]:
        """The client, connected; the Redis client's errors become pykue's."""
        try:
            await self.ensure()
            yield self.client
        except TRANSIENT as exc:
            raise ConnectionFailed(f"Redis cannot be reached ({self._where()}): {exc}") from exc
        except RedisError as exc:
            raise ServerRefused(f"Redis at {self._where()} refused the call: {exc}") from exc

    def _where(self) -> str:
        return redact_url(self.url) if self.url is not None else "Redis"

    # -- events --------------------------------------------------------------------

    def events(self) -> EventReader:
        if self._reader is None:
            self._reader = EventReader(
                lambda: self.new_client(block=BLOCK_MS / 1000), self.keys, self.queue.listeners
            )
        return self._reader

    async def newest_event(self) -> str:
        """The id of the newest entry of the event stream ('0-0' for none)."""
        async with self.answering() as client:
            newest: Any = await client.xrevrange(self.keys.events, count=1)
        return newest[0][0].decode() if newest else "0-0"

    def listening(self) -> None:
        if self._scripts is not None:
            self.events().start()

    def watch(self, job: Job) -> None:
        if job.id is None:
            return  # saved later: save() starts the watch from the job's first event
        if self.url is None:
            raise NotConnected("connect the queue (await queue.connect()) before job.on()")
        reader = self.events()
        if not reader.is_watching(job):
            reader.watch(Watch(job.id, job=job), job.cursor)

    async def wait_for(self, job: Job, timeout: float | None) -> Any:
        job_id = job.job_id
        await self.ensure()
        reader = self.events()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        watch = Watch(job_id, future=future)
        if job.cursor is None:  # read from Redis: its events from now on, not earlier ones
            watch.after = stream_id(await self.newest_event())
        reader.watch(watch, job.cursor)
        try:
            # The stream may no longer hold the job's end (it is trimmed to events_maxlen),
            # so look at the job itself once the watch is in place.
            await reader.ready()
            try:
                fresh: Job | None = await self.get_job(job_id)
            except JobNotFound:
                fresh = None  # removed (remove_on_complete): its events tell how it ended
            if fresh is not None and fresh.state is JobState.COMPLETE:
                return fresh.result
            if fresh is not None and fresh.state is JobState.FAILED:
                raise JobFailed(job_id, fresh.error or "")
            raise_if_cancel_lost()  # a Ctrl-C during the reads above must not be lost
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            except TimeoutError:
                raise JobTimeout(f"job {job_id} did not finish within {timeout} s") from None
        finally:
            reader.unwatch(watch)
            # The reader may have failed the future (JobFailed) while this returned or
            # raised from the job's own fields: nobody else will look at it.
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()

    # -- saving --------------------------------------------------------------------

    async def save(self, groups: list[list[Job]], encoded: list[list[list[Any]]]) -> None:
        """Send the jobs of ``groups`` in chunks, each within save_timeout; a group (a
        flow) is never split.

        A job sent before whose reply never came is in a call that may have run: that
        call is sent again as it was (its token, all its jobs), so the script answers
        what it did if it ran, whichever of its jobs the caller retries; jobs never sent
        go in new calls."""
        jobs = [job for group in groups for job in group]
        calls = self._calls(groups, encoded)
        if not calls:
            return
        queue = self.queue
        budget = queue.save_timeout + (queue.replica_timeout if queue.replicas else 0.0)
        deadline = asyncio.timeout(budget)
        try:
            async with deadline:
                await self.ensure()
                if self._reader is not None:  # queue-wide listeners see every job saved after on()
                    await self._reader.ready()
                loop = asyncio.get_running_loop()

                def send(n: int) -> asyncio.Task[Enqueued] | None:
                    if n >= len(calls):
                        return None
                    call = calls[n]
                    for job in call.jobs:
                        job.pending_save = call  # it may run from now on
                    return asyncio.create_task(self._enqueue(call))

                in_flight, done = send(0), 0
                try:
                    while in_flight is not None:
                        try:
                            reply = await in_flight
                        except InvalidJob as exc:  # refused, nothing written: a sure answer
                            for job in calls[done].jobs:
                                job.pending_save = None
                            saved = sum(job.id is not None for job in jobs)
                            if not saved:
                                raise
                            raise InvalidJob(
                                f"{exc}; {saved} of {len(jobs)} jobs were saved by the calls "
                                "before the refused one (they have ids)"
                            ) from None
                        in_flight = send(done + 1)
                        await self._saved(calls[done].jobs, reply)
                        done += 1
                        deadline.reschedule(loop.time() + budget)
                finally:
                    if in_flight is not None:
                        await cancel_all([in_flight])
        except TRANSIENT as exc:  # the deadline's TimeoutError is an OSError too
            saved = sum(job.id is not None for job in jobs)
            if deadline.expired():
                raise self._not_saved(jobs, saved, f"no reply within {budget:g} s") from None
            raise self._not_saved(jobs, saved, str(exc)) from exc
        except RedisError as exc:
            raise ServerRefused(f"Redis at {self._where()} refused the save: {exc}") from exc

    @staticmethod
    def _calls(groups: list[list[Job]], encoded: list[list[list[Any]]]) -> list[PendingSave]:
        """The script calls that save ``groups``: the unanswered calls some of their jobs
        were sent in before, then new calls of about BULK_CHUNK jobs and at most
        flows.MAX_LINKS dependencies (whole groups) for the rest, in order. A job's
        dependencies saved in the same call are named by place (minus its 1-based
        place), the others by id."""
        again: dict[int, PendingSave] = {}
        fresh: list[list[tuple[Job, list[Any]]]] = []
        for group, entries in zip(groups, encoded, strict=True):
            fresh.append([])
            for job, entry in zip(group, entries, strict=True):
                if job.pending_save is None:
                    fresh[-1].append((job, entry))
                else:
                    again.setdefault(id(job.pending_save), job.pending_save)
        calls = list(again.values())
        for part in flows.pack(fresh, lambda pair: len(pair[0].depends_on), BULK_CHUNK):
            place = {id(job): n for n, (job, _) in enumerate(part, 1)}
            rows = [
                [*entry[:-2], flows.encode(job, place), entry[-1]] if job.depends_on else entry
                for job, entry in part
            ]
            payload = orjson.dumps(
                [row if row[-2] else row[:-2] for row in rows]  # older entries: 13 fields
            )
            calls.append(PendingSave(os.urandom(16).hex(), payload, [job for job, _ in part]))
        return calls

    def _not_saved(self, jobs: list[Job], saved: int, why: str) -> ConnectionFailed:
        if len(jobs) == 1:
            what = "the job may or may not have been saved: saving it again is safe"
        else:
            what = (
                f"{saved} of {len(jobs)} jobs were saved (they have ids), the others may or "
                "may not have been: saving them again is safe"
            )
        return ConnectionFailed(
            f"Redis at {self._where()} did not take the save ({shown(why, 200)}); {what} "
            "(no job is saved twice)"
        )

    async def _enqueue(self, call: PendingSave) -> Enqueued:
        """enqueue.lua's reply for ``call``; with ``replicas``, once they have it too."""
        queue = self.queue
        reply = await self.scripts.enqueue(
            call.token,
            SAVE_TOKEN_TTL,
            call.payload,
            replicas=queue.replicas,
            replica_timeout_ms=int(queue.replica_timeout * 1000),
        )
        if reply.replicas is not None and reply.replicas < queue.replicas:
            count, first = len(call.jobs), reply.saved[0].id
            what = f"job {first}" if count == 1 else f"{count} jobs from id {first}"
            raise NotReplicated(
                f"{what} saved on the master, but {reply.replicas} of {queue.replicas} "
                f"replicas confirmed within {queue.replica_timeout} s; saving again is safe "
                "and waits again"
            )
        return reply

    async def _saved(self, jobs: list[Job], reply: Enqueued) -> None:
        """Give each job its part of enqueue.lua's reply. Jobs the call did not just
        create (a unique key matched, or the call had run before and its reply was
        lost) are read first, in one round trip, so that a job's fields are set all at
        once or, if this is interrupted, not at all (a retried save must not find ``id``
        set)."""
        # a job stored failed (its dependency had failed) is read for the error it holds
        found = [
            part.id for part in reply.saved if part.event is None or part.state is JobState.FAILED
        ]
        existing = {job.id: job for job in await self.load(found)} if found else {}
        for job, part in zip(jobs, reply.saved, strict=True):
            job.id, job.created, job.debounced = part.id, part.created, part.debounced
            if part.event is not None:
                job.state, job.pending_dependencies = part.state, part.pending
                job.cursor = id_before(part.event)
                if (other := existing.get(part.id)) is not None:
                    job.error, job.failed_by, job.failed_at = (
                        other.error,
                        other.failed_by,
                        other.failed_at,
                    )
            else:  # None: it ran and was removed since
                other = existing.get(part.id)
                job.state = other.state if other is not None else None
                job.created_at = other.created_at if other is not None else None
                if other is not None:
                    job.pending_dependencies, job.failed_by = (
                        other.pending_dependencies,
                        other.failed_by,
                    )
                if other is not None and part.debounced:
                    job.run_at = other.run_at
        for job in jobs:
            job.pending_save = None  # answered: saving it again leaves it as it is
            if job.depends_on:
                job.depends_on = list(job.dependency_ids)
            if job.listeners:
                self.events().watch(Watch(job.job_id, job=job), job.cursor)

    # -- a handler's reports -----------------------------------------------------------

    async def progress(self, job: Job, percent: int, data: Any, encoded: bytes) -> None:
        if await self._report(job, "progress", self.scripts.progress, job.token, percent, encoded):
            job.percent, job.progress_data = percent, data

    async def log(self, job: Job, line: str, encoded: bytes) -> None:
        await self._report(job, "log", self.scripts.log, encoded)

    async def _report(self, job: Job, what: str, script: Any, *args: Any) -> bool:
        """Send a handler's progress or log line; False, with a warning, when Redis
        refuses writes for now (out of memory, a read-only replica): a report dropped
        must not fail work that is going well. A lost lease still raises LeaseLost."""
        await self.ensure()
        try:
            await script(job.job_id, *args)
        except RedisError as exc:
            if not refused_for_now(exc):
                raise
            log.warning("pykue: %s of job %s dropped: Redis refuses writes (%s)", what, job.id, exc)
            return False
        return True

    # -- queries -------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        async with self.answering() as client:
            fields: Any = await client.hgetall(self.keys.job(job_id))
        if not fields:
            raise JobNotFound(f"job {job_id} not found")
        return Job.from_hash(self.queue, job_id, fields)

    async def load(self, ids: list[int]) -> list[Job]:
        """The jobs of ``ids`` that exist, in that order."""
        async with self.answering() as client, client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.keys.job(job_id))
            hashes = await pipe.execute()
        return [Job.from_hash(self.queue, i, h) for i, h in zip(ids, hashes, strict=True) if h]

    async def get_log(self, job_id: int) -> list[str]:
        async with self.answering() as client:
            lines: Any = await client.lrange(self.keys.log(job_id), 0, -1)
        # pykue writes UTF-8 only; a line written by another tool is shown, not fatal
        return [line.decode(errors="backslashreplace") for line in lines]

    async def get_errors(self, job_id: int) -> list[dict[str, Any]]:
        async with self.answering() as client:
            raw: Any = await client.lrange(self.keys.errors(job_id), 0, -1)
        return [error_record(item) for item in raw]

    async def counts(self, job_type: str | None) -> dict[str, int]:
        async with self.answering() as client, client.pipeline(transaction=False) as pipe:
            for state in STATES:
                pipe.zcard(self._index(state, job_type))
            values = await pipe.execute()
        return dict(zip(STATES, (int(v) for v in values), strict=True))

    async def type_stats(self) -> list[TypeStats]:
        """Two round trips whatever the number of types: the names, then every count."""
        async with self.answering() as client:
            async with client.pipeline(transaction=False) as pipe:
                pipe.smembers(self.keys.types)
                pipe.smembers(self.keys.paused)
                pipe.hgetall(self.keys.limits)
                names_raw, paused_raw, limits_raw = await pipe.execute()
            limited = {name.decode(errors="replace"): raw for name, raw in limits_raw.items()}
            # a type limited before its first job is saved is shown with its limits
            names = valid_names(set(names_raw) | set(limits_raw))
            paused = set(valid_names(paused_raw))
            async with client.pipeline(transaction=False) as pipe:
                for name in names:
                    for state in STATES:
                        pipe.zcard(self.keys.type_state(name, state))
                values = [int(v) for v in await pipe.execute()]
        width = len(STATES)
        return [
            TypeStats(
                name,
                name in paused,
                dict(zip(STATES, values[n * width :], strict=False)),
                limits.decode(limited.get(name)),
            )
            for n, name in enumerate(names)
        ]

    async def types(self) -> list[str]:
        async with self.answering() as client:
            names: Any = await client.smembers(self.keys.types)
        return valid_names(names)

    async def is_paused(self, job_type: str) -> bool:
        async with self.answering() as client:
            return bool(await client.sismember(self.keys.paused, job_type))

    async def jobs(
        self, states: Sequence[str], job_type: str | None, start: int, stop: int, desc: bool
    ) -> list[Job]:
        if len(states) == 1:
            ids = await self._zrange(self._index(states[0], job_type), start, stop, desc)
        else:
            ids = await self._zrange(self._all_index(job_type), start, stop, desc)
        return await self.load(ids)

    def _index(self, state: str, job_type: str | None) -> str:
        return self.keys.state(state) if job_type is None else self.keys.type_state(job_type, state)

    def _all_index(self, job_type: str | None) -> str:
        return self.keys.all_jobs if job_type is None else self.keys.type_jobs(job_type)

    async def _zrange(self, key: str, start: int, stop: int, desc: bool) -> list[int]:
        async with self.answering() as client:
            members: Any = await client.zrange(key, start, stop, desc=desc)
        return [int(member) for member in members]

    async def search(self, needle: str, limit: int) -> list[int]:
        async with self.answering() as client:
            newest = int(await client.get(self.keys.ids) or 0)
            ids = list(range(newest, max(newest - limit, 0), -1))
            async with client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hmget(self.keys.job(job_id), "type", "data")
                rows = await pipe.execute()
        found = []
        for job_id, (job_type, data) in zip(ids, rows, strict=True):
            if job_type is None:
                continue
            text = (job_type + b" " + (data or b"")).decode(errors="replace").lower()
            if needle == str(job_id) or needle in text:
                found.append(job_id)
        return found

    async def inactive_ids(self, job_type: str, limit: int) -> list[int]:
        key = self.keys.type_state(job_type, JobState.INACTIVE.value)
        return await self._zrange(key, 0, limit - 1, False)

    async def totals(self) -> stats.Totals:
        async with self.answering() as client:
            raw: Any = await client.hgetall(self.keys.stats)
        return stats.totals_from({k.decode(): int(v) for k, v in raw.items()})

    async def throughput(self, minutes: int) -> list[dict[str, int]]:
        async with self.answering() as client:
            seconds, _micros = await client.time()
            now_minute = int(seconds) // 60
            span = range(now_minute - minutes + 1, now_minute + 1)
            async with client.pipeline(transaction=False) as pipe:
                for minute in span:
                    pipe.hmget(self.keys.minute(minute), "complete", "failed")
                rows = await pipe.execute()
        return [
            {"at": minute * 60_000, "complete": int(done or 0), "failed": int(failed or 0)}
            for minute, (done, failed) in zip(span, rows, strict=True)
        ]

    # -- admin ---------------------------------------------------------------------

    async def remove(self, job_id: int, force: bool) -> None:
        async with self.answering():
            await self.scripts.remove(job_id, force)

    async def dependents(self, job_id: int) -> list[int]:
        async with self.answering() as client:
            members: Any = await client.smembers(self.keys.dependents(job_id))
        return sorted(flows.ids_in(list(members)))

    async def nodes(self, ids: list[int]) -> dict[int, flows.Node]:
        async with self.answering() as client, client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(self.keys.job(job_id), "type", "state", "depends_on")
                pipe.hgetall(self.keys.deps(job_id))
            replies: list[Any] = await pipe.execute()
        found = {}
        for n, job_id in enumerate(ids):
            (job_type, state, depends_on), outcomes = replies[2 * n], replies[2 * n + 1]
            if job_type is None:
                continue
            found[job_id] = flows.Node(
                job_type.decode(errors="replace"),
                state.decode(errors="replace") if state else None,
                flows.parse_ids((depends_on or b"").decode(errors="replace")),
                outcomes,
            )
        return found

    async def outcomes(self, job_id: int) -> dict[bytes, bytes]:
        async with self.answering() as client:
            found: Any = await client.hgetall(self.keys.deps(job_id))
        return dict(found)

    async def retry(self, job_id: int) -> None:
        async with self.answering():
            await self.scripts.retry(job_id)

    async def pause(self, job_type: str, paused: bool) -> bool:
        async with self.answering():
            return await self.scripts.pause(job_type, paused)

    async def set_state(self, job_id: int, state: JobState) -> None:
        async with self.answering():
            await self.scripts.set_state(job_id, state.value)

    async def set_priority(self, job_id: int, priority: int) -> None:
        async with self.answering():
            await self.scripts.set_priority(job_id, priority)

    # -- schedules and limits --------------------------------------------------------

    async def set_schedule(self, key: str, spec: bytes, rule: Rule) -> None:
        async with self.answering() as client:
            seconds, micros = await client.time()
            now = int(seconds) * 1000 + int(micros) // 1000
            async with client.pipeline(transaction=False) as pipe:
                pipe.hget(self.keys.schedules, key)
                pipe.zscore(self.keys.schedules_due, key)
                stored, due = await pipe.execute()
            await self.scripts.set_schedule(key, spec, first_run(rule, stored, due, now))

    async def unschedule(self, key: str) -> bool:
        async with self.answering():
            return await self.scripts.unschedule(key)

    async def schedules(self) -> list[Schedule]:
        async with self.answering() as client, client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.schedules)
            pipe.zrange(self.keys.schedules_due, 0, -1, withscores=True)
            pipe.hgetall(self.keys.schedule_runs)
            specs, due, runs = await pipe.execute()
        due_at = dict(due)
        found = []
        for raw_key in sorted(specs):
            key = raw_key.decode(errors="replace")
            schedule = schedule_of(key, specs[raw_key], due_at.get(raw_key), runs.get(raw_key))
            if schedule is not None and NAME_PATTERN.fullmatch(key):
                found.append(schedule)
        return found

    async def get_schedule(self, key: str) -> Schedule | None:
        async with self.answering() as client, client.pipeline(transaction=False) as pipe:
            pipe.hget(self.keys.schedules, key)
            pipe.zscore(self.keys.schedules_due, key)
            pipe.hget(self.keys.schedule_runs, key)
            spec, due, runs = await pipe.execute()
        return None if spec is None else schedule_of(key, spec, due, runs)

    async def set_limits(self, job_type: str, change: bytes) -> limits.Limits:
        async with self.answering():
            return limits.decode(await self.scripts.set_limits(job_type, change))

    async def limits(self, job_type: str) -> limits.Limits:
        async with self.answering() as client:
            return limits.decode(await client.hget(self.keys.limits, job_type))


def valid_names(raw: Any) -> list[str]:
    """Sorted names of a set of types: pykue adds only valid names; one added by hand
    that breaks the rule (bad UTF-8 included) could not be asked about anyway."""
    decoded = (name.decode(errors="replace") for name in raw)
    return sorted(name for name in decoded if NAME_PATTERN.fullmatch(name))
