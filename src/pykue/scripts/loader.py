"""The text of each script as sent to Redis: a prelude written from Python's own facts,
``_common.lua``, then the script.

Key names come from ``keys.LAYOUT``, the histogram bounds from ``stats.BUCKETS_MS``,
the inactive index's priority weight from ``keys.INACTIVE_WEIGHT``: each fact is
written once, in Python, and a script cannot drift from the readers. Each ``emit`` of
an event is checked against ``event_names.EVENTS`` (its name and fields), and a script
that breaks the table is refused here, when a queue loads its scripts, rather than
writing events nobody can subscribe to.
"""

from __future__ import annotations

import re
from importlib.resources import files

from ..event_names import EVENTS
from ..flows import HAND_FAILED, MAX_DEPENDENTS, MAX_DEPTH
from ..keys import INACTIVE_WEIGHT, LAYOUT, layout_parts
from ..stats import BUCKETS_MS

# Keys the prelude leaves out: the event stream is the call's KEYS[1] (Redis Cluster
# routes the call by it), not a name the script builds.
PASSED_IN = ("events",)
_SAFE_TEXT = re.compile(r"[A-Za-z0-9_:.|-]*")
_LUA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ScriptError(Exception):
    """A script breaks a rule the loader checks (an unknown event, a bad emit)."""


def lua_name(key: str) -> str:
    """The Lua name of key ``key`` of ``LAYOUT``: ``LEASES`` for a fixed name,
    ``job_key`` for one built from arguments."""
    parts = layout_parts(LAYOUT[key])
    return f"{key}_key" if any(arg for _, arg in parts) else key.upper()


def _quoted(text: str) -> str:
    if not _SAFE_TEXT.fullmatch(text):
        raise ScriptError(f"key text {text!r} is not plain enough to quote in Lua")
    return f"'{text}'"


def _key_line(key: str) -> str:
    pieces, args = ["BASE"], []
    for text, arg in layout_parts(LAYOUT[key]):
        if text:
            pieces.append(_quoted(text))
        if arg is not None:
            if not _LUA_NAME.fullmatch(arg) or arg in args:
                raise ScriptError(f"key {key!r} has a bad argument name {arg!r}")
            pieces.append(arg)
            args.append(arg)
    built = " .. ".join(pieces)
    if args:
        return f"local function {lua_name(key)}({', '.join(args)}) return {built} end"
    return f"local {lua_name(key)} = {built}"


def prelude() -> str:
    """The Lua lines every script starts with: the call's head and the key layout."""
    lines = [
        "-- written by pykue/scripts/loader.py from pykue/keys.py and pykue/stats.py",
        "local BASE = ARGV[1]",
        "local EVENTS = KEYS[1]",
        "local MAXLEN = ARGV[2]",
        *(_key_line(key) for key in LAYOUT if key not in PASSED_IN),
        f"local INACTIVE_WEIGHT = {INACTIVE_WEIGHT}",
        f"local MAX_DEPTH = {MAX_DEPTH}",
        f"local MAX_DEPENDENTS = {MAX_DEPENDENTS}",
        f"local HAND_FAILED = '{HAND_FAILED}'",
        "local BUCKETS = {" + ", ".join(str(int(bound)) for bound in BUCKETS_MS) + "}",
    ]
    return "\n".join(lines) + "\n"


def read(name: str) -> str:
    """The text of ``NAME.lua`` as shipped (no prelude)."""
    return files(__package__).joinpath(f"{name}.lua").read_text()


def source(name: str) -> str:
    """The full text sent to Redis for script ``name``; ScriptError if a script breaks
    the event table."""
    common, body = read("_common"), read(name)
    for text, where in ((common, "_common.lua"), (body, f"{name}.lua")):
        check_emits(text, where)
    return prelude() + common + body


# -- what the scripts emit ---------------------------------------------------------------


def code_of(text: str) -> str:
    """``text`` with its Lua comments blanked (strings kept): what the checks read.
    Only the forms the scripts use: ``--`` line comments and quoted strings."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            end = i + 1
            while end < n and text[end] != c:
                end += 2 if text[end] == "\\" else 1
            out.append(text[i : end + 1])
            i = end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _arguments(code: str, start: int) -> list[str]:
    """The top-level arguments of the call whose ``(`` is at ``start``, stripped."""
    args, depth, i, begun = [], 0, start, start + 1
    while i < len(code):
        c = code[i]
        if c in "'\"":
            i = code.index(c, i + 1)
        elif c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
            if depth == 0:
                args.append(code[begun:i].strip())
                return args
        elif c == "," and depth == 1:
            args.append(code[begun:i].strip())
            begun = i + 1
        i += 1
    raise ScriptError("an emit( call is not closed")


def _literal(arg: str) -> str | None:
    match = re.fullmatch(r"'([^'\\]*)'|\"([^\"\\]*)\"", arg)
    return None if match is None else match.group(1) or match.group(2) or ""


def emitted(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each ``emit('event', NAME, field, value, ...)`` of a script: its name and field
    names. ScriptError if a name or a field name is not a literal string (it could not
    be checked)."""
    code = code_of(text)
    found = []
    for match in re.finditer(r"(?<![\w.:])emit\s*\(", code):
        if re.search(r"function\s+$", code[: match.start()]):
            continue  # the definition in _common.lua
        args = _arguments(code, match.end() - 1)
        keys = [_literal(arg) for arg in args[0::2]]
        line = code.count("\n", 0, match.start()) + 1
        if len(args) < 2 or len(args) % 2 or keys[0] != "event" or _literal(args[1]) is None:
            raise ScriptError(f"line {line}: emit must be emit('event', '<name>', ...)")
        if any(key is None for key in keys):
            raise ScriptError(f"line {line}: emit's field names must be literal strings")
        found.append((_literal(args[1]) or "", tuple(key or "" for key in keys[1:])))
    return found


def check_emits(text: str, where: str) -> None:
    """Refuse a script emitting an event ``event_names.EVENTS`` lacks, or other fields."""
    try:
        for name, fields in emitted(text):
            spec = EVENTS.get(name)
            if spec is None:
                raise ScriptError(
                    f"emits {name!r}, which pykue/event_names.py does not list: "
                    "nobody could subscribe to it"
                )
            expected = (*(("id",) if spec.job else ()), "type", *spec.fields)
            if fields != expected:
                raise ScriptError(
                    f"emits {name!r} with fields {fields}; event_names.py says {expected}"
                )
    except ScriptError as exc:
        raise ScriptError(f"{where}: {exc}") from None
