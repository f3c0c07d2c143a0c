"""Job dependencies: the options a dependent carries, the graph a save sends (checked,
grouped and ordered before anything is written) and the outcomes a dependent records.

A job that depends on others waits (state ``waiting``) until each of them is done; the
script that finishes the last one releases it in the same call (see _common.lua). All
jobs of a graph live in one queue, so in one Redis Cluster slot: each script call sees
both ends of every link. A save sends each set of new jobs linked by dependencies (a
flow) in one script call, dependencies first, so that no part of a flow runs before the
whole flow is stored.

No I/O here, but ``tree``, which reads through the queue's backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from .errors import MAX_INDEX, InvalidJob, shown

if TYPE_CHECKING:
    from .backend import Backend
    from .job import Job

MAX_DEPENDENCIES = 1000  # dependencies of one job
MAX_DEPTH = 100  # the longest path of dependencies below a job
MAX_FLOW = 1000  # new jobs linked by dependencies in one save: one script call holds them
MAX_LINKS = 20_000  # dependency links in one script call (a flow's must fit in one)
# jobs that wait for one job: the call that ends it updates each of them, and holds Redis
# meanwhile (about 25 us apiece)
MAX_DEPENDENTS = 10_000
MAX_TREE = 1000  # nodes in one tree view
POLICIES = ("fail", "ignore", "wait")
T = TypeVar("T")
_ID = re.compile(r"[1-9][0-9]{0,15}")  # an id as the scripts write it (below MAX_INDEX)
HAND_FAILED = "set to failed by hand"  # a failed job without an error (scripts read it)
SAME_QUEUE = "all jobs of a flow live in one queue (one Redis Cluster slot)"

# An outcome as the dependent's deps hash holds it: a tag, then the text.
OUTCOMES = {"c": "complete", "i": "ignored", "f": "failed", "r": "removed"}


@dataclass(frozen=True, slots=True)
class DependencyFailed:
    """What ``job.dependency_results()`` holds for a dependency that failed when the job
    runs anyway (``on_dependency_failure="ignore"``)."""

    id: int
    error: str


def parse_policy(value: object) -> str:
    if value in POLICIES:
        assert isinstance(value, str)
        return value
    raise InvalidJob(
        f"on_dependency_failure must be one of {', '.join(POLICIES)}, got {shown(value)}"
    )


def check_dependencies(items: object, what: str = "depends_on") -> list[Job | int]:
    """``items`` as a list of Jobs and ids, checked one by one (the graph is checked at save)."""
    from .job import Job

    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InvalidJob(f"{what} must be a list of jobs or job ids, got {type(items).__name__}")
    if len(items) > MAX_DEPENDENCIES:
        raise InvalidJob(f"{what} holds {len(items)} jobs, more than {MAX_DEPENDENCIES}")
    found: list[Job | int] = []
    for item in items:
        is_id = isinstance(item, int) and not isinstance(item, bool) and 0 < item < MAX_INDEX
        if isinstance(item, Job) or is_id:
            found.append(item)
        else:
            raise InvalidJob(f"{what} takes jobs or job ids (ints >= 1), got {shown(item)}")
    keys = [dependency_key(item) for item in found]
    if len(set(keys)) != len(keys):
        twice = next(item for n, item in enumerate(found) if dependency_key(item) in keys[:n])
        raise InvalidJob(f"{what} names {_named(twice)} twice")
    return found


def dependency_key(item: Job | int) -> object:
    """What makes two entries of depends_on the same dependency."""
    if isinstance(item, int):
        return item
    return item.id if item.id is not None else id(item)


def _named(item: Job | int) -> str:
    if isinstance(item, int):
        return f"job {item}"
    return f"job {item.id}" if item.id is not None else f"the unsaved {item.type!r} job"


def unsaved(item: Job | int) -> bool:
    return not isinstance(item, int) and item.id is None


def plan(jobs: list[Job], prefix: str) -> tuple[list[Job], list[list[Job]]]:
    """The jobs to save: those sent before without an answer (they go again in their
    own call first), and the others grouped: each group is one flow (new jobs linked by
    dependencies, in dependency order) or one job alone, in the order of ``jobs``; the
    unsaved Jobs they depend on are added. InvalidJob for a bad graph (nothing sent)."""
    again: list[Job] = []
    order: list[Job] = []  # every job to save, dependencies before their dependents
    state: dict[int, int] = {}  # id(job) -> 1 being visited, 2 done
    depth: dict[int, int] = {}

    def visit(job: Job, path: list[Job]) -> None:
        mark = state.get(id(job))
        if mark == 2:
            return
        if mark == 1:
            loop = [*path[path.index(job) :], job]
            raise InvalidJob("dependency cycle: " + " -> ".join(repr(j.type) for j in loop))
        if len(path) > MAX_DEPTH:  # before the recursion gets deep: a long chain ends here
            raise InvalidJob(f"dependencies nest deeper than {MAX_DEPTH} levels")
        if job.queue.keys.prefix != prefix:
            raise InvalidJob(
                f"a {job.type!r} job of queue {job.queue.keys.prefix!r} cannot be saved "
                f"with queue {prefix!r}: {SAME_QUEUE}"
            )
        if job.pending_save is not None:
            state[id(job)] = 2
            depth[id(job)] = 0
            again.append(job)
            return
        state[id(job)] = 1
        deepest = 0
        for dep in job.depends_on:
            if isinstance(dep, int):
                continue
            if dep.queue.keys.prefix != prefix:
                raise InvalidJob(
                    f"job of type {job.type!r} depends on a job of queue "
                    f"{dep.queue.keys.prefix!r}: {SAME_QUEUE}"
                )
            if dep.id is None:
                visit(dep, [*path, job])
                deepest = max(deepest, depth[id(dep)])
        depth[id(job)] = deepest + (1 if job.depends_on else 0)
        if depth[id(job)] > MAX_DEPTH:
            raise InvalidJob(f"dependencies nest deeper than {MAX_DEPTH} levels")
        state[id(job)] = 2
        order.append(job)

    for job in jobs:
        visit(job, [])
    return again, _groups(order)


def _groups(order: list[Job]) -> list[list[Job]]:
    """``order`` cut into flows (sets of jobs linked by a dependency, either way), each
    kept in ``order``'s order."""
    parent: dict[int, int] = {id(job): id(job) for job in order}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for job in order:
        for dep in job.depends_on:
            if not isinstance(dep, int) and id(dep) in parent:
                parent[root(id(dep))] = root(id(job))
    groups: dict[int, list[Job]] = {}
    for job in order:
        groups.setdefault(root(id(job)), []).append(job)
    for group in groups.values():
        links = sum(len(job.depends_on) for job in group)
        if len(group) > MAX_FLOW or links > MAX_LINKS:
            raise InvalidJob(
                f"a flow of {len(group)} new jobs with {links} dependencies is more than "
                f"{MAX_FLOW} jobs or {MAX_LINKS} dependencies saved at once: save part of it "
                "first and depend on those jobs by id"
            )
    return list(groups.values())


