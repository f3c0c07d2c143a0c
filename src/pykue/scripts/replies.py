"""What the scripts take and answer, typed: the only code that reads a script's reply
by position. Each reader is as lenient as the callers were: a reply Redis built from a
hash written by hand must not stop a worker.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidJob, raise_for_code, shown
from ..flows import MAX_DEPENDENTS, MAX_DEPTH
from ..job import JobState

log = logging.getLogger("pykue")


# -- arguments ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Complete:
    """One completion (complete.lua): the attempt under fencing ``token`` returned
    ``result`` (JSON); ``policy``: its retention ('' keep, 'all', 'count:N', 'age:MS')."""

    id: int
    token: int
    result: bytes
    policy: str


@dataclass(frozen=True, slots=True)
class Fail:
    """One failed attempt (fail.lua): retried after ``delay_ms`` while attempts remain,
    unless ``final``; ``record``: the error record (JSON) kept with the job."""

    id: int
    token: int
    message: str
    record: bytes
    delay_ms: int
    final: bool


@dataclass(frozen=True, slots=True)
class Release:
    """One unfinished job handed back (release.lua), e.g. by a worker shutting down."""

    id: int
    token: int


AckCall = Complete | Fail | Release


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """One claim (claim.lua): ``request`` names the call, so that the same request sent
    again answers with the jobs the first one took instead of taking more."""

    job_type: str
    count: int
    worker: str
    lease_ms: int
    request: str


# -- replies -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Saved:
    """One job of an enqueue call, in the call's order. ``event``: the stream id of its
    enqueue event, None when this call did not just create it (a unique key matched, or
    the call was answered from its save token)."""

    id: int
    event: str | None
    created: bool
    debounced: bool = False  # a pending job of its debounce key took its data instead
    state: JobState | None = None  # a job just created: the state it was stored in
    pending: int = 0  # a job just created: its dependencies not done


@dataclass(frozen=True, slots=True)
class Enqueued:
    saved: list[Saved]
    replicas: int | None  # replicas that acked the write (WAIT's reply); None: not asked


@dataclass(frozen=True, slots=True)
class Claimed:
    """One job a claim took."""

    id: int
    fields: dict[bytes, bytes] | None  # its hash; None when the reply cannot be paired
    token: int  # the fencing token claim.lua wrote (0 if unreadable)
    outcomes: dict[bytes, bytes] | None = None  # its deps hash, for a job with dependencies


@dataclass(frozen=True, slots=True)
class Claim:
    now: int  # Redis's clock (ms)
    next_run: int  # run-at (ms) of the first delayed job; -1: none
    paused: bool
    refused: str | None  # Redis's error when it refuses writes (out of memory...): no jobs
    jobs: list[Claimed]
    retry_at: int = -1  # when the type's rate window admits a start again (ms); -1: not held


class FailOutcome(enum.Enum):
    RETRIED = 0  # attempts remain: the job waits (delayed or inactive) to run again
    FAILED = 1  # failed for good
    ALREADY = 2  # this claim's failure was recorded before (the call was resent)


@dataclass(frozen=True, slots=True)
class Promoted:
    moved: int
    next_run: int  # run-at (ms) of the first job still delayed; -1: none


@dataclass(frozen=True, slots=True)
class Recovered:
    requeued: int
    failed: int  # stalled too often: failed for good


@dataclass(frozen=True, slots=True)
class Due:
    """The schedules whose run has come, by Redis's clock ``now`` (ms)."""

    now: int
    next_run: int  # the run of the first schedule not yet due (ms); -1: none
    runs: list[tuple[str, int, bytes | None]]  # key, its run (ms), its stored form


class Fired(enum.Enum):
    """What fire_schedule.lua did with a due run."""

    MADE = 1  # the run was taken: its job made (or skipped, as planned), next run stored
    EARLY = 0  # not due yet by Redis's clock
    TAKEN = -1  # another worker took the run, or the schedule changed or went
    UNREADABLE = -2  # its stored form is not pykue's


@dataclass(frozen=True, slots=True)
class Sent:
    """What one round trip of acks (and maybe a claim) got back: per ack, in the order
    given, its code (complete: 0, -1, -2; fail: 0, 1, 2, -1, -2; release: 0, -1, -2) or
    the error Redis answered its script with; the claim's reply or error (None: none
    was sent)."""

    codes: list[int | BaseException]
    claim: Claim | BaseException | None


# -- codes -------------------------------------------------------------------------------


def checked(reply: Any, job_id: int) -> int:
    """A ``{code, ...}`` reply's code, raised through the errors table if negative."""
    code = int(reply[0])
    detail = ""
    if code < 0 and len(reply) > 1 and isinstance(reply[1], bytes):
        detail = reply[1].decode(errors="replace")
    raise_for_code(code, job_id, detail)
    return code


