"""The queue's Lua scripts, shipped as package data and called by SHA.

Each ``NAME.lua`` is one state change; ``_common.lua`` (the key layout and shared
helpers) is prepended to each. Calls go through redis-py's script objects, which
use EVALSHA and load the script again when the server answers NOSCRIPT (after a
restart or SCRIPT FLUSH).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from ..connection import Client
from ..keys import Keys

NAMES = (
    "enqueue",
    "claim",
    "complete",
    "fail",
    "promote",
    "recover_stalled",
    "extend_lease",
    "release",
    "progress",
    "log",
    "remove",
    "retry",
    "pause",
    "set_state",
    "set_priority",
)

Arg = str | bytes | int | float


def source(name: str) -> str:
    """The full text sent to Redis for script ``name``."""
    folder = files(__package__)
    return folder.joinpath("_common.lua").read_text() + folder.joinpath(f"{name}.lua").read_text()


class Scripts:
    """The scripts of one queue, bound to its client and keys (no global cache)."""

    def __init__(self, client: Client, keys: Keys, events_maxlen: int) -> None:
        self._client = client
        self._head: tuple[Arg, ...] = (keys.base, events_maxlen)
        self._keys = [keys.events]
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(source(name)) for name in NAMES
        }

    async def call(self, name: str, *args: Arg) -> Any:
        """Run script ``name`` with ``args`` after the common ARGV head; return its reply."""
        argv: Sequence[Arg] = (*self._head, *args)
        script = self._scripts[name]
        for _ in range(2):
            try:
                return await script(keys=self._keys, args=argv)
            except NoScriptError:
                # The server restarted between redis-py's own reload and its retry.
                continue
        return await script(keys=self._keys, args=argv)

    async def call_many(
        self,
        calls: Sequence[tuple[str, Sequence[Arg]]],
        then: tuple[Arg, ...] = (),
        raise_on_error: bool = True,
    ) -> list[Any]:
        """Run several scripts, in order, in one round trip; their replies (and the reply
        of ``then``, a command sent after them on the same connection, e.g. WAIT).

        A script that errs raises its error, and the other replies are lost although
        their scripts ran; with ``raise_on_error=False`` each error comes back in its
        place in the list instead (a connection error still raises).

        EVALSHA goes straight into the pipeline: redis-py's own script handling would ask
        SCRIPT EXISTS first, a round trip more per call. A script the server lost (after a
        restart) is loaded and the whole pipeline sent again; pykue's scripts are built
        to be resent (fencing tokens, claim request ids, save tokens)."""
        try:
            replies = await self._evalsha_pipeline(calls, then, raise_on_error)
            if not any(isinstance(reply, NoScriptError) for reply in replies):
                return replies
        except NoScriptError:
            pass
        for name, _args in calls:
            await self._client.script_load(self._scripts[name].script)
        return await self._evalsha_pipeline(calls, then, raise_on_error)

    async def _evalsha_pipeline(
        self,
        calls: Sequence[tuple[str, Sequence[Arg]]],
        then: tuple[Arg, ...],
        raise_on_error: bool,
    ) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for name, args in calls:
                # execute_command: a cluster pipeline refuses pipe.evalsha() outright,
                # though it routes a raw EVALSHA by its key like any other command
                pipe.execute_command(
                    "EVALSHA",
                    self._scripts[name].sha,
                    len(self._keys),
                    *self._keys,
                    *self._head,
                    *args,
                )
            if then:
                # WAIT counts the writes of its own connection; a cluster pipeline runs
                # the commands of one node on one connection, so name the scripts' node
                where = (
                    {"target_nodes": self._client.get_node_from_key(self._keys[0])}
                    if isinstance(self._client, RedisCluster)
                    else {}
                )
                pipe.execute_command(*then, **where)
            replies: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
            return replies
