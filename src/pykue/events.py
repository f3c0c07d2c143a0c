"""Reading the queue's event stream on a connection of its own, and delivering events.

One reader per Queue, started the first time something listens. Every job saved
by this process carries ``cursor``, the stream id just before its ``enqueue``
event, so listeners added after ``save()`` still see every event of the job: if
the reader has already read past that point, the missed part is replayed from
the stream before newer events for that job are delivered. After a lost
connection the reader resumes from the last id it read, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from .aio import TRANSIENT, Backoff, Outage, cancel_all
from .connection import Client, close_client, finish_closing, streams_of
from .errors import JobFailed, JobNotFound, shown
from .event_names import EVENTS
from .event_names import QUEUE_EVENTS as QUEUE_EVENTS  # the one table; kept importable here
from .job import Callback, Job, loads

if TYPE_CHECKING:
    from .keys import Keys

log = logging.getLogger("pykue")

TERMINAL = ("complete", "failed", "remove")
BLOCK_MS = 2000


def stream_id(raw: str | bytes) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def id_before(raw: str) -> str:
    """The stream id just before ``raw``, so that reading after it includes ``raw``."""
    ms, seq = stream_id(raw)
    if seq > 0:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-18446744073709551615" if ms > 0 else "0-0"


def event_args(name: str, fields: Mapping[bytes, bytes]) -> tuple[Any, ...]:
    """The arguments a job listener receives for event ``name``."""
    if name == "progress":
        return int(fields[b"progress"]), loads(fields.get(b"data"))
    if name == "complete":
        return (loads(fields.get(b"result")),)
    if name == "failed attempt":
        return fields[b"error"].decode(), int(fields[b"attempts_made"])
    if name == "failed":
        return (fields[b"error"].decode(),)
    if name == "state":
        return fields[b"from"].decode(), fields[b"to"].decode()
    if name == "ready":
        return (fields[b"state"].decode(),)
    if name == "priority":
        return (int(fields[b"priority"]),)
    if name == "stalled":
        return (int(fields[b"stalls"]),)
    return ()


@dataclass(frozen=True, slots=True)
class Event:
    """One stream entry, decoded: ``job_id`` is None for queue events (pause, resume)."""

    name: str
    job_id: int | None
    args: tuple[Any, ...]
    type: str


def decode_event(fields: Mapping[bytes, bytes]) -> Event:
    """The event a stream entry holds; BadEvent for an entry pykue did not write (by hand,
    another tool): a reader skips it rather than stopping every listener."""
    try:
        name = fields[b"event"].decode()
        job_type = fields.get(b"type", b"").decode()
        raw_id = fields.get(b"id")
        if raw_id is None:  # a queue event: its type, then its fields (event_names.py)
            spec = EVENTS.get(name)
            extra = () if spec is None else tuple(fields[f.encode()].decode() for f in spec.fields)
            return Event(name, None, extra, job_type)
        job_id = int(raw_id)
        return Event(name, job_id, event_args(name, fields), job_type)
    except (KeyError, ValueError) as exc:  # also bad UTF-8 and bad JSON
        raise BadEvent(f"{type(exc).__name__}: {shown(exc.args[0] if exc.args else exc)}") from None


class BadEvent(ValueError):
    """A stream entry that is not one of pykue's events."""


def skip_bad(event_id: str, exc: BadEvent) -> None:
    log.warning(
        "pykue: skipped event %s of the stream, which pykue did not write (%s)", event_id, exc
    )


