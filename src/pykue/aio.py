"""asyncio helpers shared by the worker and the event reader."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from redis.exceptions import ClusterDownError, RedisError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("pykue")
T = TypeVar("T")

# Errors that mean "Redis is unreachable for now": ridden out with a Backoff. The
# cluster ones come while a failover moves slots to a promoted replica.
TRANSIENT = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
)


class Backoff:
    """Growing pause between attempts while Redis is unreachable."""

    def __init__(self, first: float = 0.05, cap: float = 2.0) -> None:
        self.first, self.cap, self.current = first, cap, first

    async def sleep(self) -> None:
        await asyncio.sleep(self.current)
        self.current = min(self.current * 2, self.cap)

    def reset(self) -> None:
        self.current = self.first


class Outage:
    """Says once that Redis went away and once that it came back, however many loops
    of one process notice it (each keeps retrying with its own Backoff)."""

    def __init__(
        self,
        who: str,
        lost: str = "cannot reach Redis (%s); retrying until it is back",
        back: str = "reached Redis again, %.1f s after finding it unreachable",
    ) -> None:
        self.who, self.lost, self.back = who, lost, back
        self.since: float | None = None

    def failed(self, exc: BaseException | str) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning(f"pykue: %s {self.lost}", self.who, exc)
        else:
            log.debug(f"pykue: %s still: {self.lost}", self.who, exc)

    def ok(self) -> None:
        if self.since is not None:
            log.warning(f"pykue: %s {self.back}", self.who, time.monotonic() - self.since)
            self.since = None


# Redis refusals that pass by themselves: out of memory under noeviction (OOM), a
# replica not yet promoted (READONLY), a long script (BUSY), a disk error (MISCONF),
# too few replicas (NOREPLICAS, MASTERDOWN). Inside a script Redis 6.2 wraps the code
# ("ERR Error running script ...: -OOM ..."), hence a search, not a prefix match.
FOR_NOW = re.compile(r"\b(OOM|READONLY|BUSY|MISCONF|NOREPLICAS|MASTERDOWN)\b")


def refused_for_now(exc: BaseException) -> bool:
    """True for a Redis error that retrying later can mend (see FOR_NOW)."""
    return isinstance(exc, RedisError) and FOR_NOW.search(str(exc)) is not None


async def while_held(
    call: Callable[[], Awaitable[T]], holding: Callable[[], bool], what: str
) -> T | None:
    """``call()``'s reply, retried through outages and refusals that pass (out of memory,
    see FOR_NOW) for as long as ``holding()`` says the job(s) ``what`` names are still
    this worker's; None once they are not, or for an error retrying cannot mend.

    The worker renews the leases of acks not yet delivered, and a renewal that finds a
    lease lost (the sweep re-queued the job) ends the holding: a finished job's result
    is then sent again until it lands instead of being dropped after a lease and run
    again. An ack resent after it already landed is recognised by its script (same
    fencing token) and answers success.
    """
    backoff = Backoff()
    said = False
    while True:
        try:
            return await call()
        except (*TRANSIENT, RedisError) as exc:
            if not isinstance(exc, TRANSIENT) and not refused_for_now(exc):
                log.error("pykue: %s failed (%s); re-queued when the lease expires", what, exc)
                return None
            if not holding():
                log.warning("pykue: %s not delivered (%s): the lease is lost", what, exc)
                return None
            if not said:
                said = True
                log.warning("pykue: %s waits for Redis (%s); sent again while held", what, exc)
            await backoff.sleep()


def raise_if_cancel_lost() -> None:
    """Raise CancelledError if the current task was cancelled but the cancel got lost.

    asyncio.wait_for (Python 3.11, used inside redis-py) drops a cancellation that lands
    as the awaited call completes: the call returns normally while the task still counts
    the request (``cancelling()``). Call this after Redis I/O and before an unbounded
    wait, or the task waits on, cancelled, forever. (Python 3.10 cannot tell.)
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError


async def cancel_all(tasks: Iterable[asyncio.Task[Any]], every: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until each has ended.

    One cancel is not always enough: a cancellation that lands while the Redis
    client is inside its own read timeout can come out as a timeout error, which a
    loop riding out outages treats as transient and retries. So cancel again until
    the task is really done.
    """
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the owner is closing, the outcome no longer matters
