"""Helpers for the fault battery: a killable Redis with snapshots, child processes that
can be killed, stopped and resumed, and the figures table."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.helpers import ROOT, RedisServer

PROGRAMS = Path(__file__).parent / "programs"
PREFIX = "chaos"  # the queue of the worker scenarios
LEASE = 1.0  # their lease: short, so that faults show within seconds
FIGURES: dict[str, dict[str, Any]] = {}


def record(scenario: str, **figures: Any) -> None:
    """Keep a scenario's figures for the summary `make chaos` prints."""
    FIGURES.setdefault(scenario, {}).update(figures)


class ChaosRedis(RedisServer):
    """A private redis-server that scenarios may kill, pause and snapshot."""

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.resume()  # a paused server would sit on the SIGTERM
        super().stop()

    def snapshot(self) -> dict[str, tuple[str, bytes | None, bool]]:
        """Every key with its type, serialized value and whether it expires."""
        client = redis.Redis(port=self.port)
        try:
            found: dict[str, tuple[str, bytes | None, bool]] = {}
            for key in client.scan_iter(count=1000):
                found[key.decode(errors="replace")] = (
                    client.type(key).decode(),
                    client.dump(key),
                    client.pttl(key) > 0,
                )
            return found
        finally:
            client.close()

    def used_memory(self) -> int:
        client = redis.Redis(port=self.port)
        try:
            return int(client.info("memory")["used_memory"])
        finally:
            client.close()


@dataclass
class Child:
    """A Python program from tests/chaos/programs, its output kept in a log file."""

    name: str
    args: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(PROGRAMS / self.name), *self.args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM (a graceful stop) and wait; the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(
                f"{self.name} ignored SIGTERM for {timeout} s:\n{self.output()}"
            ) from None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss(self) -> int:
        """Resident set size in bytes (from /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for {self.pid}")


def read_lines(path: Path) -> list[list[str]]:
    """The whitespace-split lines a child appended to ``path`` (none if it is missing)."""
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def worker_child(tmp_path: Path, url: str, name: object, *extra: str) -> Child:
    """A worker process (programs/worker.py) on PREFIX with LEASE, recording the side
    effect of each job it runs in ``tmp_path / "effects"``."""
    args = [url, PREFIX, str(tmp_path / "effects"), "--lease", str(LEASE), *extra]
    return Child("worker.py", args, tmp_path / f"worker-{name}.log")
