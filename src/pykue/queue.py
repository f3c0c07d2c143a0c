"""Queue: create and save jobs, query and administer them, listen to events, process.

A Queue connects lazily on first use, so creating one (or using test mode) never
touches Redis. Processing is delegated to a Worker (worker.py), events to an
EventReader (events.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar, overload

import orjson
from redis.exceptions import RedisError

from .aio import TRANSIENT, cancel_all, raise_if_cancel_lost, refused_for_now
from .config import Settings, redact_url
from .connection import (
    Client,
    check_server,
    close_client,
    create_client,
    refusal,
    resolve_url,
)
from .errors import (
    ConnectionFailed,
    InvalidJob,
    JobFailed,
    JobNotFound,
    JobTimeout,
    NotReplicated,
    check_int,
    check_seconds,
    raise_for_code,
    shown,
)
from .events import BLOCK_MS, QUEUE_EVENTS, EventReader, Watch, id_before
from .job import (
    Callback,
    Job,
    JobState,
    PendingSave,
    RemovePolicy,
    dumps,
    loads,
    parse_priority,
    parse_state,
)
from .keys import NAME_PATTERN, STATES, Keys, check_name
from .runner import Handler
from .scripts import Scripts
from .testing import TestMode

log = logging.getLogger("pykue")
H = TypeVar("H", bound=Handler)

SAVE_TOKEN_TTL = 24 * 3600  # a retried save within a day returns the first save's job
SAVE_TIMEOUT = 5.0  # the default save_timeout: a save in seconds, or a clear error
BULK_CHUNK = 500  # jobs per enqueue script call: each call holds Redis for a few ms at most
PAGE_LIMIT = 1000
MAX_INDEX = 2**53  # job ids and list positions stay below it (exact in a double, and in Redis)


def _saved_here(job: Job) -> bool:
    """True for a job whose own save() or add_bulk() gave it its id (a Job read from Redis
    has ``created`` None)."""
    return job.id is not None and job.created is not None


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
        self.test_mode = TestMode(self)
        self.handlers: dict[str, tuple[Handler, int]] = {}
        self._url: str | None = None
        self._client: Client | None = None
        self._scripts: Scripts | None = None
        self._connect_lock = asyncio.Lock()
        self._reader: EventReader | None = None
        self._worker: Any = None  # worker.Worker while run() is active
        self.listeners: dict[str, list[Callback]] = {}  # queue-wide, see on()

    # -- connection ---------------------------------------------------------------

    async def connect(self) -> None:
        """Resolve and connect to Redis now (otherwise done on first use)."""
        await self._ensure()

    async def _ensure(self) -> Scripts:
        if self._scripts is None:
            async with self._connect_lock:
                if self._scripts is None:
                    self._url = await resolve_url(self.settings)
                    # WAIT blocks server-side for replica_timeout: a reply may take that long
                    block = self.replica_timeout if self.replicas else 0.0
                    client = create_client(self._url, lease=self.lease, block=block)
                    try:
                        await check_server(client, self._url)
                    except BaseException as exc:  # e.g. too old a server: close what was opened
                        await close_client(client)
                        reason = refusal(exc)
                        if reason is not None:
                            # refused, not unreachable: retrying will not help, so say so
                            where = redact_url(self._url)
                            raise ConnectionFailed(
                                f"Redis at {where} refused pykue: {reason}"
                            ) from None
                        raise
                    self._client = client
                    self._scripts = Scripts(client, self.keys, self.events_maxlen)
                    if self.listeners:
                        self._events().start()
        return self._scripts

    @property
    def client(self) -> Client:
        """The connected client (call ``await queue.connect()`` first)."""
        if self._client is None:
            raise RuntimeError("the queue is not connected yet: await queue.connect() first")
        return self._client

    def new_client(self, *, block: float | None = None) -> Client:
        """A client with a pool of its own, for blocking reads of at most ``block``
        seconds (None: up to the longest block pykue uses); its socket timeout is that
        plus the lease's call timeout, so a dead connection is noticed that soon."""
        if self._url is None:
            raise RuntimeError("the queue is not connected yet")
        if block is None:
            return create_client(self._url, lease=self.lease, blocking=True)
        return create_client(self._url, lease=self.lease, block=block)

    async def call(self, script: str, *args: str | bytes | int | float) -> Any:
        return await (await self._ensure()).call(script, *args)

    async def call_many(
        self, *calls: tuple[str, Sequence[str | bytes | int | float]], raise_on_error: bool = True
    ) -> Any:
        """Run scripts one after another in a single round trip; their replies in order
        (with ``raise_on_error=False`` a script's error comes back in its place)."""
        return await (await self._ensure()).call_many(calls, raise_on_error=raise_on_error)

    async def close(self) -> None:
        """Close the event reader and connections (a running worker is shut down first)."""
        await self.shutdown()
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._client is not None:
            await close_client(self._client)
            self._client = None
            self._scripts = None

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
    ) -> Job:
        """A new, unsaved job of ``job_type`` carrying ``data`` (a JSON object)."""
        return Job(
            self, job_type, data, priority=priority, attempts=attempts, backoff=backoff,
            delay=delay, ttl=ttl, remove_on_complete=remove_on_complete, unique=unique,
        )  # fmt: skip

    async def save(self, job: Job) -> None:
        """Store ``job``; see ``Job.save``. A job this Queue already saved is left as it is."""
        if _saved_here(job):
            return
        await self._save_encoded([job], [self._enqueue_args(job)])

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
        todo, encoded = self._encode_bulk(jobs)
        await self._save_encoded(todo, encoded)
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

    async def _save_encoded(self, jobs: list[Job], encoded: list[list[str | int]]) -> None:
        """Send ``jobs`` (encoded by _enqueue_args) in chunks, each within save_timeout.

        A job sent before whose reply never came is in a call that may have run: that
        call is sent again as it was (its token, all its jobs), so the script answers
        what it did if it ran, whichever of its jobs the caller retries; jobs never sent
        go in new calls."""
        if self.test_mode.active:
            for job in jobs:
                await self.test_mode.capture(job)
            return
        calls = self._calls(jobs, encoded)
        if not calls:
            return
        budget = self.save_timeout + (self.replica_timeout if self.replicas else 0.0)
        deadline = asyncio.timeout(budget)
        try:
            async with deadline:
                await self._ensure()
                if self._reader is not None:  # queue-wide listeners see every job saved after on()
                    await self._reader.ready()
                loop = asyncio.get_running_loop()

                def send(n: int) -> asyncio.Task[Any] | None:
                    if n >= len(calls):
                        return None
                    call = calls[n]
                    for job in call.jobs:
                        job.pending_save = call  # it may run from now on
                    return asyncio.create_task(self._enqueue(call))

                in_flight, done = send(0), 0
                try:
                    while in_flight is not None:
                        reply = await in_flight
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

    @staticmethod
    def _calls(jobs: list[Job], encoded: list[list[str | int]]) -> list[PendingSave]:
        """The script calls that save ``jobs``: the unanswered calls some of them were
        sent in before, then new calls of BULK_CHUNK for the rest, in the list's order."""
        again: dict[int, PendingSave] = {}
        fresh: list[tuple[Job, list[str | int]]] = []
        for job, entry in zip(jobs, encoded, strict=True):
            if job.pending_save is None:
                fresh.append((job, entry))
            else:
                again.setdefault(id(job.pending_save), job.pending_save)
        calls = list(again.values())
        for start in range(0, len(fresh), BULK_CHUNK):
            part = fresh[start : start + BULK_CHUNK]
            payload = orjson.dumps([entry for _, entry in part])
            calls.append(PendingSave(os.urandom(16).hex(), payload, [job for job, _ in part]))
        return calls

    def _not_saved(self, jobs: list[Job], saved: int, why: str) -> ConnectionFailed:
        where = redact_url(self._url) if self._url is not None else "Redis"
        if len(jobs) == 1:
            what = "the job may or may not have been saved: saving it again is safe"
        else:
            what = (
                f"{saved} of {len(jobs)} jobs were saved (they have ids), the others may or "
                "may not have been: saving them again is safe"
            )
        return ConnectionFailed(
            f"Redis at {where} did not take the save ({shown(why, 200)}); {what} "
            "(no job is saved twice)"
        )

    async def _enqueue(self, call: PendingSave) -> Any:
        """enqueue.lua's reply for ``call``; with ``replicas``, once they have it too."""
        args = (call.token, SAVE_TOKEN_TTL, call.payload)
        if not self.replicas:
            return await self.call("enqueue", *args)
        scripts = await self._ensure()
        wait = ("WAIT", self.replicas, int(self.replica_timeout * 1000))
        reply, acked = await scripts.call_many([("enqueue", args)], wait)
        if int(acked) < self.replicas:
            count = len(call.jobs)
            what = f"job {int(reply[0])}" if count == 1 else f"{count} jobs from id {int(reply[0])}"
            raise NotReplicated(
                f"{what} saved on the master, but {acked} of {self.replicas} replicas "
                f"confirmed within {self.replica_timeout} s; saving again is safe and waits again"
            )
        return reply

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

    async def _saved(self, jobs: list[Job], reply: Any) -> None:
        """Give each job its part of enqueue.lua's ``reply``. Jobs the call did not just
        create (a unique key matched, or the call had run before and its reply was
        lost) are read first, in one round trip, so that a job's fields are set all at
        once or, if this is interrupted, not at all (a retried save must not find ``id``
        set)."""
        parts = [
            (int(reply[3 * i]), reply[3 * i + 1], int(reply[3 * i + 2])) for i in range(len(jobs))
        ]
        found = [job_id for job_id, event, _ in parts if not event]
        existing = {job.id: job for job in await self._load(found)} if found else {}
        for job, (job_id, event, created) in zip(jobs, parts, strict=True):
            job.id, job.created = job_id, created == 1
            if event:
                job.state = JobState.DELAYED if job.delay_ms > 0 else JobState.INACTIVE
                job.cursor = id_before(event.decode())
            else:  # None: it ran and was removed since
                other = existing.get(job_id)
                job.state = other.state if other is not None else None
                job.created_at = other.created_at if other is not None else None
        for job in jobs:
            job.pending_save = None  # answered: saving it again leaves it as it is
            if job.listeners:
                self._events().watch(Watch(job.job_id, job=job), job.cursor)

    # -- queries -------------------------------------------------------------------------

    async def get_job(self, job_id: int) -> Job:
        """The job with ``job_id``; JobNotFound if there is none."""
        job_id = self._check_id(job_id)
        if self.test_mode.active:
            return self.test_mode.get(job_id)
        await self._ensure()
        fields: Any = await self.client.hgetall(self.keys.job(job_id))
        if not fields:
            raise JobNotFound(f"job {job_id} not found")
        return Job.from_hash(self, job_id, fields)

    async def get_log(self, job_id: int) -> list[str]:
        job_id = self._check_id(job_id)
        await self._ensure()
        lines: Any = await self.client.lrange(self.keys.log(job_id), 0, -1)
        # pykue writes UTF-8 only; a line written by another tool is shown, not fatal
        return [line.decode(errors="backslashreplace") for line in lines]

    async def get_errors(self, job_id: int) -> list[dict[str, Any]]:
        """One record per failed attempt: attempt, error, traceback, at (ms)."""
        job_id = self._check_id(job_id)
        await self._ensure()
        raw: Any = await self.client.lrange(self.keys.errors(job_id), 0, -1)
        return [error_record(item) for item in raw]

    async def counts(self, type: str | None = None) -> dict[str, int]:
        """Number of jobs per state, for all types or one."""
        job_type = type
        if job_type is not None:
            check_name("job type", job_type)
        await self._ensure()
        async with self.client.pipeline(transaction=False) as pipe:
            for state in STATES:
                key = (
                    self.keys.state(state)
                    if job_type is None
                    else self.keys.type_state(job_type, state)
                )
                pipe.zcard(key)
            values = await pipe.execute()
        return dict(zip(STATES, (int(v) for v in values), strict=True))

    async def types(self) -> list[str]:
        await self._ensure()
        names: Any = await self.client.smembers(self.keys.types)
        # pykue adds only valid names; one added by hand that breaks the rule (bad UTF-8
        # included) could not be asked about anyway
        decoded = (name.decode(errors="replace") for name in names)
        return sorted(name for name in decoded if NAME_PATTERN.fullmatch(name))

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
        entered the state. ``stop`` is inclusive; a page holds at most 1,000 jobs.
        """
        if order not in ("asc", "desc"):
            raise InvalidJob(f"order must be 'asc' or 'desc', got {shown(order)}")
        for name, value in (("start", start), ("stop", stop)):
            check_int(name, value, 0, MAX_INDEX - 1, "2**53")  # ZRANGE refuses past 2**63
        if stop < start or stop - start >= PAGE_LIMIT:
            raise InvalidJob(f"range {start}..{stop} must be ascending and hold <= {PAGE_LIMIT}")
        states = STATES if state is None else (parse_state(state).value,)
        job_type = type
        if job_type is not None:
            check_name("job type", job_type)
        await self._ensure()
        ids: list[int] = []
        for one in states:
            key = self.keys.state(one) if job_type is None else self.keys.type_state(job_type, one)
            if state is not None:
                ids += [int(i) for i in await self._zrange(key, start, stop, order)]
            else:
                ids += [int(i) for i in await self._zrange(key, 0, -1, "asc")]
        if state is None:
            ids = sorted(ids, reverse=order == "desc")[start : stop + 1]
        return await self._load(ids)

    async def _zrange(self, key: str, start: int, stop: int, order: str) -> list[bytes]:
        members: Any = await self.client.zrange(key, start, stop, desc=order == "desc")
        return list(members)

    async def _load(self, ids: list[int]) -> list[Job]:
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.keys.job(job_id))
            hashes = await pipe.execute()
        return [Job.from_hash(self, i, h) for i, h in zip(ids, hashes, strict=True) if h]

    # -- admin -----------------------------------------------------------------------------

    async def remove(self, job_id: int) -> None:
        """Delete a job in any state (a worker running it loses its lease)."""
        job_id = self._check_id(job_id)
        if self.test_mode.active:
            self.test_mode.remove(job_id)
            return
        reply = await self.call("remove", job_id)
        raise_for_code(int(reply[0]), job_id)

    async def retry(self, job_id: int) -> None:
        """Move a failed job back to inactive, with its attempts reset."""
        job_id = self._check_id(job_id)
        reply = await self.call("retry", job_id)
        raise_for_code(int(reply[0]), job_id, reply[1].decode() if len(reply) > 1 else "")

    async def pause(self, job_type: str) -> bool:
        """Stop workers claiming jobs of ``job_type`` (running ones finish). True if changed."""
        reply = await self.call("pause", check_name("job type", job_type), "1")
        return bool(reply[0])

    async def resume(self, job_type: str) -> bool:
        reply = await self.call("pause", check_name("job type", job_type), "0")
        return bool(reply[0])

    async def is_paused(self, job_type: str) -> bool:
        await self._ensure()
        return bool(await self.client.sismember(self.keys.paused, check_name("job type", job_type)))

    async def set_state(self, job_id: int, state: str | JobState) -> None:
        """Move a job by hand to inactive, delayed, complete or failed (Kue's state route).

        A running job's worker loses it: its late answer is refused."""
        job_id = self._check_id(job_id)
        target = parse_state(state)
        if target is JobState.ACTIVE:
            raise InvalidJob("only a worker makes a job active; use inactive to re-queue it")
        reply = await self.call("set_state", job_id, target.value)
        raise_for_code(int(reply[0]), job_id)

    async def set_priority(self, job_id: int, priority: int | str) -> None:
        """Change a job's priority; a waiting job moves in the claim order at once."""
        job_id = self._check_id(job_id)
        reply = await self.call("set_priority", job_id, parse_priority(priority))
        raise_for_code(int(reply[0]), job_id)

    async def search(self, text: str, *, limit: int = 1000) -> list[int]:
        """Ids of jobs whose id is ``text`` or whose type or data contain it (case-insensitive),
        newest first, looking at the newest ``limit`` (at most 1,000) jobs only."""
        if not isinstance(text, str) or not text.strip() or len(text) > 200:
            raise InvalidJob("search text must be 1 to 200 characters")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= PAGE_LIMIT:
            raise InvalidJob(f"limit must be 1 to {PAGE_LIMIT}")
        await self._ensure()
        needle = text.strip().lower()
        newest = int(await self.client.get(self.keys.ids) or 0)
        ids = list(range(newest, max(newest - limit, 0), -1))
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(self.keys.job(job_id), "type", "data")
            rows = await pipe.execute()
        found = []
        for job_id, (job_type, data) in zip(ids, rows, strict=True):
            if job_type is None:
                continue
            if (
                needle == str(job_id)
                or needle in (job_type + b" " + (data or b"")).decode().lower()
            ):
                found.append(job_id)
        return found

    async def inactive_ids(self, job_type: str) -> list[int]:
        """Ids of the waiting jobs of ``job_type``, in the order workers will take them
        (at most 1,000)."""
        check_name("job type", job_type)
        await self._ensure()
        key = self.keys.type_state(job_type, JobState.INACTIVE.value)
        return [int(i) for i in await self._zrange(key, 0, PAGE_LIMIT - 1, "asc")]

    @staticmethod
    def _check_id(job_id: object) -> int:
        if isinstance(job_id, bool) or not isinstance(job_id, int) or not 0 < job_id < MAX_INDEX:
            raise JobNotFound(f"job id must be a positive int, got {shown(job_id)}")
        return job_id

    # -- events ---------------------------------------------------------------------------

    def _events(self) -> EventReader:
        if self._reader is None:
            self._reader = EventReader(
                lambda: self.new_client(block=BLOCK_MS / 1000), self.keys, self.listeners
            )
        return self._reader

    def on(self, event: str, callback: Callback) -> Queue:
        """Queue-wide events, Kue's names: ``job complete`` (id, result), ``job failed``
        (id, error), ``job failed attempt`` (id, error, attempts), ``job progress``
        (id, percent, data), ``job enqueue``/``job start``/``job remove``/... (id, type),
        ``pause``/``resume`` (type). Delivery starts once the queue is connected; jobs
        saved after that are all seen."""
        if event not in QUEUE_EVENTS:
            raise InvalidJob(
                f"unknown queue event {shown(event)}; use one of {', '.join(QUEUE_EVENTS)}"
            )
        if not callable(callback):
            raise InvalidJob("callback must be callable")
        self.listeners.setdefault(event, []).append(callback)
        if self._scripts is not None:
            self._events().start()
        return self

    def watch(self, job: Job) -> None:
        """Start delivering ``job``'s events to its listeners (called by ``job.on``)."""
        if self.test_mode.active or job.id is None:
            return  # saved later: save() starts the watch from the job's first event
        if self._url is None:
            raise RuntimeError("connect the queue (await queue.connect()) before job.on()")
        reader = self._events()
        if not reader.is_watching(job):
            reader.watch(Watch(job.id, job=job), job.cursor)

    async def wait_for(self, job: Job, timeout: float | None = None) -> Any:
        job_id = job.job_id
        if self.test_mode.active:
            return self.test_mode.result(job)
        await self._ensure()
        reader = self._events()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        watch = Watch(job_id, future=future)
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
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidJob(f"concurrency must be an int >= 1, got {shown(concurrency)}")

        def register(fn: H) -> H:
            if not callable(fn):
                raise InvalidJob("handler must be callable")
            self.handlers[job_type] = (fn, concurrency)
            return fn

        return register if handler is None else register(handler)

    async def run(self, *, handle_signals: bool = True) -> None:
        """Process the registered types until ``shutdown()`` (or SIGINT/SIGTERM)."""
        from .worker import Worker

        if not self.handlers:
            raise InvalidJob("no handlers: register one with queue.process(type, fn) first")
        if self._worker is not None:
            raise RuntimeError("this queue is already running")
        await self._ensure()
        worker = self._worker = Worker(self, dict(self.handlers))
        loop = asyncio.get_running_loop()
        installed = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, worker.request_stop)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass  # not the main thread, or no signals here
        try:
            await worker.run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            self._worker = None

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop processing: no new claims; running jobs get ``timeout`` s, then are released."""
        if self._worker is not None:
            await self._worker.stop(timeout)

    # -- used by handlers through Job ----------------------------------------------------

    async def report_progress(self, job: Job, completed: float, total: float, data: Any) -> None:
        for name, value in (("completed", completed), ("total", total)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidJob(f"progress {name} must be a number, got {shown(value)}")
            if not -1e15 < value < 1e15:  # also NaN and infinities
                raise InvalidJob(f"progress {name} must be a finite number, got {shown(value)}")
        if total <= 0:
            raise InvalidJob(f"progress total must be > 0, got {shown(total)}")
        ratio = completed / total * 100  # floats: a tiny total overflows to infinity here
        if not math.isfinite(ratio):
            raise InvalidJob(
                f"progress {shown(completed)} of {shown(total)} is out of range: "
                "completed / total overflows"
            )
        percent = max(0, min(100, int(ratio)))
        encoded = dumps(data, "progress data") if data is not None else b""
        self._check_size("progress data", encoded)
        if self.test_mode.active:
            job.percent, job.progress_data = percent, data
            await self.test_mode.progress(job, percent, data)
            return
        if await self._report(job, "progress", job.token, percent, encoded):
            job.percent, job.progress_data = percent, data

    async def append_log(self, job: Job, line: str) -> None:
        if not isinstance(line, str):
            raise InvalidJob(f"log message must be a string, got {type(line).__name__}")
        try:
            encoded = line.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from an undecodable name
            raise InvalidJob(
                f"log line is not valid text ({exc.reason} at {exc.start}); "
                "write it with errors='backslashreplace' first"
            ) from None
        self._check_size("log line", encoded)
        if self.test_mode.active:
            self.test_mode.log(job, line)
            return
        await self._report(job, "log", encoded)

    async def _report(self, job: Job, what: str, *args: str | bytes | int) -> bool:
        """Send a handler's progress or log line; False, with a warning, when Redis
        refuses writes for now (out of memory, a read-only replica): a report dropped
        must not fail work that is going well. A lost lease still raises LeaseLost."""
        try:
            reply = await self.call(what, job.job_id, *args)
        except RedisError as exc:
            if not refused_for_now(exc):
                raise
            log.warning("pykue: %s of job %s dropped: Redis refuses writes (%s)", what, job.id, exc)
            return False
        raise_for_code(int(reply[0]), job.id)
        return True

    def _check_size(self, what: str, encoded: bytes) -> None:
        if len(encoded) > self.max_payload:
            raise InvalidJob(
                f"{what} is {len(encoded)} bytes, over the limit of {self.max_payload} "
                "(Queue(max_payload=...))"
            )
