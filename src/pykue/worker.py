"""Worker: claims jobs with leases, runs them within each type's concurrency, acks them.

Per job type, one loop claims as many jobs as there are free slots in a single
script call and, when there is nothing to do, blocks on the type's wake marker
(BLPOP) until a producer or a promotion pushes one, or until the next delayed
job is due. A lease loop renews, every lease/3, the leases of running jobs and of
ended jobs whose acks are not delivered yet; a maintenance loop promotes due delayed
jobs and returns jobs whose lease expired (dead workers) to the queue. Redis outages
are ridden out with backoff; a worker never dies of one, nor of one job it cannot read
(a corrupt hash fails that job for good).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import RedisError

from . import completions
from .aio import TRANSIENT, Backoff, Outage, cancel_all, while_held
from .completions import Completions
from .connection import call_timeout, close_client, finish_closing, streams_of
from .errors import InvalidJob, LeaseLost, shown
from .job import Job, backoff_delay, dumps, encode_remove_policy
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

if TYPE_CHECKING:
    from .queue import Queue

log = logging.getLogger("pykue")
IDLE_BLOCK = 5.0  # longest BLPOP (and at most a lease): a safety net, markers wake workers


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
    def __init__(self, queue: Queue, handlers: dict[str, tuple[Handler, int]]) -> None:
        self.queue = queue
        self.handlers = handlers
        self.id = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_ms = int(queue.lease * 1000)
        self.running: dict[int, Running] = {}
        self.per_type = dict.fromkeys(handlers, 0)
        self.slot_free = {t: asyncio.Event() for t in handlers}
        self.stopping = asyncio.Event()
        self.stopped = asyncio.Event()
        self.loops: list[asyncio.Task[None]] = []
        self.drain_timeout = 10.0
        self.completions = Completions(self.call)
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
        # one thread per slot of the plain-def handlers, so none waits for a thread
        slots = sum(c for handler, c in handlers.values() if not is_async(handler))
        self.threads = ThreadPoolExecutor(max(1, slots), thread_name_prefix="pykue-job")

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        self.blocker = self.queue.new_client()  # BLPOPs hold their connection
        try:
            self.loops = [asyncio.create_task(self.claim_loop(t)) for t in self.handlers]
            self.loops.append(asyncio.create_task(self.lease_loop()))
            self.loops.append(asyncio.create_task(self.maintenance_loop()))
            for loop_task in self.loops:
                loop_task.add_done_callback(self.loop_ended)
            log.info("pykue: worker %s processing %s", self.id, ", ".join(self.handlers))
            await self.stopping.wait()
            await self.drain(self.drain_timeout)
            if self.failure is not None:
                raise self.failure
        finally:
            streams = streams_of(self.blocker, self.queue.client)
            await cancel_all(self.loops)
            await self.completions.close(timeout=0)
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
        for event in self.slot_free.values():
            event.set()  # and so do the ones waiting for a slot

    async def stop(self, timeout: float) -> None:
        self.drain_timeout = timeout
        self.request_stop()
        await self.stopped.wait()

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
        # each release is retried until it lands or the wait below gives up on it
        releases = [asyncio.ensure_future(self.ack(e.job, "release")) for e in unfinished]
        if releases:
            _, late = await asyncio.wait(releases, timeout=left(1.0))
            await cancel_all(late)
            if late:
                log.error(
                    "pykue: %d running jobs not handed back; they run again when their "
                    "leases expire",
                    len(late),
                )
        await self.completions.close(timeout=left(1.0))

    # -- claiming ------------------------------------------------------------------------

    async def call(self, script: str, *args: str | bytes | int | float) -> Any:
        return await self.queue.call(script, *args)

    async def claim_loop(self, job_type: str) -> None:
        concurrency = self.handlers[job_type][1]
        wake_key = self.queue.keys.wake(job_type)
        backoff = Backoff()
        while not self.stopping.is_set():
            try:
                free = concurrency - self.per_type[job_type]
                if free <= 0:
                    # acks queued during the last claim must not wait for a slot to free
                    self.completions.kick()
                    # waited on directly (request_stop sets it too): the slot wait is on
                    # the path from one job's end to the next one's claim
                    self.slot_free[job_type].clear()
                    await self.slot_free[job_type].wait()
                    continue
                reply = await self.claim(job_type, free)
                now, next_run, status = int(reply[0]), int(reply[1]), reply[2]
                for claimed in reply[3:]:
                    self.start(job_type, claimed)
                self.outage.ok()
                if isinstance(status, bytes):  # out of memory...: nothing was claimed
                    self.refusal.failed(status.decode(errors="replace"))
                    await self.idle(job_type, backoff.sleep())
                    continue
                backoff.reset()
                self.refusal.ok()
                if len(reply) > 3 or self.stopping.is_set():
                    continue
                if 0 <= next_run <= now:
                    await self.call("promote", 1000)
                    continue
                block = min(IDLE_BLOCK, self.queue.lease)
                wait = block if next_run < 0 or status else min(block, (next_run - now) / 1000)
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
        return await asyncio.wait_for(self.blocker.blpop([wake_key], timeout=wait), limit)

    async def claim(self, job_type: str, count: int) -> Any:
        """Claim up to ``count`` jobs, sending the queued completion acks first in the same
        round trip: jobs that ended are complete before new ones start, so events and
        indexes keep the order the work happened in.

        A claim that ran is honoured even when its reply is lost or the acks sent with
        it erred: its request id is kept and the next claim resends it, and claim.lua
        answers a resent id with the jobs the first call took."""
        await self.completions.settle()
        rid = self.unanswered.pop(job_type, None) or uuid.uuid4().hex
        claim = ("claim", (job_type, count, self.id, self.lease_ms, rid))
        acks = self.completions.take()
        try:
            if not acks:
                return await self.call(claim[0], *claim[1])
            codes, reply = await self.queue.call_many(
                ("complete", completions.args(acks)), claim, raise_on_error=False
            )
        except BaseException:
            self.unanswered[job_type] = rid
            if acks:
                self.completions.put_back(acks)  # resent by the sender; acks are idempotent
            raise
        if isinstance(codes, Exception):  # e.g. out of memory: resent while the jobs are held
            self.completions.put_back(acks)
        else:
            self.completions.landed(acks, codes)
        if isinstance(reply, Exception):
            self.unanswered[job_type] = rid
            raise reply
        return reply

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
        self.completions.kick()  # acks queued for the claim that is not coming now
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

    def start(self, job_type: str, claimed: Any) -> None:
        """Run one claimed job (``[id, HGETALL]`` from claim.lua). Whatever its hash holds,
        this does not raise: a job that cannot be read runs as corrupt (failed for good,
        see ``execute``) and the claim loop goes on with the next."""
        try:
            job_id, flat = int(claimed[0]), claimed[1]
        except Exception:
            log.error("pykue: claimed an unreadable job id %s; left to its lease", shown(claimed))
            return
        try:
            job = self.read(job_type, job_id, flat)
        except Exception as exc:  # whatever from_hash cannot take: fail this job, not the loop
            job = Job.from_hash(self.queue, job_id, {b"type": job_type.encode()})
            job.token = token_of(flat)
            job.corrupt = f"it could not be read ({type(exc).__name__}: {error_text(exc)})"
        entry = self.running[job_id] = Running(job)
        self.per_type[job_type] += 1
        entry.task = asyncio.create_task(self.execute(entry), name=f"pykue-job-{job_id}")
        entry.task.add_done_callback(lambda _: self.finished(entry))

    def read(self, job_type: str, job_id: int, flat: list[bytes]) -> Job:
        job = Job.from_hash(self.queue, job_id, dict(zip(flat[::2], flat[1::2], strict=True)))
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
            await self.fail(entry, f"corrupt job: {job.corrupt}", "", final=True)
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
            entry.ended = True
            await self.fail(entry, str(exc), "")
            return
        except Exception as exc:
            entry.ended = True
            await self.fail(entry, error_text(exc), trace_text(exc))
            return
        self.completions.complete(job, encoded, policy)
        if job.type in self.waiting or self.stopping.is_set():
            self.completions.kick()  # no claim is coming to carry the ack

    async def fail(self, entry: Running, message: str, trace: str, final: bool = False) -> None:
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
        args = (message, record, max(0, delay_ms), int(final))
        await self.ack(job, "fail", *args, holding=lambda: not entry.lost)

    async def ack(
        self,
        job: Job,
        what: str,
        *args: str | bytes | int,
        holding: Callable[[], bool] = lambda: True,
    ) -> None:
        """Send ack script ``what`` (job id, token, *args), sent again through outages and
        passing refusals while ``holding()`` (the lease renewals did not find it lost)."""
        reply = await while_held(
            lambda: self.call(what, job.job_id, job.token, *args),
            holding,
            f"{what} of job {job.id}",
        )
        if reply is not None:
            completions.report(what, job, reply[0])

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
        await self.call("promote", 1000)
        await self.call("recover_stalled", self.queue.max_stalls, 1000, stalled_record(self.id))
        return True

    async def renew_leases(self) -> bool:
        """Renew the leases of the running attempts and of the undelivered acks; False
        when there were none. The reply names lost leases by their place in the request,
        so it is matched to the attempt it was about (its fencing token), never to a
        newer claim of the job."""
        entries = [e for e in self.running.values() if not e.lost]
        held = self.completions.held()
        if not entries and not held:
            return False
        pairs: list[int] = []
        for job in [e.job for e in entries] + [c.job for c in held]:
            pairs += [job.job_id, job.token]
        lost = await self.call("extend_lease", self.lease_ms, *pairs)
        for raw in lost:
            n = int(raw) - 1
            if n >= len(entries):
                self.completions.lose(held[n - len(entries)])
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


def token_of(flat: list[bytes]) -> int:
    """The fencing token claim.lua wrote into a job's fields (the last 'token' of the
    flat HGETALL); 0 if even that cannot be read."""
    try:
        tokens = [flat[i + 1] for i in range(0, len(flat) - 1, 2) if flat[i] == b"token"]
        return int(tokens[-1])
    except (IndexError, TypeError, ValueError):
        return 0
