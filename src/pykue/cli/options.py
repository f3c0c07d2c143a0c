"""The options commands share: the global --url/--prefix, the queue(s) they name, and
the parameter callbacks that turn command-line text into checked values.

The CLI's own part is reading text: numbers in ASCII decimal only (``int()`` and
``float()`` also take the digits of other scripts, underscores, ``nan`` and ``inf``,
and "1_0" would be job 10). Every rule about the value itself is pykue's own check
(``check_id``, ``check_int``, ``check_seconds``, the job's ``parse_*`` functions), so
the CLI refuses exactly what the library refuses. A callback takes the raw string
click parsed (or None) and returns the checked value or raises ``click.BadParameter``,
which ``main()`` turns into one line and exit 2. Job options whose rule lives only in
the Job (delay, ttl, attempts) are read here and checked when the job is built
(``jobs.build_job``), which names the option.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import orjson

from ..config import Settings
from ..errors import (
    MAX_INDEX,
    InvalidArgument,
    PykueError,
    check_id,
    check_int,
    check_seconds,
    shown,
)
from ..flows import POLICIES
from ..job import MAX_SECONDS, PRIORITIES, parse_backoff, parse_priority
from ..keys import STATES, check_name
from ..queue import Queue
from ..sharded import MAX_SHARDS, ShardedQueue
from ..worker import MAX_CONCURRENCY
from .runtime import CliError

F = TypeVar("F", bound=Callable[..., Any])
Callback = Callable[[click.Context, click.Parameter, str | None], Any]
PRIORITY_METAVAR = "[" + "|".join(PRIORITIES) + "|INT]"
STATE = click.Choice(STATES)
POLICY = click.Choice(POLICIES)
INTEGER = re.compile(r"-?[0-9]+")
DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


# -- the global options ----------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The group's global options; None means pykue's own resolution."""

    url: str | None = None
    prefix: str | None = None

    def settings(self) -> Settings:
        return Settings.from_env(url=self.url, prefix=self.prefix)

    def queue(self) -> Queue:
        """A Queue for the global options (not connected yet)."""
        try:
            return Queue(url=self.url, prefix=self.prefix)
        except PykueError as exc:  # e.g. a malformed REDIS_URL in the environment
            raise CliError(str(exc)) from None

    def queues(self, prefixes: list[str] | None, shards: int | None) -> list[Queue] | None:
        """The queues ``--queues A,B`` or ``--shards K`` name (K: the shards PREFIX.0 ...
        PREFIX.K-1 of a ShardedQueue named by the global prefix), or None for neither."""
        if prefixes is not None and shards is not None:
            raise click.UsageError("give --queues or --shards, not both")
        try:
            if shards is not None:
                prefix = self.settings().prefix
                return ShardedQueue(self.url, prefix=prefix, shards=shards).shards
            if prefixes is not None:
                return [Queue(url=self.url, prefix=prefix) for prefix in prefixes]
        except PykueError as exc:  # e.g. a prefix too long for the shard names
            raise CliError(str(exc)) from None
        return None

    def args(self) -> list[str]:
        """The global options as command-line arguments (for child processes)."""
        out: list[str] = []
        if self.url is not None:
            out += ["--url", self.url]
        if self.prefix is not None:
            out += ["--prefix", self.prefix]
        return out


# -- text to numbers -------------------------------------------------------------------


def integer(text: str) -> int:
    """``int(text)`` for ASCII digits, with a minus sign or none; ValueError otherwise
    (also past 4,300 digits, where int() refuses)."""
    if not INTEGER.fullmatch(text):
        raise ValueError(f"{shown(text)} is not an integer")
    return int(text)


def number(text: str) -> float:
    """``float(text)`` for a decimal number in ASCII (``1``, ``-2.5``, ``3e4``); ValueError
    for anything else, ``nan`` and ``inf`` included. A huge exponent is infinity, which
    pykue's checks then refuse as too large."""
    if not DECIMAL.fullmatch(text.strip()):
        raise ValueError(f"{shown(text)} is not a number")
    return float(text)


# -- parameter callbacks ---------------------------------------------------------------


