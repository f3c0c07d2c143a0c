"""Completion acks, batched: a worker sends the jobs that ended together in one call.

A worker running many short jobs would otherwise spend a round trip (and a pooled
connection) per job. A job that ends frees its slot, and the claim that fills the slot
carries the queued acks in the same round trip, ahead of the claim: the jobs that ended
are complete before new ones start. When no claim is coming (the type's queue is empty,
the worker is stopping) the worker kicks the sender instead, and whatever ends while
its call is on the wire goes in its next one. complete.lua checks each job's fencing
token on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .aio import cancel_all, within_lease
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


class Completions:
    def __init__(self, call: Call, lease: float) -> None:
        self.call = call
        self.lease = lease
        self.pending: list[Completion] = []
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
        reply with ``settled`` (or hands it back with ``put_back``)."""
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        return batch

    def put_back(self, batch: list[Completion]) -> None:
        self.pending[:0] = batch
        self.kick()

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
        if self.pending:
            log.error("pykue: completion of %s not sent; they will run again", ids(self.pending))
            self.pending.clear()

    async def send_pending(self) -> None:
        while self.pending:
            await self.send(self.take())

    async def send(self, batch: list[Completion]) -> None:
        """Send one batch, retrying through outages for a lease (see ``within_lease``)."""
        codes = await within_lease(
            lambda: self.call("complete", *args(batch)), self.lease, f"completion of {ids(batch)}"
        )
        if codes is not None:
            settled(batch, codes)


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
