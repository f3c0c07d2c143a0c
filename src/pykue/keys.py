"""Every Redis key name of a queue, built in one place.

All keys of one queue share the hash tag ``{prefix}`` so that each Lua script
touches a single Redis Cluster slot. Nothing outside this module formats a key.

Layout (``P`` is ``{prefix}``)::

    P:ids                       INCR counter for job ids
    P:job:ID                    hash: the job's fields
    P:job:ID:log                list: job.log() lines
    P:job:ID:errors             list: one JSON object per failed attempt
    P:jobs:STATE                zset: every job in STATE (score: id, or run-at ms for delayed)
    P:jobs:TYPE:STATE           zset: jobs of TYPE in STATE (inactive: priority+id order)
    P:leases                    zset: active job ids by lease deadline (ms, server time)
    P:types                     set: job types ever saved
    P:paused                    set: paused job types
    P:wake:TYPE                 list: wake-up marker for idle workers of TYPE
    P:events                    stream: every event of the queue
    P:unique                    hash: unique key -> job id
    P:save:TOKEN                string 'id:created,...': what the enqueue call with save
                                token TOKEN did to each of its jobs, kept a day
    P:workers                   hash: worker id -> JSON heartbeat
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidName

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
STATES = ("inactive", "active", "complete", "failed", "delayed")


def check_name(kind: str, value: object) -> str:
    """Return ``value`` if it is a valid queue, type or key name; raise InvalidName otherwise."""
    if not isinstance(value, str):
        raise InvalidName(f"{kind} must be a string, got {type(value).__name__}")
    if not NAME_PATTERN.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise InvalidName(
            f"{kind} {shown!r} is invalid: use 1 to 128 characters from A-Z a-z 0-9 _ . : -"
        )
    return value


@dataclass(frozen=True)
class Keys:
    """Key names for the queue with the given prefix."""

    prefix: str

    def __post_init__(self) -> None:
        check_name("prefix", self.prefix)

    @property
    def base(self) -> str:
        return "{" + self.prefix + "}"

    @property
    def ids(self) -> str:
        return f"{self.base}:ids"

    @property
    def leases(self) -> str:
        return f"{self.base}:leases"

    @property
    def types(self) -> str:
        return f"{self.base}:types"

    @property
    def paused(self) -> str:
        return f"{self.base}:paused"

    @property
    def events(self) -> str:
        return f"{self.base}:events"

    @property
    def unique(self) -> str:
        return f"{self.base}:unique"

    @property
    def workers(self) -> str:
        return f"{self.base}:workers"

    @property
    def job_prefix(self) -> str:
        """Prefix that scripts append an id to (``P:job:``) to reach a job's hash."""
        return f"{self.base}:job:"

    def job(self, job_id: int) -> str:
        return f"{self.base}:job:{job_id}"

    def log(self, job_id: int) -> str:
        return f"{self.base}:job:{job_id}:log"

    def errors(self, job_id: int) -> str:
        return f"{self.base}:job:{job_id}:errors"

    def state(self, state: str) -> str:
        return f"{self.base}:jobs:{state}"

    def type_state(self, job_type: str, state: str) -> str:
        return f"{self.base}:jobs:{job_type}:{state}"

    def wake(self, job_type: str) -> str:
        return f"{self.base}:wake:{job_type}"

    def save_token(self, token: str) -> str:
        return f"{self.base}:save:{token}"

    def claim_memo(self, request: str) -> str:
        """The ids one claim call took (claim.lua), so that a resent call takes no more."""
        return f"{self.base}:claim:{request}"

    @property
    def stats(self) -> str:
        """Totals and histograms the scripts keep (work_time, completed, failed, ...)."""
        return f"{self.base}:stats"

    def minute(self, epoch_minute: int) -> str:
        """Outcomes (complete/failed) counted in one minute; expires after two hours."""
        return f"{self.base}:minute:{epoch_minute}"