def pack(groups: Sequence[Sequence[T]], links: Callable[[T], int], size: int) -> list[list[T]]:
    """``groups`` packed in order into script calls of about ``size`` items and at most
    MAX_LINKS dependency links (``links`` of an item), none split: a flow goes whole."""
    calls: list[list[T]] = [[]]
    held = 0
    for group in groups:
        more = sum(links(item) for item in group)
        if calls[-1] and (len(calls[-1]) + len(group) > size or held + more > MAX_LINKS):
            calls.append([])
            held = 0
        calls[-1].extend(group)
        held += more
    return [call for call in calls if call]


def encode(job: Job, place: dict[int, int]) -> list[int]:
    """``job``'s depends_on as enqueue.lua takes it: an id, or minus the 1-based place in
    the call of a job saved with it (``place``: id(job) -> place)."""
    return [
        dep if isinstance(dep, int) else dep.id if dep.id is not None else -place[id(dep)]
        for dep in job.depends_on
    ]


def decode_outcome(raw: bytes) -> tuple[str, Any]:
    """A deps-hash value as (outcome name, result or error); never raises."""
    tag, text = raw[:1].decode(errors="replace"), raw[1:]
    name = OUTCOMES.get(tag, "unknown")
    if name == "complete":
        try:
            return name, orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            return "unknown", None
    return name, text.decode(errors="backslashreplace")