def priority(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    """A Kue priority name (low, normal, medium, high, critical) or an int."""
    text = "normal" if value is None else value.strip()
    try:
        parsed: int | str = integer(text)
    except ValueError:  # a name, or over 4,300 digits: refused as an unknown name
        parsed = text
    try:
        return parse_priority(parsed)
    except InvalidArgument as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def backoff(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    """``fixed[:SECONDS]`` or ``exponential[:SECONDS]``."""
    if value is None:
        return None
    kind, _, delay = value.partition(":")
    usage = "use fixed:SECONDS or exponential:SECONDS"
    try:
        seconds = number(delay) if delay else 0.0
    except ValueError as exc:
        raise click.BadParameter(
            f"{shown(value)}: backoff delay {exc}; {usage}", ctx, param
        ) from None
    try:
        return parse_backoff({"type": kind, "delay": seconds})
    except InvalidArgument as exc:
        raise click.BadParameter(f"{shown(value)}: {exc}; {usage}", ctx, param) from None


def seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A number of seconds for a job option (--delay, --ttl), or None when not given;
    its range is the Job's, checked when the job is built."""
    if value is None:
        return None
    try:
        return number(value)
    except ValueError:
        raise click.BadParameter(
            f"{shown(value)} is not a finite number of seconds", ctx, param
        ) from None


def seconds_from(what: str, low: float) -> Callback:
    """A callback for a number of seconds from ``low`` to ten years, or None when not
    given (pykue's ``check_seconds``; ``what`` names the value in its message)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
        parsed = seconds(ctx, param, value)
        if parsed is None:
            return None
        try:
            return check_seconds(what, parsed, low, MAX_SECONDS)
        except InvalidArgument as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return check


def whole(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """An integer for a job option (--attempts), or None; its range is the Job's,
    checked when the job is built."""
    if value is None:
        return None
    try:
        return integer(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def int_from(low: int, high: int, high_text: str = "") -> Callback:
    """A callback for an integer from ``low`` to ``high``, or None when not given
    (pykue's ``check_int``, named after the parameter)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
        parsed = whole(ctx, param, value)
        if parsed is None:
            return None
        try:
            return check_int(param.name or "value", parsed, low, high, high_text)
        except InvalidArgument as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return check


concurrency = int_from(1, MAX_CONCURRENCY)
shards = int_from(1, MAX_SHARDS)
# Redis refuses a list index past 2**63; ids and positions stay below 2**53.
index = int_from(0, MAX_INDEX - 1, "just below 2**53")


def job_id(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A job id: a positive integer (pykue's ``check_id``)."""
    return None if value is None else _job_id(ctx, param, value)


def job_ids(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[int]:
    """The ids of a repeatable option (``--depends-on 3 --depends-on 4``), in order; the
    rules about the list (once each, how many) are the Job's, checked when it is built."""
    return [_job_id(ctx, param, each) for each in value]


def _job_id(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return check_id(integer(value))
    except ValueError:  # also InvalidArgument
        raise click.BadParameter(
            f"a job id is a positive integer below 2**53, got {shown(value)}", ctx, param
        ) from None


def name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A job type: 1 to 128 of ``[A-Za-z0-9_.:-]``."""
    if value is None:
        return None
    try:
        return check_name("job type", value)
    except InvalidArgument as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def prefixes(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """Queue prefixes separated by commas, each named once."""
    if value is None:
        return None
    try:
        names = [check_name("queue prefix", part.strip()) for part in value.split(",")]
    except InvalidArgument as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise click.BadParameter(f"each queue once, please: {shown(twice)} given twice", ctx, param)
    if len(names) > MAX_SHARDS:
        raise click.BadParameter(f"at most {MAX_SHARDS} queues, got {len(names)}", ctx, param)
    return names


def many_queues(verb: str, note: str) -> Callable[[F], F]:
    """The ``--queues A,B`` and ``--shards K`` options of a command that works over
    several queues; their help reads "<verb> the queues ... (<note>)"."""

    def add(command: F) -> F:
        command = click.option(
            "--shards",
            metavar="K",
            callback=shards,
            help=f"{verb} the K queues PREFIX.0 ... PREFIX.K-1 of a ShardedQueue ({note}; "
            f"K up to {MAX_SHARDS}).",
        )(command)
        return click.option(
            "--queues",
            "prefixes",
            metavar="A,B,...",
            callback=prefixes,
            help=f"{verb} the queues with these prefixes, not --prefix's ({note}).",
        )(command)

    return add


class Unchanged(enum.Enum):
    """What an option of ``limits set`` is when not given: its value is kept."""

    KEEP = "keep"


KEEP = Unchanged.KEEP
RATE_USAGE = "use N/SECONDS (N starts per SECONDS) or none"


def rate(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, float] | Unchanged | None:
    """A rate limit: ``N/SECONDS`` as (count, per), ``none`` (remove it) as None, KEEP
    when not given. The ranges are pykue's, checked by ``set_limits``."""
    if value is None:
        return KEEP
    if value.lower() == "none":
        return None
    count, slash, per = value.partition("/")
    try:
        if not slash:
            raise ValueError("no '/'")
        return integer(count), number(per)
    except ValueError:
        raise click.BadParameter(f"{shown(value)}: {RATE_USAGE}", ctx, param) from None


def int_or_none(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> int | Unchanged | None:
    """An integer limit, ``none`` (remove it) as None, KEEP when not given; the range is
    pykue's, checked by ``set_limits``."""
    if value is None:
        return KEEP
    if value.lower() == "none":
        return None
    try:
        return integer(value)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}; use N or none", ctx, param) from None


def json_object(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Job data given on the command line: a JSON object."""
    if value is None:
        return None
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc}): {shown(value)}", ctx, param) from None
    if not isinstance(data, dict):
        example = '{"to": "a@b.c"}'
        raise click.BadParameter(
            f"job data must be a JSON object like '{example}', got {json_kind(data)}", ctx, param
        )
    return data


def json_kind(value: object) -> str:
    """How JSON calls the type of a decoded value."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "an object"


# -- options a job takes, shared by the commands that make jobs ---------------------------

PRIORITY = click.option(
    "--priority", metavar=PRIORITY_METAVAR, callback=priority, default="normal", show_default=True
)
BACKOFF = click.option(
    "--backoff",
    callback=backoff,
    metavar="fixed|exponential[:SECONDS]",
    help="Delay before each retry of a failed attempt.",
)
TTL = click.option(
    "--ttl", metavar="SECONDS", callback=seconds, help="Seconds one attempt may run."
)


def attempts_option(subject: str) -> Callable[[F], F]:
    """``--attempts N`` (default 1), its help naming ``subject`` ("the job", "each job")."""
    return click.option(
        "--attempts",
        metavar="N",
        callback=whole,
        default="1",
        show_default=True,
        help=f"Times {subject} may run before it fails for good.",
    )