async def call_listener(callback: Callback, *args: Any) -> None:
    """Run a plain or async callback; a failing callback is logged, never fatal."""
    try:
        result = callback(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("pykue: event listener %r raised", callback)


@dataclass(eq=False)
class Watch:
    """Something waiting for one job's events: a Job's listeners or a wait() future."""

    job_id: int
    job: Job | None = None
    future: asyncio.Future[Any] | None = None
    replayed: asyncio.Event = field(default_factory=asyncio.Event)
    # events up to this stream id are not this watch's, though a reader behind may
    # still be on its way through them (a retried job's earlier failure)
    after: tuple[int, int] = (0, 0)

    async def deliver(self, name: str, args: tuple[Any, ...], event_id: str) -> bool:
        """Deliver one event; False for one from before ``after`` (not this watch's)."""
        if stream_id(event_id) <= self.after:
            return False
        if self.job is not None:
            # A listener added late gets the job's history through a new watch; the
            # listeners that already saw those events must not get them twice.
            seen = self.job.delivered
            at = stream_id(event_id)
            for callback in list(self.job.listeners.get(name, ())):
                if seen.get(id(callback), (-1, -1)) >= at:
                    continue
                seen[id(callback)] = at
                await call_listener(callback, *args)
        fut = self.future
        if fut is not None and not fut.done():
            if name == "complete":
                fut.set_result(args[0])
            elif name == "failed":
                fut.set_exception(JobFailed(self.job_id, args[0]))
            elif name == "remove":
                fut.set_exception(JobNotFound(f"job {self.job_id} was removed"))
        return True


class EventReader:
    """Reads ``P:events`` with XREAD BLOCK and fans events out in-process."""

    def __init__(
        self,
        client_factory: Callable[[], Client],
        keys: Keys,
        queue_listeners: dict[str, list[Callback]],
    ) -> None:
        self._client_factory = client_factory
        self._stream = keys.events
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._position: str | None = None  # last id read (or to read after)
        self._fetching = False  # True once an XREAD from _position may be in flight
        self._watches: dict[int, list[Watch]] = {}
        self._queue_listeners = queue_listeners  # owned by the Queue, shared with test mode
        self._replays: set[asyncio.Task[None]] = set()

    # -- registration -------------------------------------------------------

    def watch(self, watch: Watch, cursor: str | None) -> None:
        """Deliver events of ``watch.job_id`` that come after ``cursor`` (None: from now)."""
        self._watches.setdefault(watch.job_id, []).append(watch)
        if cursor is None:
            watch.replayed.set()
        elif not self._fetching:
            if self._position is None or stream_id(cursor) < stream_id(self._position):
                self._position = cursor
            watch.replayed.set()
        elif stream_id(cursor) < stream_id(self._position or "0-0"):
            task = asyncio.get_running_loop().create_task(
                self._replay(watch, cursor, self._position or "0-0")
            )
            self._replays.add(task)
            task.add_done_callback(self._replays.discard)
        else:
            watch.replayed.set()
        self.start()

    def is_watching(self, job: Job) -> bool:
        return any(w.job is job for w in self._watches.get(job.job_id, ()))

    def unwatch(self, watch: Watch) -> None:
        watches = self._watches.get(watch.job_id, [])
        if watch in watches:
            watches.remove(watch)
        if not watches:
            self._watches.pop(watch.job_id, None)

    async def ready(self) -> None:
        """Return once the reader knows its position: later events will all be seen."""
        self.start()
        await self._ready.wait()

    # -- the reading loop ---------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="pykue-events")

    async def _run(self) -> None:
        backoff = Backoff()
        outage = Outage("the event reader")
        while True:
            try:
                if self._client is None:
                    self._client = self._client_factory()
                if self._position is None:
                    newest: Any = await self._client.xrevrange(self._stream, count=1)
                    if self._position is None:  # a watch() during the await may have set it
                        self._position = newest[0][0].decode() if newest else "0-0"
                self._fetching = True
                self._ready.set()
                reply: Any = await self._client.xread(
                    {self._stream: self._position}, count=1000, block=BLOCK_MS
                )
                backoff.reset()
                outage.ok()
            except TRANSIENT as exc:
                outage.failed(exc)
                await backoff.sleep()
                continue
            except RedisError as exc:  # READONLY etc. must not end delivery either
                log.warning(
                    "pykue: event stream read failed (%s); retrying in %.2fs", exc, backoff.current
                )
                await backoff.sleep()
                continue
            for _stream, entries in reply or ():
                for raw_id, fields in entries:
                    self._position = raw_id.decode()
                    try:
                        event = decode_event(fields)
                    except BadEvent as exc:
                        skip_bad(self._position, exc)
                        continue
                    await self._dispatch(self._position, event)

    async def _dispatch(self, event_id: str, event: Event) -> None:
        name, job_id, args = event.name, event.job_id, event.args
        if job_id is None:
            for callback in list(self._queue_listeners.get(name, ())):
                await call_listener(callback, event.type, *event.args)
            return
        qargs = args if args else (event.type,)
        for callback in list(self._queue_listeners.get("job " + name, ())):
            await call_listener(callback, job_id, *qargs)
        for watch in list(self._watches.get(job_id, ())):
            await watch.replayed.wait()
            if await watch.deliver(name, args, event_id) and name in TERMINAL:
                self.unwatch(watch)

    async def _replay(self, watch: Watch, after: str, upto: str) -> None:
        """Deliver this watch's events in (after, upto], which the reader read before it came."""
        backoff = Backoff()
        while True:
            try:
                assert self._client is not None
                entries: Any = await self._client.xrange(self._stream, min="(" + after, max=upto)
                break
            except (*TRANSIENT, RedisError):
                await backoff.sleep()
        try:
            for raw_id, fields in entries:
                if fields.get(b"id") != str(watch.job_id).encode():
                    continue  # another job's: the reader has dispatched it (or skipped it)
                try:
                    event = decode_event(fields)
                except BadEvent as exc:
                    skip_bad(raw_id.decode(), exc)
                    continue
                await watch.deliver(event.name, event.args, raw_id.decode())
                if event.name in TERMINAL:
                    self.unwatch(watch)
        finally:
            watch.replayed.set()

    async def close(self) -> None:
        streams = streams_of(self._client) if self._client is not None else []
        await cancel_all([t for t in (self._task, *self._replays) if t is not None])
        self._task = None
        if self._client is not None:
            await close_client(self._client)
            self._client = None
        await finish_closing(streams)