def results(depends_on: Sequence[int], outcomes: dict[bytes, bytes]) -> dict[int, Any]:
    """``dependency_results()``: finished dependencies in ``depends_on`` order."""
    found: dict[int, Any] = {}
    for dep in depends_on:
        raw = outcomes.get(str(dep).encode())
        if raw is None:
            continue
        name, value = decode_outcome(raw)
        if name == "complete":
            found[dep] = value
        elif name in ("ignored", "failed"):
            found[dep] = DependencyFailed(dep, str(value))
    return found


def first_result(depends_on: Sequence[int], outcomes: dict[bytes, bytes] | None) -> Any:
    """``job.parent_result``: the result of the first dependency, None if it has none."""
    if not depends_on or not outcomes:
        return None
    value = results(depends_on[:1], outcomes).get(depends_on[0])
    return None if isinstance(value, DependencyFailed) else value


def parse_ids(text: str) -> list[int]:
    """The ``depends_on`` hash field ("3,4,5"); what is not an id is left out."""
    return ids_in(text.split(","))


def ids_in(parts: Sequence[str | bytes]) -> list[int]:
    """The parts that are ids as the scripts write them, as ints; the others (written by
    hand: "²" is a digit to str.isdigit, and int() of 5,000 digits raises) left out."""
    texts = [p.decode(errors="replace") if isinstance(p, bytes) else p for p in parts]
    return [int(p) for p in texts if _ID.fullmatch(p) and int(p) < MAX_INDEX]


async def tree(backend: Backend, job_id: int) -> dict[str, Any]:
    """The job, what it waits for (recursively) and what waits for it (one level): the
    JSON shape of GET /job/{id}/tree. Read level by level, one round trip each."""
    nodes = await backend.nodes([job_id])
    top = nodes.get(job_id)
    if top is None:
        from .errors import JobNotFound

        raise JobNotFound(f"job {job_id} not found")
    seen = {job_id}
    count = 1
    truncated = False

    def node(dep_id: int, outcome: bytes | None) -> dict[str, Any]:
        return {
            "id": dep_id,
            "type": None,
            "state": None,
            "outcome": None if outcome is None else decode_outcome(outcome)[0],
            "depends_on": [],
        }

    root: dict[str, Any] = {
        "id": job_id,
        "type": top.type,
        "state": top.state,
        "outcome": None,
        "depends_on": [],
    }
    level: list[tuple[dict[str, Any], list[int]]] = [(root, top.depends_on)]
    node_of = {job_id: top}
    while level:
        wanted = [dep for _, deps in level for dep in deps if dep not in node_of]
        # no more than the view can still show: a wide level is not read whole
        wanted = list(dict.fromkeys(wanted))[: MAX_TREE - count]
        if wanted:
            node_of.update(await backend.nodes(wanted))
        following: list[tuple[dict[str, Any], list[int]]] = []
        for view, deps in level:
            parent = node_of[view["id"]]
            for dep in deps:
                if count >= MAX_TREE:
                    truncated = True
                    break
                count += 1
                child = node(dep, parent.outcomes.get(str(dep).encode()))
                view["depends_on"].append(child)
                found = node_of.get(dep)
                if found is None:
                    continue  # removed
                child["type"], child["state"] = found.type, found.state
                if dep in seen:
                    child["repeated"] = True
                    continue
                seen.add(dep)
                following.append((child, found.depends_on))
        level = following
    dependents = await backend.dependents(job_id)
    up = await backend.nodes(dependents[:MAX_TREE]) if dependents else {}
    root["dependents"] = [
        {"id": dep, "type": up[dep].type, "state": up[dep].state} for dep in dependents if dep in up
    ]
    if truncated:
        root["truncated"] = True
    return root


@dataclass(frozen=True, slots=True)
class Node:
    """What a tree needs of one job (Backend.nodes)."""

    type: str
    state: str | None
    depends_on: list[int]
    outcomes: dict[bytes, bytes]
