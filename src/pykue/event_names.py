"""Every event the Lua scripts write to a queue's stream: the one table of their names.

The scripts' loader (``pykue.scripts``) refuses a script that emits an event missing here
or with other fields than the table says, so what can be subscribed to (``JOB_EVENTS``
for ``job.on``, ``QUEUE_EVENTS`` for ``queue.on``) is what the scripts can emit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event: the stream fields it carries beyond ``event``, ``type`` and (for a job's
    event) ``id``, in the order the script writes them."""

    fields: tuple[str, ...] = ()
    job: bool = True  # False: an event of the queue (a job type's), with no job id


EVENTS: dict[str, EventSpec] = {
    "enqueue": EventSpec(("state",)),  # enqueue.lua, fire_schedule.lua
    # _common.lua's release: a waiting job's dependencies are done, it moved to state
    "ready": EventSpec(("state",)),
    "debounced": EventSpec(),  # enqueue.lua: a pending job took a later save's data
    "start": EventSpec(),  # claim.lua
    "progress": EventSpec(("progress", "data")),  # progress.lua
    "complete": EventSpec(("result",)),  # complete.lua
    "failed attempt": EventSpec(("error", "attempts_made")),  # fail.lua
    "failed": EventSpec(("error",)),  # fail.lua, recover_stalled.lua, a dependency's
    # failure or removal (_common.lua), enqueue.lua (a dependency failed already)
    "remove": EventSpec(),  # remove.lua
    "promotion": EventSpec(),  # promote.lua
    "stalled": EventSpec(("stalls",)),  # recover_stalled.lua
    "retry": EventSpec(),  # retry.lua
    "released": EventSpec(),  # release.lua
    "state": EventSpec(("from", "to")),  # set_state.lua; failed to waiting: a retried dependency
    "priority": EventSpec(("priority",)),  # set_priority.lua
    "pause": EventSpec(job=False),  # pause.lua
    "resume": EventSpec(job=False),  # pause.lua
    "limits": EventSpec(job=False),  # set_limits.lua
    "schedule": EventSpec(("key",), job=False),  # set_schedule.lua
    "unschedule": EventSpec(("key",), job=False),  # unschedule.lua
}

JOB_EVENTS: tuple[str, ...] = tuple(name for name, spec in EVENTS.items() if spec.job)
TYPE_EVENTS: tuple[str, ...] = tuple(name for name, spec in EVENTS.items() if not spec.job)
QUEUE_EVENTS: tuple[str, ...] = (*("job " + name for name in JOB_EVENTS), *TYPE_EVENTS)
