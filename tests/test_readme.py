"""The README's Python blocks run as written, against the private server."""

from __future__ import annotations

import re

import redis

from tests.helpers import ROOT, assert_invariants, delete_prefix, run_python

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def run_block(code: str, redis_url: str, prefix: str) -> str:
    return run_python(["-c", code], REDIS_URL=redis_url, PYKUE_PREFIX=prefix)


PRINTED = re.findall(r"It prints:\n\n```\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_readme_has_the_six_blocks() -> None:
    assert len(BLOCKS) == 6
    assert "queue.process" in BLOCKS[0]
    assert "pykue.sync" in BLOCKS[1]
    assert "test_mode" in BLOCKS[2]
    assert "queue.schedule" in BLOCKS[3]
    assert "queue.chain" in BLOCKS[4]
    assert "create_app" in BLOCKS[5]
    assert len(PRINTED) == 2  # what the schedules and workflows blocks print


def test_tour_runs_as_written(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    try:
        out = run_block(BLOCKS[0], redis_url, prefix).splitlines()
        assert "job 1: 50% {'step': 'sent'}" in out
        assert "result: {'ok': True}" in out
        assert "job 2 failed: no such mailbox" in out
        assert "['sent to a@b.c']" in out
        counts = "'complete': 1, 'failed': 1, 'delayed': 0, 'waiting': 0}"
        assert out[-1] == "{'inactive': 0, 'active': 0, " + counts
    finally:
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def test_sync_block_runs_as_written(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    try:
        out = run_block(BLOCKS[1], redis_url, prefix).splitlines()
        assert out == [
            "1 inactive",
            "{'inactive': 1, 'active': 0, 'complete': 0, 'failed': 0, 'delayed': 0, 'waiting': 0}",
        ]
    finally:
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def test_test_mode_block_writes_nothing(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    assert run_block(BLOCKS[2], redis_url, prefix) == ""
    assert raw.keys("{" + prefix + "}*") == []


def test_dashboard_block_builds_the_app(redis_url: str, prefix: str) -> None:
    code = BLOCKS[5] + "\nprint('/stats' in app.openapi()['paths'], app.state.pykue_token)"
    assert run_block(code, redis_url, prefix).splitlines() == ["True change-me"]


def test_schedules_block_prints_what_the_readme_says(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    try:
        assert run_block(BLOCKS[3], redis_url, prefix) == PRINTED[0]
        assert raw.hlen("{" + prefix + "}:schedules") == 0  # both removed
    finally:
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def test_workflows_block_prints_what_the_readme_says(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    try:
        assert run_block(BLOCKS[4], redis_url, prefix) == PRINTED[1]
    finally:
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)