# -- readers -----------------------------------------------------------------------------


def saved(reply: Sequence[Any]) -> list[Saved]:
    """enqueue.lua's ``{id, event id or '', created, state, pending}`` per job, flattened; its
    ``{code, id}`` refusal of a bad dependency raised as InvalidJob."""
    if len(reply) == 2 and int(reply[0]) < 0:
        code, dep = int(reply[0]), int(reply[1])
        if code == ERR_DEPENDENCY:
            raise InvalidJob(
                f"dependency {dep} not found (it must exist when its dependent is saved)"
            )
        if code == ERR_DEPENDENTS:
            raise InvalidJob(
                f"job {dep} would have more than {MAX_DEPENDENTS} dependents (jobs waiting "
                "for it): the call that ends it updates each one"
            )
        raise InvalidJob(f"dependencies nest deeper than {MAX_DEPTH} levels")
    parts = []
    for i in range(0, len(reply) - 4, 5):
        event = reply[i + 1]
        text = event.decode() if isinstance(event, bytes) else str(event or "")
        code = int(reply[i + 2])
        state = STATE_OF.get(reply[i + 3].decode() if isinstance(reply[i + 3], bytes) else "")
        pending = int(reply[i + 4])
        parts.append(Saved(int(reply[i]), text or None, code == 1, code == 2, state, pending))
    return parts


STATE_OF = {state.value: state for state in JobState}
ERR_DEPENDENCY = -5  # enqueue.lua: a dependency id names no job
ERR_DEPTH = -6  # enqueue.lua: dependencies nest deeper than MAX_DEPTH
ERR_DEPENDENTS = -7  # enqueue.lua: a job would get more than MAX_DEPENDENTS dependents


def token_of(flat: Any) -> int:
    """The fencing token claim.lua wrote into a job's fields (the last 'token' of the
    flat HGETALL); 0 if even that cannot be read."""
    try:
        tokens = [flat[i + 1] for i in range(0, len(flat) - 1, 2) if flat[i] == b"token"]
        return int(tokens[-1])
    except (IndexError, TypeError, ValueError):
        return 0


def paired(flat: Any) -> dict[bytes, bytes] | None:
    """A flat HGETALL as a dict (the last value of a field repeated wins: claim.lua
    appends the fields it wrote); None if it is no list of bytes pairs."""
    if not isinstance(flat, list) or len(flat) % 2:
        return None
    if not all(isinstance(item, bytes) for item in flat):
        return None
    return dict(zip(flat[0::2], flat[1::2], strict=True))


def claim(reply: Sequence[Any]) -> Claim:
    """claim.lua's ``{now, next run, status, retry at, {id, HGETALL[, deps HGETALL]}...}``.
    A job whose id cannot be read is left out (its lease expires and it runs again), with
    an error logged."""
    status = reply[2]
    refused = status.decode(errors="replace") if isinstance(status, bytes) else None
    jobs = []
    for entry in reply[4:]:
        try:
            job_id, flat = int(entry[0]), entry[1]
        except Exception:
            log.error("pykue: claimed an unreadable job id %s; left to its lease", shown(entry))
            continue
        outcomes = paired(entry[2]) if len(entry) > 2 else None
        jobs.append(Claimed(job_id, paired(flat), token_of(flat), outcomes))
    return Claim(
        now=int(reply[0]),
        next_run=int(reply[1]),
        paused=refused is None and status == 1,
        refused=refused,
        jobs=jobs,
        retry_at=int(reply[3]),
    )


def args_of(call: AckCall) -> tuple[str, list[str | bytes | int]]:
    """The script and arguments of one ack (a Complete alone: see ``Scripts.send``)."""
    if isinstance(call, Complete):
        return "complete", [call.id, call.token, call.result, call.policy]
    if isinstance(call, Fail):
        args: list[str | bytes | int] = [call.id, call.token, call.message, call.record]
        return "fail", [*args, call.delay_ms, int(call.final)]
    return "release", [call.id, call.token]


def due(reply: Sequence[Any]) -> Due:
    """due_schedules.lua's ``{now, next run, key, run, stored form...}``."""
    runs = []
    for i in range(2, len(reply) - 2, 3):
        key, spec = reply[i], reply[i + 2]
        runs.append(
            (
                key.decode(errors="replace") if isinstance(key, bytes) else str(key),
                int(reply[i + 1]),
                spec if isinstance(spec, bytes) else None,
            )
        )
    return Due(int(reply[0]), int(reply[1]), runs)
