"""Completion acks, batched: the jobs that finish while one ack is in flight go in the next.

A worker running many short jobs would otherwise spend a round trip (and a pooled
connection) per job. The first completion is sent at once, so a lone job is not held
back; those that end while it is on the wire go together in the next call of
complete.lua, which checks each job's fencing token on its own. Handlers do not wait
for their ack: a job's slot is free once its handler returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from .aio import TRANSIENT, Backoff, cancel_all
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
        """Queue ``job``'s ack as complete; it is sent as soon as the previous call returns."""
        self.pending.append(Completion(job, result, policy))
        if self.sender is None or self.sender.done():
            self.sender = asyncio.create_task(self.send_pending(), name="pykue-completions")

    async def close(self, timeout: float) -> None:
        """Give the queued acks up to ``timeout`` s to land; drop the rest (their jobs'
        leases expire and they run again)."""
        if self.sender is not None:
            await asyncio.wait([self.sender], timeout=timeout)
            await cancel_all([self.sender])
        if self.pending:
            log.error("pykue: completion of %s not sent; they will run again", ids(self.pending))
            self.pending.clear()

    async def send_pending(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            await self.send(batch)

    async def send(self, batch: list[Completion]) -> None:
        """Send one batch, retrying through outages for a lease.

        Past that the leases have expired and the sweep has re-queued the jobs, so giving
        up keeps at-least-once. A resent call whose first try already landed is answered
        with success by the script (same fencing tokens)."""
        args: list[str | bytes | int] = []
        for item in batch:
            args += [item.job.job_id, item.job.token, item.result, item.policy]
        deadline = time.monotonic() + self.lease
        backoff = Backoff()
        while True:
            try:
                codes = await self.call("complete", *args)
                break
            except TRANSIENT as exc:
                if time.monotonic() > deadline:
                    log.error("pykue: completion of %s not delivered (%s); they will run again",
                              ids(batch), exc)  # fmt: skip
                    return
                await backoff.sleep()
            except RedisError as exc:
                log.error("pykue: completion of %s failed (%s); they will run again",
                          ids(batch), exc)  # fmt: skip
                return
        for item, code in zip(batch, codes, strict=True):
            try:
                raise_for_code(int(code), item.job.id)
            except (LeaseLost, JobNotFound) as exc:
                log.warning("pykue: complete of job %s refused: %s", item.job.id, exc)


def ids(batch: list[Completion]) -> str:
    shown = ", ".join(str(item.job.id) for item in batch[:5])
    return f"job {shown}" if len(batch) == 1 else f"jobs {shown}{', ...' * (len(batch) > 5)}"
