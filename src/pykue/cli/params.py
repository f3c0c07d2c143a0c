"""Parameter callbacks that check job options with pykue's own rules.

Each takes the raw string click parsed (or None) and returns the checked value or
raises ``click.BadParameter``, which ``main()`` turns into one line and exit 2.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click
import orjson

from ..errors import InvalidJob, shown
from ..job import PRIORITIES, parse_backoff, parse_priority
from ..keys import STATES, check_name
from ..sharded import MAX_SHARDS as MAX_QUEUES

F = TypeVar("F", bound=Callable[..., Any])
PRIORITY_METAVAR = "[" + "|".join(PRIORITIES) + "|INT]"
STATE = click.Choice(STATES)
# Numbers are read in ASCII only: int() and float() also take the digits of other
# scripts (Arabic-Indic, fullwidth...) and underscores, and "1_0" would be job 10.
INTEGER = re.compile(r"-?[0-9]+")


def _float(text: str) -> float:
    """``float(text)`` for ASCII text without underscores; ValueError otherwise."""
    if not text.isascii() or "_" in text:
        raise ValueError(f"{shown(text)} is not a number")
    return float(text)


def priority(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    """A Kue priority name (low, normal, medium, high, critical) or an int."""
    text = "normal" if value is None else value.strip()
    try:
        number: int | str = int(text) if INTEGER.fullmatch(text) else text
    except ValueError:  # over 4,300 digits: refused as an unknown name
        number = text
    try:
        return parse_priority(number)
    except InvalidJob as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def backoff(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, Any] | None:
    """``fixed[:SECONDS]`` or ``exponential[:SECONDS]``."""
    if value is None:
        return None
    kind, _, delay = value.partition(":")
    try:
        parsed = parse_backoff({"type": kind, "delay": _float(delay) if delay else 0.0})
    except ValueError as exc:  # a bad number, and InvalidJob
        raise click.BadParameter(
            f"{shown(value)}: {exc}; use fixed:SECONDS or exponential:SECONDS", ctx, param
        ) from None
    return parsed


def _seconds(ctx: click.Context, param: click.Parameter, value: str | None, low: str) -> float:
    try:
        seconds = _float(str(value))
    except ValueError:
        raise click.BadParameter(f"{shown(value)} is not a number of seconds", ctx, param) from None
    if not math.isfinite(seconds) or seconds < 0 or (low == "> 0" and seconds == 0):
        raise click.BadParameter(f"{shown(value)} must be a finite number {low}", ctx, param)
    return seconds


def seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A finite number of seconds >= 0, or None when not given."""
    return None if value is None else _seconds(ctx, param, value, ">= 0")


def positive_seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A finite number of seconds > 0, or None when not given."""
    return None if value is None else _seconds(ctx, param, value, "> 0")


def name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A job type: 1 to 128 of ``[A-Za-z0-9_.:-]``."""
    if value is None:
        return None
    try:
        return check_name("job type", value)
    except InvalidJob as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def prefixes(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """Queue prefixes separated by commas, each named once."""
    if value is None:
        return None
    try:
        names = [check_name("queue prefix", part.strip()) for part in value.split(",")]
    except InvalidJob as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise click.BadParameter(f"each queue once, please: {shown(twice)} given twice", ctx, param)
    if len(names) > MAX_QUEUES:
        raise click.BadParameter(f"at most {MAX_QUEUES} queues, got {len(names)}", ctx, param)
    return names


def many_queues(verb: str, note: str) -> Callable[[F], F]:
    """The ``--queues A,B`` and ``--shards K`` options of a command that works over
    several queues; their help reads "<verb> the queues ... (<note>)"."""

    def add(command: F) -> F:
        command = click.option(
            "--shards",
            metavar="K",
            type=click.IntRange(1, MAX_QUEUES),
            help=f"{verb} the K queues PREFIX.0 ... PREFIX.K-1 of a ShardedQueue ({note}).",
        )(command)
        return click.option(
            "--queues",
            "prefixes",
            metavar="A,B,...",
            callback=prefixes,
            help=f"{verb} the queues with these prefixes, not --prefix's ({note}).",
        )(command)

    return add


def job_id(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A job id: a positive integer."""
    if value is None:
        return None
    number = int(value) if value.isascii() and value.isdigit() and len(value) < 20 else 0
    if not 0 < number < 2**53:
        raise click.BadParameter(f"a job id is a positive integer, got {shown(value)}", ctx, param)
    return number


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
