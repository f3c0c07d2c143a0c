"""Worker: claims jobs with leases, runs them within each type's concurrency, acks them.

Per job type, one loop claims as many jobs as there are free slots in a single
script call and, when there is nothing to do, blocks on the type's wake marker
(BLPOP) until a producer or a promotion pushes one, or until the next delayed
job is due. A lease loop renews, every lease/3, the leases of running jobs and of
ended jobs whose acks are not delivered yet; a maintenance loop promotes due delayed
jobs and returns jobs whose lease expired (dead workers) to the queue; a schedule loop
makes the jobs of due schedules, whatever their type (schedules.py). Redis outages
are ridden out with backoff; a worker never dies of one, nor of one job it cannot read
(a corrupt hash fails that job for good).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import RedisError, ResponseError

from .acks import Acks
from .aio import TRANSIENT, Backoff, Outage, cancel_all
from .connection import call_timeout, close_client, finish_closing, streams_of
from .errors import InvalidArgument, InvalidJob, LeaseLost, UsageError, check_int, shown
from .job import Job, backoff_delay, dumps, encode_remove_policy
from .keys import check_name
from .runner import (
    MAX_ERROR,
    MAX_TRACE,
    Handler,
    TTLExceeded,
    cut,
    error_text,
    is_async,
    run_handler,
    trace_text,
)
from .schedules import plan, read_spec
from .scripts import Claim, Claimed, ClaimRequest, Fired

if TYPE_CHECKING:
    from .queue import Queue

log = logging.getLogger("pykue")
MAX_CONCURRENCY = 100_000  # slots per type in one worker
IDLE_BLOCK = 5.0  # longest BLPOP (and at most a lease): a safety net, markers wake workers
SCHEDULES_PER_PASS = 100  # due schedules a worker takes per look


@dataclass(eq=False)
class Running:
    """One claimed job. It holds a slot of its type until its handler has really ended."""

    job: Job
    task: asyncio.Task[None] = field(init=False)
    lost: bool = False  # lease lost or shutting down: another worker may own it now
    started: bool = False  # the handler was called (it will report its own end)
    ended: bool = False  # the handler is done: only its ack is still to be sent
    holds_slot: bool = True


class Worker:
    """Processes jobs of a Queue: ``process()`` registers a handler per job type, ``run()``
    claims and runs them until ``shutdown()`` (or SIGINT/SIGTERM). ``queue.process`` and
    ``queue.run()`` are the short form: a Worker made of the queue's handlers."""

    def __init__(
        self, queue: Queue, handlers: Mapping[str, tuple[Handler, int]] | None = None
    ) -> None:
        self.queue = queue
        self.handlers: dict[str, tuple[Handler, int]] = dict(handlers or {})
        self.id = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_ms = int(queue.lease * 1000)
        self.running: dict[int, Running] = {}
        self.stopping = asyncio.Event()
        self.stopped = asyncio.Event()
        self.started = False
        self.loops: list[asyncio.Task[None]] = []
        self.drain_timeout = 10.0
        self.waiting: set[str] = set()  # types whose claim loop waits for work or for Redis
        # per type, the request id of a claim whose reply never came: resent, it returns
        # the jobs that claim took (see claim.lua) instead of leaving them to expire
        self.unanswered: dict[str, str] = {}
        self.outage = Outage(f"worker {self.id}")
        self.refusal = Outage(
            f"worker {self.id}",
            "claims nothing while Redis refuses writes (%s)",
            "claims again: Redis takes writes, %.1f s after refusing them",
        )
        self.failure: BaseException | None = None  # what ended a loop unexpectedly
        # (key, stored form) of the schedules logged as unplannable
        self.bad_schedules: set[tuple[str, bytes | None]] = set()

    def process(self, job_type: str, handler: Handler, *, concurrency: int = 1) -> Handler:
        """Run ``handler`` for jobs of ``job_type``, ``concurrency`` at a time (async
        handlers on the loop, plain ``def`` handlers in threads)."""
        check_name("job type", job_type)
        check_int("concurrency", concurrency, 1, MAX_CONCURRENCY)
        if not callable(handler):
            raise InvalidArgument("handler must be callable")
        if self.started:
            raise UsageError("register handlers before run()")
        self.handlers[job_type] = (handler, concurrency)
        return handler

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = True) -> None:
        """Process the registered types until ``shutdown()`` (or, with ``handle_signals``,
        SIGINT/SIGTERM): running jobs then get the shutdown's timeout to finish."""
        if not self.handlers:
            raise InvalidArgument("no handlers: register one with queue.process(type, fn) first")
        if self.started:
            raise UsageError("a Worker runs once; make a new one")
        self.started = True
        self.backend = self.queue._redis
        self.scripts = await self.backend.ensure()
        self.acks = Acks(self.scripts)
        self.per_type = dict.fromkeys(self.handlers, 0)
        self.slot_free = {t: asyncio.Event() for t in self.handlers}
        # one thread per slot of the plain-def handlers, so none waits for a thread
        slots = sum(c for handler, c in self.handlers.values() if not is_async(handler))
        self.threads = ThreadPoolExecutor(max(1, slots), thread_name_prefix="pykue-job")
        loop = asyncio.get_running_loop()
        installed = []
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self.request_stop)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError):
                    pass  # not the main thread, or no signals here
        try:
            await self._run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop: no new claims; running jobs get ``timeout`` s, then are handed back."""
        self.drain_timeout = timeout
        self.request_stop()
        if self.started:
            await self.stopped.wait()

    async def _run(self) -> None:
        self.blocker = self.backend.new_client()  # BLPOPs hold their connection
        try:
            self.loops = [asyncio.create_task(self.claim_loop(t)) for t in self.handlers]
            self.loops.append(asyncio.create_task(self.lease_loop()))
            self.loops.append(asyncio.create_task(self.maintenance_loop()))
            self.loops.append(asyncio.create_task(self.schedule_loop()))
            for loop_task in self.loops:
                loop_task.add_done_callback(self.loop_ended)
            log.info("pykue: worker %s processing %s", self.id, ", ".join(self.handlers))
            await self.stopping.wait()
            await self.drain(self.drain_timeout)
            if self.failure is not None:
                raise self.failure
        finally:
            streams = streams_of(self.blocker, self.backend.client)
            await cancel_all(self.loops)
            await self.acks.close(timeout=0)
            await close_client(self.blocker)
            await finish_closing(streams)
            self.threads.shutdown(wait=False)  # a thread past its TTL cannot be waited for
            self.stopped.set()

    def loop_ended(self, task: asyncio.Task[None]) -> None:
        """A loop that dies of an unexpected error stops the worker, loudly: carrying on
        would leave its job type unserved without a word."""
        if task.cancelled() or task.exception() is None or self.failure is not None:
            return
        self.failure = task.exception()
        log.critical(
            "pykue: worker %s stops on an unexpected error", self.id, exc_info=self.failure
        )
        self.request_stop()

    def request_stop(self) -> None:
        self.stopping.set()  # idle claim loops wake up; a claim in flight is never cut
        for event in getattr(self, "slot_free", {}).values():
            event.set()  # and so do the ones waiting for a slot

    async def drain(self, timeout: float) -> None:
        """Let running jobs finish for ``timeout`` s; hand the rest back to the queue.

        Bounded even when Redis does not answer (a frozen server holds a call until the
        socket times out): what cannot be handed back in time stays leased to this
        worker, and the sweep re-queues it when the lease expires."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def left(least: float = 0.0) -> float:
            return max(least, deadline - loop.time())

        # claim loops end on their own once stopping, unless a claim waits on Redis;
        # run() cancels those (jobs a cut claim took come back when their lease expires)
        await asyncio.wait(self.loops[: len(self.handlers)], timeout=timeout)
        pending = {r.task for r in self.running.values()}
        if pending:
            await asyncio.wait(pending, timeout=left())
        unfinished = list(self.running.values())
        for entry in unfinished:
            entry.lost = True
        await cancel_all([entry.task for entry in unfinished])
        for entry in unfinished:
            self.acks.release(entry.job)
        # each ack is sent again until it lands or this gives up on it (its job runs
        # again when its lease expires)
        await self.acks.close(timeout=left(1.0))

    # -- claiming ------------------------------------------------------------------------

    async def claim_loop(self, job_type: str) -> None:
        concurrency = self.handlers[job_type][1]
        wake_key = self.queue.keys.wake(job_type)
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                free = concurrency - self.per_type[job_type]
                if free <= 0:
                    # acks queued during the last claim must not wait for a slot to free
                    self.acks.kick()
                    # waited on directly (request_stop sets it too): the slot wait is on
                    # the path from one job's end to the next one's claim
                    self.slot_free[job_type].clear()
                    await self.slot_free[job_type].wait()
                    continue
                claim = await self.claim(job_type, free)
                for claimed in claim.jobs:
                    self.start(job_type, claimed)
                self.outage.ok()
                if claim.refused is not None:  # out of memory...: nothing was claimed
                    self.refusal.failed(claim.refused)
                    await self.idle(job_type, backoff.sleep())
                    continue
                backoff.reset()
                self.refusal.ok()
                if claim.jobs or self.stopping.is_set():
                    continue
                now, next_run = claim.now, claim.next_run
                if 0 <= next_run <= now:
                    await self.scripts.promote(1000)
                    continue
                block = min(IDLE_BLOCK, self.queue.lease)
                # the first of: a delayed job due, the rate window admitting again
                due = [t for t in (next_run, claim.retry_at) if t >= 0 and not claim.paused]
                wait = min(block, (min(due) - now) / 1000) if due else block
                await self.idle(job_type, self.wait_for_work(wake_key, max(wait, 0.01)))
            except TRANSIENT as exc:
                self.outage.failed(exc)
                await self.idle(job_type, backoff.sleep())
            except RedisError as exc:  # READONLY after a failover, OOM, BUSY...: wait it out
                log.error("pykue: claiming %s failed (%s); retrying", job_type, exc)
                await self.idle(job_type, backoff.sleep())

    async def wait_for_work(self, wake_key: str, wait: float) -> Any:
        """BLPOP the type's wake marker for ``wait`` s. The blocker's socket timeout
        covers the longest block of any blocking client (the dashboard's 15 s): bounded
        here too, so a half-open blocker holds this type's claims for a third of a lease (or
        a second) past its block, no longer (the cut connection is dropped and replaced)."""
        limit = wait + max(call_timeout(self.queue.lease), 1.0)
        # a timeout scope, not wait_for: wait_for runs the BLPOP in a task of its own,
        # which a second cancel (cancel_all's) can orphan mid-connect, to open a
        # connection after the client is closed
        async with asyncio.timeout(limit):
            return await self.blocker.blpop([wake_key], timeout=wait)

    async def claim(self, job_type: str, count: int) -> Claim:
        """Claim up to ``count`` jobs, the queued acks first in the same round trip: jobs
        that ended have moved on before new ones start, so events and indexes keep the
        order the work happened in.

        A claim that ran is honoured even when its reply is lost or the acks sent with
        it erred: its request id is kept and the next claim resends it, and claim.lua
        answers a resent id with the jobs the first call took."""
        rid = self.unanswered.pop(job_type, None) or uuid.uuid4().hex
        try:
            return await self.acks.claim(ClaimRequest(job_type, count, self.id, self.lease_ms, rid))
        except BaseException:
            self.unanswered[job_type] = rid
            raise

    async def idle(self, job_type: str, waiting: Awaitable[Any]) -> None:
        """Await ``waiting`` (no claim is in flight here) unless a stop request comes first.

        The wait is raced against the stop request and cut short with cancel_all, which
        cancels again if need be: a cancel landing while redis-py is still connecting
        can be lost, and a BLPOP would then sit out its whole timeout."""
        if self.stopping.is_set():
            if isinstance(waiting, Coroutine):
                waiting.close()  # never started: no "never awaited" warning
            return
        self.waiting.add(job_type)
        self.acks.kick()  # acks queued for the claim that is not coming now
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.waiting.discard(job_type)
            stop.cancel()
            await cancel_all([task], every=0.1)
        if not task.cancelled():
            task.result()  # a BLPOP's error goes to the claim loop's handlers

    def start(self, job_type: str, claimed: Claimed) -> None:
        """Run one claimed job. Whatever its hash holds, this does not raise: a job that
        cannot be read runs as corrupt (failed for good, see ``execute``) and the claim
        loop goes on with the next."""
        job_id = claimed.id
        try:
            if claimed.fields is None:
                raise ValueError("its fields do not pair up")
            job = self.read(job_type, job_id, claimed.fields)
            if job.depends_on:
                job.outcomes = claimed.outcomes or {}
        except Exception as exc:  # whatever from_hash cannot take: fail this job, not the loop
            job = Job.from_hash(self.queue, job_id, {b"type": job_type.encode()})
            job.token = claimed.token
            job.corrupt = f"it could not be read ({type(exc).__name__}: {error_text(exc)})"
        entry = self.running[job_id] = Running(job)
        self.per_type[job_type] += 1
        entry.task = asyncio.create_task(self.execute(entry), name=f"pykue-job-{job_id}")
        entry.task.add_done_callback(lambda _: self.finished(entry))

    def read(self, job_type: str, job_id: int, fields: dict[bytes, bytes]) -> Job:
        job = Job.from_hash(self.queue, job_id, fields)
        if job.corrupt is None and job.type != job_type:
            job.corrupt = f"its type {shown(job.type)} is not {job_type!r}, its queue's"
        job.type = job_type  # the slot it takes is its queue's
        return job

    def finished(self, entry: Running) -> None:
        if self.running.get(entry.job.job_id) is entry:  # not a newer claim of the same id
            del self.running[entry.job.job_id]
        if not entry.started:  # cancelled before its handler ran
            self.free_slot(entry)

    def free_slot(self, entry: Running) -> None:
        if entry.holds_slot:
            entry.holds_slot = False
            self.per_type[entry.job.type] -= 1
            self.slot_free[entry.job.type].set()

    # -- running one job ------------------------------------------------------------------

    async def execute(self, entry: Running) -> None:
        job = entry.job
        if job.corrupt is not None:  # poison: running it again cannot help
            log.error("pykue: job %s is corrupt (%s); it fails for good", job.id, job.corrupt)
            self.fail(entry, f"corrupt job: {job.corrupt}", "", final=True)
            return
        handler = self.handlers[job.type][0]
        entry.started = True
        try:
            result = await run_handler(
                handler, job, job.ttl, lambda: self.free_slot(entry), self.threads
            )
            encoded = dumps(result, "job result")
            if len(encoded) > self.queue.max_payload:
                raise InvalidJob(
                    f"job result is {len(encoded)} bytes, over the limit of "
                    f"{self.queue.max_payload} (Queue(max_payload=...))"
                )
            policy = encode_remove_policy(job.remove_on_complete)
        except asyncio.CancelledError:
            if entry.lost:
                return  # the lease is gone or the release is the drain's to send
            raise
        except LeaseLost:
            log.warning("pykue: job %s lost its lease while running; dropped", job.id)
            return
        except TTLExceeded as exc:
            self.fail(entry, str(exc), "")
            return
        except Exception as exc:
            self.fail(entry, error_text(exc), trace_text(exc))
            return
        entry.ended = True
        self.acks.complete(job, encoded, policy)
        self.kick_unless_claiming(job.type)

    def kick_unless_claiming(self, job_type: str) -> None:
        if job_type in self.waiting or self.stopping.is_set():
            self.acks.kick()  # no claim is coming to carry the ack

    def fail(self, entry: Running, message: str, trace: str, final: bool = False) -> None:
        """End the attempt as failed, once: retried (after its backoff) while attempts
        remain, unless ``final``. The message and traceback are made storable first (see
        ``runner.cut``), so no handler error can keep the attempt from ending."""
        job = entry.job
        message, trace = cut(message, MAX_ERROR), cut(trace, MAX_TRACE)
        attempt = job.attempts_made + 1
        at = int(time.time() * 1000)
        record = orjson.dumps(
            {"attempt": attempt, "error": message, "traceback": trace, "at": at, "worker": self.id}
        )
        try:
            delay_ms = 0 if final else int(backoff_delay(job.backoff, attempt) * 1000)
        except (TypeError, ValueError, OverflowError):  # a backoff written by hand
            delay_ms = 0
        entry.ended = True
        self.acks.fail(job, message, record, max(0, delay_ms), final)
        # sent now: failures are few, and an attempt cut off by its ttl may hold its
        # slot (a thread that runs on), so no claim would come to carry this one
        self.acks.kick()

    # -- leases, promotions, stalled jobs ------------------------------------------------------

    async def lease_loop(self) -> None:
        """Renew leases on a loop of its own: a call of the maintenance loop stuck on a
        dead connection must not hold a renewal back."""
        await self.every_third_of_lease(self.renew_leases, "renewing leases")

    async def maintenance_loop(self) -> None:
        await self.every_third_of_lease(self.maintain, "maintenance")

    async def every_third_of_lease(self, step: Callable[[], Awaitable[bool]], what: str) -> None:
        """Run ``step`` every lease/3 on a fixed schedule, riding out outages; ``step``
        returns False when it had nothing to ask Redis."""
        period = self.queue.lease / 3
        loop = asyncio.get_running_loop()
        backoff = Backoff()
        while True:
            began = loop.time()
            try:
                if await step():
                    backoff.reset()
                    self.outage.ok()
                await asyncio.sleep(max(0.0, began + period - loop.time()))
            except TRANSIENT as exc:
                self.outage.failed(exc)
                await backoff.sleep()
            except RedisError as exc:
                log.error("pykue: %s failed (%s); retrying", what, exc)
                await backoff.sleep()

    async def maintain(self) -> bool:
        """Promote due delayed jobs and return expired leases' jobs to the queue."""
        await self.scripts.promote(1000)
        await self.scripts.recover_stalled(self.queue.max_stalls, 1000, stalled_record(self.id))
        return True

    async def schedule_loop(self) -> None:
        """Make the jobs of due schedules (schedules.py). Every worker runs this; the
        compare and set of fire_schedule.lua gives each run to one of them. It sleeps
        until the next run is due by Redis's clock, a second at most, so a schedule
        added meanwhile is seen within a second."""
        backoff = Backoff()
        while True:
            try:
                wait = await self.fire_due()
                backoff.reset()
                await asyncio.sleep(wait)
            except TRANSIENT as exc:
                self.outage.failed(exc)
                await backoff.sleep()
            except RedisError as exc:
                log.error("pykue: running schedules failed (%s); retrying", exc)
                await backoff.sleep()

    async def fire_due(self) -> float:
        """Take the due runs of the first schedules by next run; seconds until the next."""
        due = await self.scripts.due_schedules(SCHEDULES_PER_PASS)
        moved = False
        for key, at, raw in due.runs:
            try:
                moved |= await self.fire(key, at, due.now, raw)
            except ResponseError as exc:  # one schedule's error: the others still run
                self.unplannable(key, raw, exc)
        if moved:
            return 0.0  # look again at once: the runs just stored may be the next due
        return max(0.01, min(1.0, (due.next_run - due.now) / 1000)) if due.next_run >= 0 else 1.0

    async def fire(self, key: str, due: int, now: int, raw: bytes | None) -> bool:
        """Take one due run; True if the schedule's next run moved (by this worker or
        another), False for a schedule that cannot be run (it is skipped, not retried
        at once)."""
        spec = read_spec(raw)
        if spec is None:
            return False  # not pykue's (written by hand): fire_schedule.lua would refuse it
        try:
            make, next_run = plan(spec.rule, due, now, spec.catch_up)
        except Exception as exc:  # a rule written by hand that cronsim refuses
            self.unplannable(key, raw, exc)
            return False
        fired, job_id = await self.scripts.fire_schedule(key, spec.version, due, next_run, make)
        if fired is Fired.MADE and job_id:
            log.debug("pykue: schedule %s made job %s", key, job_id)
        elif fired is Fired.MADE:
            log.info("pykue: schedule %s missed runs while no worker ran; none made", key)
        return fired in (Fired.MADE, Fired.TAKEN)

    def unplannable(self, key: str, raw: bytes | None, exc: Exception) -> None:
        """Log, once per stored form, a schedule that cannot be run (written by hand)."""
        if (key, raw) not in self.bad_schedules:
            self.bad_schedules.add((key, raw))
            log.error("pykue: schedule %s cannot be planned (%s); skipped", key, exc)

    async def renew_leases(self) -> bool:
        """Renew the leases of the running attempts and of the undelivered acks; False
        when there were none. The reply names lost leases by their place in the request,
        so it is matched to the attempt it was about (its fencing token), never to a
        newer claim of the job."""
        entries = [e for e in self.running.values() if not e.lost]
        held = self.acks.held()
        if not entries and not held:
            return False
        jobs = [e.job for e in entries] + [item.job for item in held]
        lost = await self.scripts.extend_lease(self.lease_ms, [(j.job_id, j.token) for j in jobs])
        for n in lost:
            if n >= len(entries):
                self.acks.lose(held[n - len(entries)])
                continue
            entry = entries[n]
            if entry.lost or entry.task.done():
                continue
            entry.lost = True  # its ack, if any, is not sent again
            # an ended attempt's ack may have landed before this renewal was read: the
            # lease is then "lost" only because the job moved on, and nothing is cut
            if not entry.ended:
                log.warning("pykue: job %s lost its lease; cancelling its handler", entry.job.id)
                entry.task.cancel()
        return True


def stalled_record(worker: str) -> bytes:
    return orjson.dumps(
        {"attempt": None, "error": "job stalled more than allowable limit", "traceback": "",
         "at": int(time.time() * 1000), "worker": worker}
    )  # fmt: skip
