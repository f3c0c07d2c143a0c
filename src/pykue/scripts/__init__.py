"""The queue's Lua scripts, shipped as package data and called by SHA, behind one typed
method per script.

Each ``NAME.lua`` is one state change; ``loader`` prepends the prelude it writes from
keys.py and stats.py, and ``_common.lua`` (shared helpers). Calls go through redis-py's
script objects, which use EVALSHA and load the script again when the server answers
NOSCRIPT (after a restart or SCRIPT FLUSH). The methods answer with the dataclasses of
``replies`` and raise through the one code table of ``pykue.errors``: nothing outside
this package reads a script's reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from ..connection import Client
from ..keys import Keys
from . import replies
from .loader import ScriptError, prelude, source
from .replies import (
    AckCall,
    Claim,
    Claimed,
    ClaimRequest,
    Complete,
    Due,
    Enqueued,
    Fail,
    FailOutcome,
    Fired,
    Promoted,
    Recovered,
    Release,
    Saved,
    Sent,
    checked,
)

__all__ = [
    "NAMES",
    "AckCall",
    "Claim",
    "ClaimRequest",
    "Claimed",
    "Complete",
    "Due",
    "Enqueued",
    "Fail",
    "FailOutcome",
    "Fired",
    "Promoted",
    "Recovered",
    "Release",
    "Saved",
    "ScriptError",
    "Scripts",
    "Sent",
    "prelude",
    "source",
]

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
    "set_limits",
    "set_schedule",
    "unschedule",
    "fire_schedule",
    "due_schedules",
)

Arg = str | bytes | int | float
Call = tuple[str, Sequence[Arg]]


class Scripts:
    """The scripts of one queue, bound to its client and keys (no global cache)."""

    def __init__(self, client: Client, keys: Keys, events_maxlen: int) -> None:
        self._client = client
        self._head: tuple[Arg, ...] = (keys.base, events_maxlen)
        self._keys = [keys.events]
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(source(name)) for name in NAMES
        }

    async def _call(self, name: str, args: Sequence[Arg]) -> Any:
        argv: Sequence[Arg] = (*self._head, *args)
        script = self._scripts[name]
        for _ in range(2):
            try:
                return await script(keys=self._keys, args=argv)
            except NoScriptError:
                # The server restarted between redis-py's own reload and its retry.
                continue
        return await script(keys=self._keys, args=argv)

    async def _pipeline(
        self,
        calls: Sequence[Call],
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
            answered = await self._evalsha_pipeline(calls, then, raise_on_error)
            if not any(isinstance(reply, NoScriptError) for reply in answered):
                return answered
        except NoScriptError:
            pass
        for name, _args in calls:
            await self._client.script_load(self._scripts[name].script)
        return await self._evalsha_pipeline(calls, then, raise_on_error)

    async def _evalsha_pipeline(
        self,
        calls: Sequence[Call],
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
            answered: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
            return answered

    # -- one method per script -------------------------------------------------------------

    async def enqueue(
        self,
        token: str,
        ttl: int,
        payload: bytes,
        *,
        replicas: int = 0,
        replica_timeout_ms: int = 0,
    ) -> Enqueued:
        """Save the jobs of ``payload`` (enqueue.lua's JSON list) under save ``token``, kept
        ``ttl`` s. With ``replicas``, WAIT for them in the same round trip; the caller
        judges the count."""
        args = (token, ttl, payload)
        if replicas <= 0:
            return Enqueued(replies.saved(await self._call("enqueue", args)), None)
        reply, acked = await self._pipeline(
            [("enqueue", args)], ("WAIT", replicas, replica_timeout_ms)
        )
        return Enqueued(replies.saved(reply), int(acked))

    async def claim(
        self, job_type: str, count: int, worker: str, lease_ms: int, request: str
    ) -> Claim:
        request_ = ClaimRequest(job_type, count, worker, lease_ms, request)
        return replies.claim(await self._call("claim", _claim_args(request_)))

    async def complete(self, acks: Sequence[Complete]) -> list[int]:
        """complete.lua's code per ack, in order (0 done, -1 no such job, -2 lease lost):
        per job, not raised."""
        if not acks:
            return []
        flat: list[Arg] = []
        for ack in acks:
            flat += replies.args_of(ack)[1]
        return [int(code) for code in await self._call("complete", flat)]

    async def send(self, calls: Sequence[AckCall], request: ClaimRequest | None) -> Sent:
        """Acks, then (with ``request``) a claim, in one round trip, errors in place (a
        connection error still raises). Consecutive completions share one complete.lua
        call; every fail and release is a call of its own, in the order given, so events
        keep the order the work ended in."""
        groups: list[list[AckCall]] = []
        for call in calls:
            if groups and isinstance(call, Complete) and isinstance(groups[-1][0], Complete):
                groups[-1].append(call)
            else:
                groups.append([call])
        pipeline: list[Call] = []
        for group in groups:
            name, args = replies.args_of(group[0])
            for more in group[1:]:
                args += replies.args_of(more)[1]
            pipeline.append((name, args))
        if request is not None:
            pipeline.append(("claim", _claim_args(request)))
        if not pipeline:
            return Sent([], None)
        answered = await self._pipeline(pipeline, raise_on_error=False)
        codes: list[int | BaseException] = []
        for group, reply in zip(groups, answered, strict=False):
            if isinstance(reply, BaseException):
                codes += [reply] * len(group)
            elif isinstance(group[0], Complete):
                codes += [int(code) for code in reply]
            else:
                codes.append(int(reply[0]))
        claim: Claim | BaseException | None = None
        if request is not None:
            reply = answered[-1]
            try:
                claim = reply if isinstance(reply, BaseException) else replies.claim(reply)
            except Exception as exc:  # a reply no claim.lua wrote: raised by the claimer
                claim = exc
        return Sent(codes, claim)

    async def fail(
        self, job_id: int, token: int, message: str, record: bytes, delay_ms: int, final: bool
    ) -> FailOutcome:
        """Record a failed attempt; JobNotFound, LeaseLost."""
        name, args = replies.args_of(Fail(job_id, token, message, record, delay_ms, final))
        return FailOutcome(checked(await self._call(name, args), job_id))

    async def release(self, job_id: int, token: int) -> None:
        """Hand an unfinished job back to inactive; JobNotFound, LeaseLost."""
        checked(await self._call("release", (job_id, token)), job_id)

    async def progress(self, job_id: int, token: int, percent: int, data: bytes) -> None:
        """Record an active job's progress; JobNotFound, LeaseLost."""
        checked(await self._call("progress", (job_id, token, percent, data)), job_id)

    async def log(self, job_id: int, line: bytes) -> int:
        """Append a line to a job's log; the log's length. JobNotFound."""
        return checked(await self._call("log", (job_id, line)), job_id)

    async def remove(self, job_id: int, force: bool = False) -> None:
        """JobNotFound; InvalidState while jobs wait for it (unless ``force``)."""
        checked(await self._call("remove", (job_id, "1" if force else "0")), job_id)

    async def retry(self, job_id: int) -> None:
        """JobNotFound; InvalidState (with the job's state) unless it is failed."""
        checked(await self._call("retry", (job_id,)), job_id)

    async def pause(self, job_type: str, paused: bool) -> bool:
        """Pause (or resume) claiming ``job_type``; True if that changed anything."""
        reply = await self._call("pause", (job_type, "1" if paused else "0"))
        return int(reply[0]) == 1

    async def set_state(self, job_id: int, state: str) -> None:
        """JobNotFound."""
        checked(await self._call("set_state", (job_id, state)), job_id)

    async def set_priority(self, job_id: int, priority: int) -> None:
        """JobNotFound."""
        checked(await self._call("set_priority", (job_id, priority)), job_id)

    async def set_limits(self, job_type: str, change: bytes) -> bytes:
        """Apply ``change`` (limits.patch) to the type's limits; the limits now (JSON, b''
        for none)."""
        reply: bytes = await self._call("set_limits", (job_type, change))
        return reply

    async def set_schedule(self, key: str, spec: bytes, first_run: int) -> bool:
        """Store schedule ``key`` (replacing one of that key); True if it is new."""
        return int((await self._call("set_schedule", (key, spec, first_run)))[0]) == 1

    async def unschedule(self, key: str) -> bool:
        """Remove schedule ``key``; True if there was one."""
        return int((await self._call("unschedule", (key,)))[0]) == 1

    async def due_schedules(self, limit: int) -> Due:
        """The schedules whose run has come (at most ``limit``, earliest first)."""
        return replies.due(await self._call("due_schedules", (limit,)))

    async def fire_schedule(
        self, key: str, version: str, due: int, next_run: int, make: bool
    ) -> tuple[Fired, int]:
        """Take the run ``due`` of schedule ``key`` (see fire_schedule.lua): what happened,
        and the job made (0: none)."""
        reply = await self._call(
            "fire_schedule", (key, version, due, next_run, "1" if make else "0")
        )
        fired = Fired(int(reply[0]))
        return fired, int(reply[1]) if fired is Fired.MADE else 0

    async def promote(self, limit: int) -> Promoted:
        """Move up to ``limit`` due delayed jobs to inactive."""
        reply = await self._call("promote", (limit,))
        return Promoted(int(reply[0]), int(reply[1]))

    async def recover_stalled(self, max_stalls: int, limit: int, record: bytes) -> Recovered:
        """Requeue (or fail, past ``max_stalls``) up to ``limit`` jobs whose lease expired."""
        reply = await self._call("recover_stalled", (max_stalls, limit, record))
        return Recovered(int(reply[0]), int(reply[1]))

    async def extend_lease(self, lease_ms: int, held: Sequence[tuple[int, int]]) -> list[int]:
        """Renew the leases of ``held`` (job id, fencing token) pairs; the zero-based
        positions in ``held`` of those lost (by place, not id: a reply arriving after a
        job was claimed again must not be taken for the newer claim)."""
        if not held:
            return []
        flat: list[Arg] = [lease_ms]
        for job_id, token in held:
            flat += (job_id, token)
        return [int(place) - 1 for place in await self._call("extend_lease", flat)]


def _claim_args(request: ClaimRequest) -> list[Arg]:
    return [request.job_type, request.count, request.worker, request.lease_ms, request.request]
