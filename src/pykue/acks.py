"""Acks: how a worker tells Redis an attempt ended (complete, fail, release), batched.

One object owns the three. A worker running many short jobs would otherwise spend a
round trip (and a pooled connection) per job: an attempt that ends queues its ack and
frees its slot, and the claim that fills the slot carries the queued acks in the same
round trip, ahead of the claim, so the jobs that ended have moved on before new ones
start (``claim``). When no claim is coming (the type's queue is empty, the worker is
stopping) the worker kicks the sender instead, and whatever ends while its call is on
the wire goes in its next one. Each script checks each job's fencing token on its own,
so an ack sent twice lands once.

An ack that cannot be delivered (Redis away, or out of memory and refusing the write)
is kept and sent again for as long as the job is still this worker's: the worker renews
the leases of the acks it holds (``held``) and drops one only when its renewal finds the
lease lost (``lose``). Dropping it after a lease instead would re-run work that
succeeded and, once the stalls add up, fail it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from .aio import cancel_all, while_held
from .errors import JobNotFound, LeaseLost, PykueError, error_for_code
from .job import Job
from .scripts import AckCall, Claim, ClaimRequest, Complete, Fail, Release, Scripts

log = logging.getLogger("pykue")
MAX_BATCH = 500  # acks per round trip: bounds how long one call holds Redis


@dataclass(eq=False, slots=True)
class Pending:
    """One ack not yet delivered."""

    job: Job
    call: AckCall
    lost: bool = False  # a lease renewal found the job no longer this worker's


class Acks:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts
        self.pending: list[Pending] = []
        self.sending: set[Pending] = set()  # taken, reply not yet in
        self.sender: asyncio.Task[None] | None = None

    # -- queueing ------------------------------------------------------------------

    def complete(self, job: Job, result: bytes, policy: str) -> None:
        """The attempt returned ``result`` (JSON); ``policy``: its retention."""
        self._queue(job, Complete(job.job_id, job.token, result, policy))

    def fail(self, job: Job, message: str, record: bytes, delay_ms: int, final: bool) -> None:
        """The attempt failed: retried after ``delay_ms`` while attempts remain, unless
        ``final``. ``record``: the error record (JSON) kept with the job."""
        self._queue(job, Fail(job.job_id, job.token, message, record, delay_ms, final))

    def release(self, job: Job) -> None:
        """Hand an unfinished job back to the queue (a worker shutting down)."""
        self._queue(job, Release(job.job_id, job.token))

    def _queue(self, job: Job, call: AckCall) -> None:
        self.pending.append(Pending(job, call))

    # -- sending -------------------------------------------------------------------

    def kick(self) -> None:
        """Send what is queued now, without waiting for a claim."""
        if self.pending and (self.sender is None or self.sender.done()):
            self.sender = asyncio.create_task(self._send_pending(), name="pykue-acks")

    async def claim(self, request: ClaimRequest) -> Claim:
        """Claim as ``request`` says, with the queued acks ahead of it in the same round
        trip. An ack that errs (out of memory...) is kept and sent again; the claim's own
        error is raised, and the acks' fate is settled either way before this returns."""
        await self.settle()
        batch = self._take()
        try:
            sent = await self.scripts.send(calls(batch), request)
        except BaseException:
            self._put_back(batch)  # resent by the sender; acks are idempotent
            raise
        erred = self._landed(batch, sent.codes)
        if erred:
            self._put_back(erred)
        if isinstance(sent.claim, BaseException):
            raise sent.claim
        assert sent.claim is not None
        return sent.claim

    def held(self) -> list[Pending]:
        """The acks not yet delivered, whose jobs' leases the worker must keep renewing."""
        return [*self.pending, *self.sending]

    def lose(self, item: Pending) -> None:
        """``item``'s lease is lost: another worker may run its job now; never send it
        (again). One on the wire may have landed before the renewal was read, which then
        saw the job move on: that is not worth a warning."""
        if item.lost or item not in self.pending:
            item.lost = item.lost or item in self.sending
            return
        item.lost = True
        self.pending.remove(item)
        log.warning(
            "pykue: job %s lost its lease before its %s was delivered; it runs again",
            item.job.id,
            what(item),
        )

    async def settle(self) -> None:
        """Return once the sender's batch on the wire (if any) has landed or been given up."""
        if self.sender is not None and not self.sender.done():
            await asyncio.shield(self.sender)  # a cancelled waiter must not stop the sender

    async def close(self, timeout: float) -> None:
        """Give the queued acks up to ``timeout`` s to land; drop the rest (their jobs'
        leases expire and they run again)."""
        self.kick()
        if self.sender is not None:
            await asyncio.wait([self.sender], timeout=timeout)
            await cancel_all([self.sender])
        left = self.held()
        if left:
            log.error("pykue: acks of %s not sent; they will run again", ids(left))
            self.pending.clear()
            self.sending.clear()

    def _take(self) -> list[Pending]:
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        self.sending.update(batch)
        return batch

    def _put_back(self, batch: list[Pending]) -> None:
        self.sending.difference_update(batch)
        self.pending[:0] = [item for item in batch if not item.lost]
        self.kick()

    def _landed(self, batch: list[Pending], codes: list[int | BaseException]) -> list[Pending]:
        """``batch`` was answered with ``codes``: report each answer; the acks whose script
        erred (to be sent again) are returned."""
        self.sending.difference_update(batch)
        erred = []
        for item, code in zip(batch, codes, strict=True):
            if isinstance(code, BaseException):
                erred.append(item)
            else:
                report(item, code)
        return erred

    async def _send_pending(self) -> None:
        while self.pending:
            await self._send(self._take())

    async def _send(self, batch: list[Pending]) -> None:
        """Send one batch, again and again while any of its jobs is still held (see
        ``while_held``); those found lost meanwhile, and those that landed, are left out
        of each resend."""
        left = list(batch)

        async def attempt() -> None:
            nonlocal left
            left = [item for item in left if not item.lost]
            sent = await self.scripts.send(calls(left), None)
            left = self._landed(left, sent.codes)
            self.sending.update(left)  # sent again by this loop
            for code in sent.codes:
                if isinstance(code, BaseException):
                    raise code  # while_held rides out what Redis refuses for now

        def holding() -> bool:
            return any(not item.lost for item in left)

        try:
            await while_held(attempt, holding, f"acks of {ids(batch)}")
        finally:
            self.sending.difference_update(batch)


def calls(batch: list[Pending]) -> list[AckCall]:
    return [item.call for item in batch]


def what(item: Pending) -> str:
    return {Complete: "completion", Fail: "failure", Release: "release"}[type(item.call)]


def report(item: Pending, code: int) -> None:
    """Log an ack's refusal (the job left this worker's hands); raise other errors."""
    error: PykueError | None = error_for_code(code, item.job.id)
    if isinstance(error, LeaseLost | JobNotFound):
        log.warning("pykue: %s of job %s refused: %s", what(item), item.job.id, error)
    elif error is not None:
        raise error


def ids(batch: list[Pending]) -> str:
    shown = ", ".join(str(item.job.id) for item in batch[:5])
    return f"job {shown}" if len(batch) == 1 else f"jobs {shown}{', ...' * (len(batch) > 5)}"
