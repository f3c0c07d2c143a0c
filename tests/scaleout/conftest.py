"""Cluster and Sentinel clients close some connections in background tasks; collecting
garbage after each test here makes a connection left open fail the test that left it
(as a ResourceWarning), not whichever test the collector happens to run in later."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def collect_garbage_after() -> Iterator[None]:
    yield
    gc.collect()
