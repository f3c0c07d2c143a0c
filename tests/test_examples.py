"""The examples run as a user runs them and print what the seed transcripts show."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis

from pykue.keys import Keys
from tests.helpers import ROOT, assert_invariants, delete_prefix, run_python

BLACKLISTED = {"4153518780", "4153518781"}
MESSAGE = "This is the code {} to verify your account"
# The processor's transcript in the seed (terminal 2), in job order.
SENT = [
    ("4153518743", "4321"),
    ("4153538781", "4562"),
    ("4153118782", "4321"),
    ("4153718781", "4562"),
    ("4159518782", "4321"),
    ("4158718781", "4562"),
    ("4153818782", "4321"),
    ("4154318781", "4562"),
    ("4151218782", "4321"),
]


@pytest.fixture
def clean_prefix(raw: redis.Redis, prefix: str) -> Iterator[str]:
    try:
        yield prefix
    finally:
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def run_example(name: str, redis_url: str, prefix: str) -> list[str]:
    out = run_python([str(ROOT / "examples" / name), redis_url], PYKUE_PREFIX=prefix)
    return out.splitlines()


def test_notifications_demo_prints_the_seed_lines(
    redis_url: str, clean_prefix: str, raw: redis.Redis
) -> None:
    lines = run_example("notifications_demo.py", redis_url, clean_prefix)

    created = [
        int(m[1]) for line in lines if (m := re.fullmatch(r"Notification job created: (\d+)", line))
    ]
    assert len(created) == 11
    assert lines[:11] == [f"Notification job created: {n}" for n in created]

    sent = [line for line in lines if line.startswith("Sending notification")]
    assert sorted(sent) == sorted(
        f"Sending notification to {phone}, with message: {MESSAGE.format(code)}"
        for phone, code in SENT
    )

    # per job, the producer sees its events in order and nothing else
    phones = [p for p, _ in SENT]
    for index, job_id in enumerate(created):
        mine = [line for line in lines[11:] if line.startswith(f"Notification job #{job_id} ")]
        if index < 2:
            phone = ["4153518780", "4153518781"][index]
            assert mine == [
                f"Notification job #{job_id} 0% complete",
                f"Notification job #{job_id} failed: Phone number {phone} is blacklisted",
            ]
        else:
            assert phones[index - 2] not in BLACKLISTED
            assert mine == [
                f"Notification job #{job_id} 0% complete",
                f"Notification job #{job_id} 50% complete",
                f"Notification job #{job_id} completed",
            ]
    assert len(lines) == 11 + 9 + 2 * 2 + 9 * 3

    keys = Keys(clean_prefix)
    states = {state: raw.zcard(keys.state(state)) for state in ("complete", "failed")}
    assert states == {"complete": 9, "failed": 2}
