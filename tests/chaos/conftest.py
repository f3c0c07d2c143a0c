"""The fault battery's fixtures: a private redis-server per scenario, child processes,
bounded or full sizes, and the figures each scenario reports.

``make test`` runs every scenario at its bounded size; ``make chaos`` sets
``PYKUE_CHAOS=full`` for the sizes the reliability issue names and prints the figures
(also written to ``PYKUE_CHAOS_FIGURES`` when set).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pykue import Queue
from tests.chaos.support import FIGURES, LEASE, PREFIX, ChaosRedis

FULL = os.environ.get("PYKUE_CHAOS") == "full"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.chaos)
            item.add_marker(pytest.mark.timeout(900 if FULL else 180))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    size = "full" if FULL else "bounded"
    terminalreporter.section(f"pykue chaos figures ({size} sizes)")
    for scenario, figures in sorted(FIGURES.items()):
        shown = ", ".join(f"{k}={v}" for k, v in figures.items())
        terminalreporter.write_line(f"{scenario}: {shown}")
    target = os.environ.get("PYKUE_CHAOS_FIGURES")
    if target:
        shown = {"size": size, **dict(sorted(FIGURES.items()))}
        Path(target).write_text(json.dumps(shown, indent=2) + "\n")


@pytest.fixture
async def queue(chaos_redis: ChaosRedis) -> AsyncIterator[Queue]:
    """The worker scenarios' queue (PREFIX, LEASE) on the scenario's own server."""
    q = Queue(url=chaos_redis.url, prefix=PREFIX, lease=LEASE)
    try:
        yield q
    finally:
        await q.close()


@pytest.fixture
def chaos_redis() -> Iterator[ChaosRedis]:
    """A redis-server of its own, with AOF fsynced on every write (so it can be killed
    and restarted on the same data)."""
    server = ChaosRedis.start(extra=("--appendonly", "yes", "--appendfsync", "always"))
    try:
        yield server
    finally:
        server.stop()
