"""pykue's exceptions: one tree, the one table that maps Lua return codes to it,
``shown()``, how a refused value appears in a message, and the number checks that
refuse with it.

::

    PykueError                    base of everything pykue raises
    ├── ConnectionFailed          Redis could not be reached or stopped answering (message says
    │                             how to configure one); raw redis-py errors never escape
    ├── UsageError                (also RuntimeError) a call made where it cannot work (a second
    │   │                         run() of a running queue, a blocking sync call from a callback)
    │   └── NotConnected          a call that needs a connected queue came before connect()
    ├── ServerRefused             Redis answered with an error (out of memory, read-only replica...)
    ├── InvalidArgument           (also ValueError) an argument is not acceptable: nothing written
    │   └── InvalidJob            job data or options are not acceptable
    │       └── InvalidName       a queue, type or unique name breaks the naming rule
    ├── JobNotFound               (also KeyError) no job with that id
    ├── ScheduleNotFound          (also KeyError) no schedule with that key
    ├── InvalidState              the job is not in a state that allows the operation
    ├── LeaseLost                 a worker acted on a job it no longer owns (fencing token)
    ├── JobFailed                 job.wait() on a job that failed; .error holds its message
    ├── JobTimeout                (also TimeoutError) job.wait() ran out of time
    └── NotReplicated             a durable save reached fewer replicas than asked in time
"""

from __future__ import annotations

from typing import NoReturn


class PykueError(Exception):
    """Base class of every exception pykue raises."""


class ConnectionFailed(PykueError):
    """Raised when no Redis server can be reached or started."""


class UsageError(PykueError, RuntimeError):
    """Raised by a call made where it cannot work: ``run()`` on a queue already running,
    a blocking ``pykue.sync`` call from one of its own event callbacks."""


class NotConnected(UsageError):
    """Raised by a call that needs a connected queue: ``await queue.connect()`` first."""


class ServerRefused(PykueError):
    """Raised when Redis answers a call with an error rather than a result: out of memory
    under ``noeviction``, a read-only replica after a failover, a script that is busy...
    Nothing changed; the call may succeed later."""


class InvalidArgument(PykueError, ValueError):
    """Raised when an argument (an id, an order, a range, a concurrency...) is not
    acceptable; nothing was written."""


class InvalidJob(InvalidArgument):
    """Raised when job data or options are invalid; nothing was written."""


class InvalidName(InvalidJob):
    """Raised when a prefix, type or unique key is not 1-128 of ``[A-Za-z0-9_.:-]``."""


class JobNotFound(PykueError, KeyError):
    """Raised when no job has the given id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "job not found"


class ScheduleNotFound(PykueError, KeyError):
    """Raised when no schedule has the given key."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "schedule not found"


class InvalidState(PykueError):
    """Raised when a job's state does not allow the operation (e.g. retrying an active job)."""


class LeaseLost(PykueError):
    """Raised when a worker acts on a job whose lease it lost (stalled, removed or re-run)."""


class JobFailed(PykueError):
    """Raised by ``job.wait()`` when the job failed for good."""

    def __init__(self, job_id: int | None, error: str) -> None:
        super().__init__(f"job {job_id} failed: {error}")
        self.job_id = job_id
        self.error = error


class JobTimeout(PykueError, TimeoutError):
    """Raised by ``job.wait()`` when the timeout passes before the job finishes."""


class NotReplicated(PykueError):
    """Raised by a durable save (``Queue(replicas=N)``) when fewer than N replicas
    confirmed the write in time. The job is on the master but a failover now could lose
    it; calling ``save()`` again is safe (the same job comes back) and waits again."""


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for an error message, at most ``limit`` characters: a refused value
    may be megabytes long, and an int of over 4,300 digits cannot be printed at all
    (Python raises ValueError), so such an int is shown by its size."""
    if isinstance(value, int) and value.bit_length() > 200:
        sign = "a negative" if value < 0 else "an"
        return f"{sign} int of about {round(value.bit_length() * 0.30103)} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_INDEX = 2**53  # job ids and list positions stay below it (exact in a double, and in Redis)


def check_id(job_id: object) -> int:
    """``job_id`` if it is a job id (an int from 1 to 2**53 - 1); else InvalidArgument."""
    if isinstance(job_id, bool) or not isinstance(job_id, int) or not 0 < job_id < MAX_INDEX:
        raise InvalidArgument(f"job id must be a positive int, got {shown(job_id)}")
    return job_id


def check_int(name: str, value: object, low: int, high: int, high_text: str = "") -> int:
    """``value`` if it is an int (not a bool) from ``low`` to ``high``; else
    InvalidArgument saying so (``high_text``: how the message writes ``high``)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(
            f"{name} must be an int from {low} to {high_text or high}, got {shown(value)}"
        )
    return value


def check_seconds(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float if it is a number (not a bool) of seconds from ``low`` to
    ``high`` (NaN is refused too); else InvalidArgument saying so."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be {low} to {high} seconds, got {shown(value)}")
    return float(value)


# Negative integers returned by the Lua scripts. Scripts return {code, ...}.
ERR_NOT_FOUND = -1
ERR_LEASE_LOST = -2
ERR_STATE = -3
ERR_WAITED_FOR = -4  # remove.lua: jobs wait for it (detail: their ids)


def raise_for_code(code: int, job_id: int | None, detail: str = "") -> None:
    """Raise the exception a script's negative return code stands for; do nothing if >= 0."""
    if code >= 0:
        return
    where = f"job {job_id}"
    if code == ERR_NOT_FOUND:
        raise JobNotFound(f"{where} not found")
    if code == ERR_LEASE_LOST:
        raise LeaseLost(f"{where}: lease lost, another worker owns it or it left 'active'")
    if code == ERR_STATE:
        raise InvalidState(f"{where} is {detail or 'in another state'}")
    if code == ERR_WAITED_FOR:
        raise InvalidState(
            f"{where} is waited for by jobs {detail}: remove(force=True) removes it and fails them"
        )
    raise PykueError(f"{where}: unexpected script result {code}")


def error_for_code(code: int, job_id: int | None, detail: str = "") -> PykueError | None:
    """The exception ``raise_for_code`` would raise for ``code`` (None for a code >= 0),
    for a caller that reports codes one by one instead of raising (a batch of acks)."""
    try:
        raise_for_code(code, job_id, detail)
    except PykueError as exc:
        return exc
    return None


def require_extra(exc: ImportError, part: str, extra: str) -> NoReturn:
    """Raise, from an ``except ImportError`` in ``part``, an ImportError naming the extra
    that installs what is missing; ``exc`` itself when the missing module is pykue's own
    (a broken install, not a missing extra)."""
    if (exc.name or "pykue").partition(".")[0] == "pykue":
        raise exc
    raise ImportError(
        f"{part} needs the '{extra}' extra: pip install 'pykue[{extra}]' ({exc})", name=exc.name
    ) from exc
