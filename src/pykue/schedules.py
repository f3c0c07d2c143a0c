"""Schedules: jobs made on a cron rule or every N seconds, by the workers themselves.

A schedule is stored in Redis (``keys.schedules``: its rule and the job to make, as
enqueue.lua's entry; ``keys.schedules_due``: its next run). Every worker looks at the
due schedules; the one whose fire_schedule.lua call finds the next run still as it
read it makes the job and moves the next run on, in one script: one job per occurrence
however many workers look (compare and set on the occurrence's time).

Next runs are computed here, from Redis's clock, by cronsim (a maintained cron library
from PyPI) in the schedule's time zone. Its rule at daylight saving changes, the
rule cron itself (cronie) follows:

- spring forward: an occurrence in the skipped hour (02:30 on a day clocks go from 02:00
  to 03:00) runs once, at the first moment after the gap (03:00);
- fall back: an occurrence at a fixed time of day (a single minute and hour, 01:30
  when 01:00-02:00 happens twice) runs once, the first time; a rule with a wildcard or a
  step in its minute or hour (``*/15 * * * *``, ``*/30 1 * * *``) runs in both copies of
  the hour, as it is about intervals, not about a time of day.

Missed runs: an occurrence is on time while the next one has not come yet. When workers
were all down past several occurrences, the first worker back makes one catch-up job
for them (``catch_up=True``, the default) or none (``catch_up=False``), never a burst,
and the schedule goes on from the next occurrence after now.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from cronsim import CronSim, CronSimError

from .errors import InvalidArgument, shown
from .job import MAX_SECONDS, loads

_TZ_NAME = re.compile(r"[A-Za-z0-9_+/-]{1,64}")
MAX_CRON = 200  # characters of a cron rule


@dataclass(frozen=True, slots=True)
class Rule:
    """When a schedule runs: a cron rule in a time zone, or every ``every_ms``."""

    cron: str | None
    every_ms: int | None
    tz: str = "UTC"

    def next_after(self, ms: int) -> int:
        """The first occurrence strictly after ``ms`` (epoch ms)."""
        if self.every_ms is not None:
            return ms + self.every_ms
        assert self.cron is not None
        zone = ZoneInfo(self.tz)
        start = datetime.fromtimestamp(ms / 1000, zone)
        for when in CronSim(self.cron, start):
            at = math.floor(when.timestamp() * 1000)
            if at > ms:  # a fold can give back an instant already passed
                return at
        raise InvalidArgument(f"cron rule {self.cron!r} has no next run")  # pragma: no cover

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron} ({self.tz})"
        assert self.every_ms is not None
        return f"every {self.every_ms / 1000:g} s"


def plan(rule: Rule, due: int, now: int, catch_up: bool) -> tuple[bool, int]:
    """What a worker does with a schedule due at ``due`` at ``now`` (epoch ms): whether
    to make a job, and the next run to store (always after ``due`` and ``now``).

    On time (the occurrence after ``due`` is still to come): a job, and that occurrence
    next. Missed (it has come too, so several passed unseen): one job with ``catch_up``,
    else none; then the first occurrence after now."""
    following = rule.next_after(due)
    if following > now:
        return True, following
    if rule.every_ms is not None:  # no need to walk every missed occurrence
        skipped = (now - due) // rule.every_ms + 1
        return catch_up, due + skipped * rule.every_ms
    return catch_up, rule.next_after(now)


def first_run(rule: Rule, stored: bytes | None, due: float | None, now: int) -> int:
    """The next run to store for ``rule`` at ``now``: the stored one when the schedule
    is saved again with the same rule (an app that declares its schedules at every
    start must not push their runs back: an ``every`` schedule declared more often than
    it runs would never run), else the rule's first run after now."""
    before = read_spec(stored)
    if before is not None and before.rule == rule and due is not None:
        return int(due)
    return rule.next_after(now)


