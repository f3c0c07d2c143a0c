"""Redis itself fails under load: killed and restarted on its AOF, or down for seconds.
Producers and workers must reconnect by themselves and no saved job may be lost."""

from __future__ import annotations

import asyncio
import collections
import signal
import time
from pathlib import Path

import pytest

from pykue import Queue
from tests.chaos.conftest import FULL
from tests.chaos.support import ChaosRedis, Child, read_lines, record
from tests.helpers import assert_invariants, wait_until

PREFIX = "chaos"


class Load:
    """Producer and worker processes sharing one queue, and what they wrote down."""

    def __init__(self, tmp_path: Path, server: ChaosRedis, producers: int, per_producer: int):
        self.tmp_path, self.server, self.per_producer = tmp_path, server, per_producer
        self.producers = [
            Child(
                "producer.py",
                [server.url, PREFIX, str(tmp_path / f"saved-{n}"), "--count", str(per_producer),
                 "--every", "0.002"],
                tmp_path / f"producer-{n}.log",
            )
            for n in range(producers)
        ]  # fmt: skip
        self.workers = [
            Child(
                "worker.py",
                [server.url, PREFIX, str(tmp_path / "effects"), "--concurrency", "10",
                 "--sleep", "0.01", "--lease", "2"],
                tmp_path / f"worker-{n}.log",
            )
            for n in range(2)
        ]  # fmt: skip
        self.retired: list[Child] = []  # workers stopped on purpose

    @property
    def children(self) -> list[Child]:
        return self.producers + self.workers + self.retired

    def saved(self) -> list[int]:
        """The job id of every save() that returned; each producer saved each seq once."""
        ids = []
        for n in range(len(self.producers)):
            lines = read_lines(self.tmp_path / f"saved-{n}")
            assert [int(seq) for seq, _ in lines] == list(range(self.per_producer))
            ids += [int(job_id) for _, job_id in lines]
        return ids

    def saved_count(self) -> int:
        return sum(
            len(read_lines(self.tmp_path / f"saved-{n}")) for n in range(len(self.producers))
        )

    def assert_alive(self) -> None:
        for child in self.workers:
            assert child.alive(), f"a worker died:\n{child.output()}"
        for child in self.producers:
            assert child.alive() or child.proc.returncode == 0, child.output()

    def finish(self, timeout: float) -> None:
        for child in self.producers:
            assert child.proc.wait(timeout=timeout) == 0, child.output()
        client = self.server.client()
        try:
            total = self.saved_count()
            wait_until(
                lambda: client.zcard("{chaos}:jobs:complete") >= total, "the backlog", timeout
            )
        finally:
            client.close()
        for child in self.workers:
            assert child.stop() == 0, child.output()

    def kill_all(self) -> None:
        for child in self.children:
            child.kill()

    async def check_nothing_lost(self) -> dict[str, int]:
        """Every saved job exists and is complete; no job exists that no save returned."""
        saved = self.saved()
        ids = set(saved)
        assert len(ids) == len(saved), "two saves returned the same job"
        queue = Queue(url=self.server.url, prefix=PREFIX)
        client = self.server.client()
        try:
            counts = await queue.counts()
            complete = {int(i) for i in client.zrange("{chaos}:jobs:complete", 0, -1)}
            assert ids == complete, (
                f"saved but not complete: {sorted(ids - complete)[:10]}, "
                f"complete but never saved: {sorted(complete - ids)[:10]}"
            )
            assert counts == {**dict.fromkeys(counts, 0), "complete": len(ids)}
            assert_invariants(client, PREFIX)
        finally:
            await queue.close()
            client.close()
        effects = collections.Counter(
            int(line[0]) for line in read_lines(self.tmp_path / "effects")
        )
        assert set(effects) == ids
        return {
            "jobs_saved": len(ids),
            "duplicate_side_effects": sum(n > 1 for n in effects.values()),
        }


def retried_saves(load: Load) -> int:
    """Saves the producers had to retry themselves (the client's own retries hid the rest)."""
    return sum(c.output().count("failed (") for c in load.producers)


async def test_redis_killed_and_restarted_on_its_aof_loses_no_saved_job(
    chaos_redis: ChaosRedis, tmp_path: Path
) -> None:
    per_producer, restarts = (5000, 3) if FULL else (1500, 1)
    load = Load(tmp_path, chaos_redis, producers=2, per_producer=per_producer)
    try:
        downtimes = []
        for n in range(restarts):
            target = (n + 1) * 2 * per_producer // (restarts + 1)
            wait_until(lambda t=target: load.saved_count() >= t, f"{target} saves", 60)
            load.assert_alive()
            chaos_redis.kill()  # SIGKILL: no shutdown, only what the AOF already holds
            killed = time.monotonic()
            chaos_redis.restart()
            downtimes.append(time.monotonic() - killed)
        load.finish(timeout=120)
        figures = await load.check_nothing_lost()
    finally:
        load.kill_all()
    record(
        "2 Redis SIGKILL + restart (AOF always)",
        **figures,
        restarts=restarts,
        saves_retried=retried_saves(load),
        downtime_s=round(max(downtimes), 2),
    )


@pytest.mark.parametrize("how", ["down", "frozen"])
async def test_redis_outage_is_ridden_out(
    chaos_redis: ChaosRedis, tmp_path: Path, how: str
) -> None:
    outage = 10.0 if FULL else 5.0
    per_producer = 3000 if FULL else 1500
    load = Load(tmp_path, chaos_redis, producers=2, per_producer=per_producer)
    try:
        wait_until(lambda: load.saved_count() >= per_producer // 2, "the first saves", 60)
        started = time.monotonic()
        if how == "down":
            chaos_redis.proc.send_signal(signal.SIGTERM)  # a clean stop: the AOF is flushed
            chaos_redis.proc.wait(timeout=10)
        else:
            chaos_redis.pause()  # SIGSTOP: connections stay open but nothing answers
        await asyncio.sleep(1.0)  # every child notices; the outage goes on for `outage` s
        load.assert_alive()
        saved_before = load.saved_count()  # (a reply already on its way may land first)
        # a worker asked to stop while Redis is away must still stop, and lose nothing
        leaving = load.workers.pop()
        load.retired.append(leaving)
        stop_asked = time.monotonic()
        assert await asyncio.to_thread(leaving.stop, 30) == 0, leaving.output()
        stopped_in = time.monotonic() - stop_asked
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - started)))
        load.assert_alive()
        assert load.saved_count() == saved_before
        if how == "down":
            chaos_redis.restart()
        else:
            chaos_redis.resume()
        resumed = time.monotonic()
        wait_until(lambda: load.saved_count() > saved_before, "the producers to resume", 60)
        resume_s = time.monotonic() - resumed
        load.finish(timeout=120)
        figures = await load.check_nothing_lost()
    finally:
        load.kill_all()
    for child in load.children:
        assert "Traceback" not in child.output(), child.output()
    if how == "down":  # a frozen server answers late but never errs: nothing to log
        for child in load.workers:
            lost, back = (
                child.output().count("cannot reach Redis"),
                child.output().count("reached Redis again"),
            )
            assert (lost, back) == (1, 1), child.output()
    record(
        f"3 Redis outage ({how})",
        **figures,
        outage_s=round(resumed - started, 1),
        producers_resumed_after_s=round(resume_s, 2),
        saves_retried=retried_saves(load),
        worker_stopped_during_outage_in_s=round(stopped_in, 1),
    )
