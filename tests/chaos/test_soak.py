"""A long run through one worker with remove_on_complete: memory must stay flat in the
worker and in Redis, and the event stream must stay within its cap."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from pykue import Queue
from tests.chaos.conftest import FULL
from tests.chaos.support import ChaosRedis, Child, record
from tests.helpers import assert_invariants

PREFIX = "soak"
WAVE = 5000  # jobs added whenever the backlog falls under half a wave
EVENTS_MAXLEN = 10_000  # Queue's default
MB = 1 << 20


async def test_soak_keeps_memory_flat(chaos_redis: ChaosRedis, tmp_path: Path) -> None:
    total = 200_000 if FULL else 30_000
    queue = Queue(url=chaos_redis.url, prefix=PREFIX)
    client = chaos_redis.client()
    worker = Child(
        "worker.py",
        [chaos_redis.url, PREFIX, "/dev/null", "--concurrency", "20"],
        tmp_path / "worker.log",
    )
    samples: list[tuple[int, int, int, int]] = []  # (jobs added, worker rss, used_memory, xlen)
    try:
        await queue.connect()
        empty_memory = chaos_redis.used_memory()
        added = 0
        started = time.monotonic()
        while added < total or client.zcard("{soak}:jobs:inactive") > 0:
            assert worker.alive(), worker.output()
            assert time.monotonic() - started < (600 if FULL else 120), "the soak stalled"
            if added < total and client.zcard("{soak}:jobs:inactive") < WAVE // 2:
                count = min(WAVE, total - added)
                await queue.add_bulk(
                    [queue.create("work", {"n": added + n}, remove_on_complete=True)
                     for n in range(count)]
                )  # fmt: skip
                added += count
                samples.append(
                    (added, worker.rss(), chaos_redis.used_memory(), client.xlen("{soak}:events"))
                )
            else:
                await asyncio.sleep(0.05)  # the backlog drains in another process: poll it
        elapsed = time.monotonic() - started
        while (await queue.totals()).completed < total:
            assert time.monotonic() - started < (600 if FULL else 120), "the last jobs never ended"
            await asyncio.sleep(0.05)
        assert worker.stop() == 0, worker.output()
        drained_memory = chaos_redis.used_memory()
        leftover = list(client.scan_iter(match="{soak}:job:*", count=1000))
        assert leftover == [], f"remove_on_complete left {len(leftover)} job keys"
        assert_invariants(client, PREFIX)
    finally:
        worker.kill()
        client.close()
        await queue.close()

    # the first quarter warms up (allocator pools, the stream filling to its cap)
    settled = [s for s in samples if s[0] > total // 4]
    rss = [s[1] for s in settled]
    used = [s[2] for s in settled]
    assert rss[-1] - rss[0] < 10 * MB, f"worker RSS grew {rss[0] // MB} -> {rss[-1] // MB} MB"
    # growth, not the range: an AOF rewrite (the file passes 64 MB in the full soak)
    # holds a buffer for a moment, a spike that is not a leak
    half = len(used) // 2
    growth = statistics.median(used[half:]) - statistics.median(used[:half])
    assert growth < 5 * MB, f"Redis used_memory grew {growth / MB:.1f} MB: {used}"
    assert drained_memory - empty_memory < 10 * MB
    cap = EVENTS_MAXLEN + EVENTS_MAXLEN // 10  # XADD MAXLEN ~ trims whole nodes only
    assert max(s[3] for s in samples) <= cap
    record(
        "7 soak",
        jobs=total,
        seconds=round(elapsed, 1),
        jobs_per_s=round(total / elapsed),
        worker_rss_mb=f"{rss[0] / MB:.1f}->{rss[-1] / MB:.1f}",
        redis_used_mb=f"{min(used) / MB:.1f}..{max(used) / MB:.1f}",
        redis_after_drain_mb=f"{empty_memory / MB:.1f}->{drained_memory / MB:.1f}",
        events_max=max(s[3] for s in samples),
        redis_growth_mb=round(growth / MB, 2),
    )