def parse_rule(cron: object, every: object, tz: object) -> Rule:
    """The Rule of ``schedule(cron=..., every=..., tz=...)``; InvalidArgument otherwise."""
    if (cron is None) == (every is None):
        raise InvalidArgument("give exactly one of cron (a cron rule) or every (seconds)")
    if not isinstance(tz, str) or not _TZ_NAME.fullmatch(tz):
        raise InvalidArgument(
            f"tz must be an IANA time zone name like 'Europe/Paris', got {shown(tz)}"
        )
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidArgument(f"unknown time zone {shown(tz)}") from None
    if every is not None:
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if isinstance(every, bool) or not isinstance(every, int | float):
            raise InvalidArgument(f"every must be a number of seconds, got {shown(every)}")
        if not 0.001 <= every <= MAX_SECONDS:  # also NaN, infinities and huge ints
            raise InvalidArgument(f"every must be 0.001 s to ten years, got {shown(every)}")
        return Rule(None, round(every * 1000), tz)
    if not isinstance(cron, str) or not 0 < len(cron) <= MAX_CRON:
        raise InvalidArgument(f"cron must be a cron rule like '0 6 * * *', got {shown(cron)}")
    rule = Rule(" ".join(cron.split()), None, tz)
    try:
        CronSim(rule.cron or "", datetime.now(ZoneInfo(tz)))
        rule.next_after(0)
    except CronSimError as exc:
        raise InvalidArgument(f"cron rule {shown(cron)} is not valid: {exc}") from None
    except (StopIteration, OverflowError, ValueError):
        raise InvalidArgument(f"cron rule {shown(cron)} never runs") from None
    return rule


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as stored: its rule, the job it makes, and when it runs."""

    key: str
    type: str
    cron: str | None
    every: float | None  # seconds
    tz: str
    data: dict[str, Any]
    options: dict[str, Any]
    catch_up: bool
    next_run_at: int | None  # ms, Redis's clock
    last_run_at: int | None
    last_job_id: int | None
    created_at: int | None
    updated_at: int | None

    @property
    def rule(self) -> Rule:
        every_ms = None if self.every is None else round(self.every * 1000)
        return Rule(self.cron, every_ms, self.tz)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "cron": self.cron,
            "every": self.every,
            "tz": self.tz,
            "data": self.data,
            "options": self.options,
            "catch_up": self.catch_up,
            "next_run_at": self.next_run_at,
            "last_run_at": self.last_run_at,
            "last_job_id": self.last_job_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def encode_spec(
    job_type: str, rule: Rule, catch_up: bool, entry: list[Any], options: dict[str, Any]
) -> bytes:
    """The stored form (``keys.schedules``): fire_schedule.lua reads ``version`` and
    ``entry`` (enqueue.lua's list for one job); readers read the rest. A fresh version
    names this form: a worker that planned with an older one makes nothing."""
    return orjson.dumps(
        {
            "version": os.urandom(8).hex(),
            "type": job_type,
            "cron": rule.cron,
            "every_ms": rule.every_ms,
            "tz": rule.tz,
            "catch_up": catch_up,
            "options": options,
            "entry": entry,
        }
    )


@dataclass(frozen=True, slots=True)
class Spec:
    """A stored schedule as a worker reads it to plan its next run."""

    version: str
    rule: Rule
    catch_up: bool


def read_spec(raw: bytes | None) -> Spec | None:
    """The Spec of a stored schedule; None for what pykue did not write (it is skipped,
    and the other schedules go on)."""
    try:
        spec = orjson.loads(raw or b"")
        rule = Rule(spec["cron"], spec["every_ms"], spec["tz"])
        if (rule.cron is None) == (rule.every_ms is None) or not isinstance(spec["version"], str):
            return None
        if rule.every_ms is not None and (not isinstance(rule.every_ms, int) or rule.every_ms <= 0):
            return None
        return Spec(spec["version"], rule, bool(spec.get("catch_up", True)))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


def runs_of(raw: bytes | None) -> tuple[int | None, int | None, int | None, int | None]:
    """``keys.schedule_runs``' 'created:updated:last run:last job' as numbers (None: empty)."""
    parts = (raw or b"").decode(errors="replace").split(":")
    parts += [""] * (4 - len(parts))
    values = [int(p) if p.isdigit() else None for p in parts[:4]]
    return values[0], values[1], values[2], values[3]


def schedule_of(key: str, raw: bytes, due: float | None, runs: bytes | None) -> Schedule | None:
    """The Schedule stored under ``key``; None for a form pykue did not write."""
    spec = read_spec(raw)
    if spec is None:
        return None
    stored = orjson.loads(raw)
    entry = stored.get("entry")
    data = loads(entry[1]) if isinstance(entry, list) and len(entry) > 1 else {}
    created, updated, last_run, last_job = runs_of(runs)
    every_ms = spec.rule.every_ms
    return Schedule(
        key=key,
        type=str(stored.get("type", "")),
        cron=spec.rule.cron,
        every=None if every_ms is None else every_ms / 1000,
        tz=spec.rule.tz,
        data=data if isinstance(data, dict) else {},
        options=stored.get("options") if isinstance(stored.get("options"), dict) else {},
        catch_up=spec.catch_up,
        next_run_at=None if due is None else int(due),
        last_run_at=last_run,
        last_job_id=last_job,
        created_at=created,
        updated_at=updated,
    )
