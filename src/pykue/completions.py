"""Completion acks, batched: a worker sends the jobs that ended together in one call.

A worker running many short jobs would otherwise spend a round trip (and a pooled
connection) per job. A job that ends frees its slot, and the claim that fills the slot
carries the queued acks in the same round trip, ahead of the claim: the jobs that ended
are complete before new ones start. When no claim is coming (the type's queue is empty,
the worker is stopping) the worker kicks the sender instead, and whatever ends while
its call is on the wire goes in its next one. complete.lua checks each job's fencing
token on its own.

An ack that cannot be delivered (Redis away, or out of memory and refusing the result)
is kept and sent again for as long as the job is still this worker's: the worker renews
the leases of the acks it holds (``held``) and drops one only when its renewal finds the
lease lost (``lose``). Dropping it after a lease instead would re-run work that
succeeded and, once the stalls add up, fail it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .aio import cancel_all, while_held
from .errors import JobNotFound, LeaseLost, raise_for_code
from .job import Job

log = logging.getLogger("pykue")
MAX_BATCH = 500  # jobs per script call: bounds how long one call holds Redis

Call = Callable[..., Awaitable[Any]]


@dataclass(eq=False, slots=True)
class Completion:
    job: Job
    result: bytes
    policy: str
    lost: bool = False  # a lease renewal found the job no longer this worker's


class Completions:
    def __init__(self, call: Call) -> None:
        self.call = call
        self.pending: list[Completion] = []
        self.sending: set[Completion] = set()  # taken, reply not yet in
        self.sender: asyncio.Task[None] | None = None

    def complete(self, job: Job, result: bytes, policy: str) -> None:
        """Queue ``job``'s ack as complete: the worker's next claim carries it, or the
        worker kicks the sender when no claim is coming (an idle type, a shutdown)."""
        self.pending.append(Completion(job, result, policy))

    def kick(self) -> None:
        """Send what is queued now, without waiting for a claim."""
        if self.pending and (self.sender is None or self.sender.done()):
            self.sender = asyncio.create_task(self.send_pending(), name="pykue-completions")

    def take(self) -> list[Completion]:
        """The next batch to send, for a caller that sends it with ``args`` and reports the
        reply with ``landed`` (or hands it back with ``put_back``)."""
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        self.sending.update(batch)
        return batch

    def put_back(self, batch: list[Completion]) -> None:
        self.sending.difference_update(batch)
        self.pending[:0] = [item for item in batch if not item.lost]
        self.kick()

    def landed(self, batch: list[Completion], codes: list[Any]) -> None:
        """``batch`` was sent by the caller of ``take`` and answered with ``codes``."""
        self.sending.difference_update(batch)
        settled(batch, codes)

    def held(self) -> list[Completion]:
        """The acks not yet delivered whose jobs' leases the worker must keep renewing."""
        return [*self.pending, *self.sending]

    def lose(self, item: Completion) -> None:
        """``item``'s lease is lost: another worker may run its job now; never send it
        (again). One on the wire may have landed before the renewal was read, which then
        saw the job complete: that is not worth a warning."""
        if item.lost or item not in self.pending:
            item.lost = item.lost or item in self.sending
            return
        item.lost = True
        self.pending.remove(item)
        log.warning(
            "pykue: job %s lost its lease before its completion was delivered; it runs again",
            item.job.id,
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
            log.error("pykue: completion of %s not sent; they will run again", ids(left))
            self.pending.clear()
            self.sending.clear()

    async def send_pending(self) -> None:
        while self.pending:
            await self.send(self.take())

    async def send(self, batch: list[Completion]) -> None:
        """Send one batch, again and again while any of its jobs is still held (see
        ``while_held``); the jobs found lost meanwhile are left out of each resend."""

        def live() -> list[Completion]:
            return [item for item in batch if not item.lost]

        async def attempt() -> tuple[list[Completion], Any]:
            sent = live()
            return sent, (await self.call("complete", *args(sent)) if sent else [])

        try:
            reply = await while_held(attempt, lambda: bool(live()), f"completion of {ids(batch)}")
        finally:
            self.sending.difference_update(batch)
        if reply is not None:
            settled(*reply)


def args(batch: list[Completion]) -> list[str | bytes | int]:
    """complete.lua's arguments for ``batch``."""
    flat: list[str | bytes | int] = []
    for item in batch:
        flat += [item.job.job_id, item.job.token, item.result, item.policy]
    return flat


def settled(batch: list[Completion], codes: list[Any]) -> None:
    """Report complete.lua's answer for ``batch`` (refusals are logged, not raised)."""
    for item, code in zip(batch, codes, strict=True):
        report("complete", item.job, code)


def report(what: str, job: Job, code: Any) -> None:
    """Log an ack script's refusal (the job left this worker's hands); raise other codes."""
    try:
        raise_for_code(int(code), job.id)
    except (LeaseLost, JobNotFound) as exc:
        log.warning("pykue: %s of job %s refused: %s", what, job.id, exc)


def ids(batch: list[Completion]) -> str:
    shown = ", ".join(str(item.job.id) for item in batch[:5])
    return f"job {shown}" if len(batch) == 1 else f"jobs {shown}{', ...' * (len(batch) > 5)}"
