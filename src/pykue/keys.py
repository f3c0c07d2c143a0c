"""Every Redis key name of a queue, built in one place.

All keys of one queue share the hash tag ``{prefix}`` so that each Lua script
touches a single Redis Cluster slot. Nothing outside this module formats a key.

Layout (``P`` is ``{prefix}``)::

    P:ids                       INCR counter for job ids
    P:job:ID                    hash: the job's fields
    P:job:ID:log                list: job.log() lines
    P:job:ID:errors             list: one JSON object per failed attempt
    P:job:ID:deps               hash: dependency id -> its outcome as this job recorded it
                                (flows.OUTCOMES: a tag, then the result or error)
    P:job:ID:dependents         set: ids of the jobs that depend on ID
    P:jobs:STATE                zset: every job in STATE (score: id, or run-at ms for delayed)
    P:jobs:TYPE:STATE           zset: jobs of TYPE in STATE (inactive: priority+id order)
    P:all                       zset: every job, whatever its state (score: id), for paging
    P:all:TYPE                  zset: every job of TYPE (score: id)
    P:leases                    zset: active job ids by lease deadline (ms, server time)
    P:types                     set: job types ever saved
    P:paused                    set: paused job types
    P:wake:TYPE                 list: wake-up marker for idle workers of TYPE
    P:events                    stream: every event of the queue
    P:unique                    hash: unique key -> job id
    P:save:TOKEN                string 'id:created,...': what the enqueue call with save
                                token TOKEN did to each of its jobs, kept a day
    P:claim:REQUEST             list: the ids one claim call took (claim.lua only), so
                                that the call resent takes no more; kept a lease
    P:stats                     hash: totals and histograms the scripts count
    P:minute:N                  hash: outcomes counted in epoch minute N; expire in two hours
    P:workers                   hash: worker id -> JSON heartbeat
    P:debounce                  hash: debounce key -> id of the job it holds back
    P:limits                    hash: job type -> JSON of its limits (limits.py)
    P:rate:TYPE                 zset: starts of TYPE in the rate window (score: ms)
    P:rate:TYPE|KEY             zset: starts of TYPE with limit key KEY in its window
    P:limited:TYPE              string, expiring when TYPE's rate window admits again:
                                while it exists, new jobs wake no worker of TYPE
    P:schedules                 hash: schedule key -> JSON of its rule and job (schedules.py)
    P:schedules:due             zset: schedule key -> its next run (ms, server time)
    P:schedules:runs            hash: schedule key -> 'last run ms:last job id'

``LAYOUT`` is this list as data: ``Keys`` builds names from it, and ``pykue.scripts``
writes the Lua scripts' key names from it when it loads them, so no script spells a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter

from .errors import InvalidName

NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
STATES = ("inactive", "active", "complete", "failed", "delayed", "waiting")

# Each key's name after the queue's base ("{prefix}"); ``{name}`` stands for an argument.
# Argument names are the Lua scripts' parameter names too (``jtype``: ``type`` is a Lua
# builtin).
LAYOUT: dict[str, str] = {
    "ids": ":ids",
    "job": ":job:{id}",
    "log": ":job:{id}:log",
    "errors": ":job:{id}:errors",
    "deps": ":job:{id}:deps",
    "dependents": ":job:{id}:dependents",
    "state": ":jobs:{state}",
    "type_state": ":jobs:{jtype}:{state}",
    # not P:jobs:TYPE: a type may be named like a state
    "all_jobs": ":all",
    "type_jobs": ":all:{jtype}",
    "leases": ":leases",
    "types": ":types",
    "paused": ":paused",
    "wake": ":wake:{jtype}",
    "events": ":events",
    "unique": ":unique",
    "save_token": ":save:{token}",
    "claim_memo": ":claim:{request}",
    "stats": ":stats",
    "minute": ":minute:{minute}",
    "workers": ":workers",
    "debounce": ":debounce",
    "limits": ":limits",
    "rate": ":rate:{jtype}",
    "key_rate": ":rate:{jtype}|{limit}",  # "|": in no name, so no two pairs meet
    "limited": ":limited:{jtype}",
    "schedules": ":schedules",
    "schedules_due": ":schedules:due",
    "schedule_runs": ":schedules:runs",
}

# The score of a job in its type's inactive index: priority first, then id (FIFO).
# PRIORITY_LIMIT (job.py) keeps priority * INACTIVE_WEIGHT + id exact in a double.
INACTIVE_WEIGHT = 2**32


def layout_parts(template: str) -> list[tuple[str, str | None]]:
    """``template`` as (literal text, argument name or None) pieces, in order."""
    return [(text, name) for text, name, _spec, _conv in Formatter().parse(template)]


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
    """Key names for the queue with the given prefix (built from ``LAYOUT``)."""

    prefix: str

    def __post_init__(self) -> None:
        check_name("prefix", self.prefix)

    @property
    def base(self) -> str:
        return "{" + self.prefix + "}"

    def _name(self, key: str, **parts: object) -> str:
        return self.base + LAYOUT[key].format(**parts)

    @property
    def ids(self) -> str:
        return self._name("ids")

    @property
    def leases(self) -> str:
        return self._name("leases")

    @property
    def types(self) -> str:
        return self._name("types")

    @property
    def paused(self) -> str:
        return self._name("paused")

    @property
    def events(self) -> str:
        return self._name("events")

    @property
    def unique(self) -> str:
        return self._name("unique")

    @property
    def workers(self) -> str:
        return self._name("workers")

    @property
    def debounce(self) -> str:
        return self._name("debounce")

    @property
    def limits(self) -> str:
        return self._name("limits")

    def rate(self, job_type: str) -> str:
        return self._name("rate", jtype=job_type)

    def key_rate(self, job_type: str, limit_key: str) -> str:
        return self._name("key_rate", jtype=job_type, limit=limit_key)

    def limited(self, job_type: str) -> str:
        return self._name("limited", jtype=job_type)

    @property
    def schedules(self) -> str:
        return self._name("schedules")

    @property
    def schedules_due(self) -> str:
        return self._name("schedules_due")

    @property
    def schedule_runs(self) -> str:
        return self._name("schedule_runs")

    @property
    def job_prefix(self) -> str:
        """What a job's hash name is before its id (``P:job:``): the pattern to scan them."""
        return self.base + LAYOUT["job"].partition("{")[0]

    def job(self, job_id: int) -> str:
        return self._name("job", id=job_id)

    def log(self, job_id: int) -> str:
        return self._name("log", id=job_id)

    def errors(self, job_id: int) -> str:
        return self._name("errors", id=job_id)

    def deps(self, job_id: int) -> str:
        return self._name("deps", id=job_id)

    def dependents(self, job_id: int) -> str:
        return self._name("dependents", id=job_id)

    def state(self, state: str) -> str:
        return self._name("state", state=state)

    def type_state(self, job_type: str, state: str) -> str:
        return self._name("type_state", jtype=job_type, state=state)

    @property
    def all_jobs(self) -> str:
        """Every job by id, whatever its state: one index to page (enqueue adds, drop removes)."""
        return self._name("all_jobs")

    def type_jobs(self, job_type: str) -> str:
        return self._name("type_jobs", jtype=job_type)

    def wake(self, job_type: str) -> str:
        return self._name("wake", jtype=job_type)

    def save_token(self, token: str) -> str:
        return self._name("save_token", token=token)

    @property
    def stats(self) -> str:
        """Totals and histograms the scripts keep (work_time, completed, failed, ...)."""
        return self._name("stats")

    def minute(self, epoch_minute: int) -> str:
        """Outcomes (complete/failed) counted in one minute; expires after two hours."""
        return self._name("minute", minute=epoch_minute)
