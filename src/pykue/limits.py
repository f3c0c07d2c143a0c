"""Limits of a job type, kept in Redis and obeyed by every worker: a rate (at most N
starts per window, queue-wide), a concurrency cap (at most N running at once, across
all workers) and a rate per limit key (``queue.create(..., limit_key=...)``).

claim.lua enforces them inside the claim, so no worker can overshoot: the rate with a
sliding log of starts (exact: no window of ``per`` seconds ever holds more than
``count`` starts), the cap by the type's active index (a crashed worker's jobs leave it
when their lease expires, so the cap cannot leak). A job whose limit key is over its
rate waits as delayed until its key's window admits it; other keys and types flow on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from .errors import InvalidArgument, check_int, check_seconds, shown

MAX_RATE_COUNT = 100_000  # starts per window: the sliding log keeps one entry per start
MAX_RATE_PER = 7 * 86400.0  # a window of at most a week
MAX_CAP = 100_000
FIELDS = ("rate", "concurrency", "key_rate")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` starts in any ``per`` seconds."""

    count: int
    per: float

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "per": self.per}

    def __str__(self) -> str:
        return f"{self.count}/{self.per:g}s"


@dataclass(frozen=True, slots=True)
class Limits:
    """A job type's limits; None: not limited that way."""

    rate: Rate | None = None
    concurrency: int | None = None
    key_rate: Rate | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": None if self.rate is None else self.rate.to_dict(),
            "concurrency": self.concurrency,
            "key_rate": None if self.key_rate is None else self.key_rate.to_dict(),
        }

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in FIELDS)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()  # set_limits' default: leave that limit as it is


def parse_rate(name: str, value: object) -> Rate | None:
    """``value`` (None, a Rate, or a (count, per seconds) pair) as a Rate; else
    InvalidArgument."""
    if value is None:
        return None
    if isinstance(value, Rate):
        value = (value.count, value.per)
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise InvalidArgument(
            f"{name} must be (count, per seconds), e.g. (100, 60.0), or None; got {shown(value)}"
        )
    count = check_int(f"{name} count", value[0], 1, MAX_RATE_COUNT)
    per = check_seconds(f"{name} window", value[1], 0.001, MAX_RATE_PER)
    return Rate(count, round(per, 3))


def parse_cap(value: object) -> int | None:
    return None if value is None else check_int("concurrency", value, 1, MAX_CAP)


def patch(rate: object, concurrency: object, key_rate: object) -> bytes:
    """set_limits.lua's patch (JSON): the limits given, checked; None removes one, and
    one left out (UNSET) is not in the patch, so the script keeps it."""
    given: dict[str, Any] = {}
    for name, value in (("rate", rate), ("concurrency", concurrency), ("key_rate", key_rate)):
        if value is UNSET:
            continue
        if name == "concurrency":
            given[name] = parse_cap(value)
        else:
            parsed = parse_rate(name, value)
            # what claim.lua reads: [count, window in ms]
            given[name] = None if parsed is None else [parsed.count, round(parsed.per * 1000)]
    if not given:
        raise InvalidArgument("set_limits needs at least one of rate, concurrency, key_rate")
    return orjson.dumps(given)


def decode(raw: bytes | str | None) -> Limits:
    """The Limits stored for a type (``keys.limits``); what cannot be read (written by
    hand) counts as not set, as claim.lua reads it."""
    if not raw:
        return Limits()
    try:
        stored = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Limits()
    if not isinstance(stored, dict):
        return Limits()

    def rate(value: object) -> Rate | None:
        if isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value):
            return Rate(int(value[0]), value[1] / 1000)
        return None

    cap = stored.get("concurrency")
    return Limits(
        rate=rate(stored.get("rate")),
        concurrency=int(cap) if isinstance(cap, int | float) and _number(cap) else None,
        key_rate=rate(stored.get("key_rate")),
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
