"""Every seed example runs as a learner runs it and prints what the seed's transcript shows.

Each runs in a subprocess against the suite's private Redis (REDIS_URL), pykue's
examples on a key prefix of their own. Where the transcript's order depends on timing
(two workers at once, two processes), lines are compared per job or as a set.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pykue.keys import Keys
from tests.helpers import ROOT, RedisServer, assert_invariants, delete_prefix, free_port, run_python

CONNECTED = "Redis client connected to the server"
MESSAGE = "This is the code {} to verify your account"
SEED_KEYS = ("Holberton", "HolbertonSanFrancisco", "HolbertonSchools")
# The 7-job processor's transcript (terminal 2), in job order.
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
SENT_LINES = sorted(
    f"Sending notification to {phone}, with message: {MESSAGE.format(code)}" for phone, code in SENT
)


def example(name: str) -> str:
    return str(ROOT / "examples" / name)


@pytest.fixture
def env(redis_url: str, prefix: str) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "PYKUE_PREFIX": prefix}


@pytest.fixture
def seed_keys(raw: redis.Redis) -> Iterator[None]:
    """The plain-Redis examples write these fixed keys; remove them afterwards."""
    try:
        yield
    finally:
        raw.delete(*SEED_KEYS)


@pytest.fixture
def jobs_checked(raw: redis.Redis, prefix: str) -> Iterator[Keys]:
    try:
        yield Keys(prefix)
    finally:
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


async def start(name: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        example(name),
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    return line.decode().rstrip("\n")


async def interrupt(proc: asyncio.subprocess.Process) -> list[str]:
    """Ctrl-C the program; it must exit cleanly (status 0, nothing on stderr)."""
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert err.decode() == ""
    return out.decode().splitlines()


def test_dump_rdb_answers_school_for_holberton(tmp_path: Path) -> None:
    shutil.copyfile(ROOT / "dump.rdb", tmp_path / "dump.rdb")
    server = RedisServer.start(extra=("--dir", str(tmp_path), "--dbfilename", "dump.rdb"))
    try:
        client = redis.Redis(port=server.port, decode_responses=True)
        assert client.get("Holberton") == "School"
        client.close()
    finally:
        server.stop()


def test_install_redis_sets_the_key_and_writes_a_dump(
    env: dict[str, str], raw: redis.Redis, seed_keys: None, tmp_path: Path
) -> None:
    target = tmp_path / "dump.rdb"
    out = run_python([example("0_install_redis.py"), "--dump", str(target)], **env)
    assert out.splitlines() == ["PONG", "OK", '"School"', f"dump.rdb written to {target}"]
    assert raw.get("Holberton") == "School"
    server = RedisServer.start(extra=("--dir", str(tmp_path), "--dbfilename", "dump.rdb"))
    try:
        assert redis.Redis(port=server.port, decode_responses=True).get("Holberton") == "School"
    finally:
        server.stop()


async def test_redis_client_reports_each_failed_attempt_until_ctrl_c() -> None:
    proc = await start("0_redis_client.py", {"REDIS_URL": f"redis://127.0.0.1:{free_port()}"})
    first, second = await read_line(proc), await read_line(proc)
    for line in (first, second):
        assert line.startswith("Redis client not connected to the server: Error ")
        assert "Connection refused" in line
    rest = await interrupt(proc)
    assert all(line.startswith("Redis client not connected") for line in rest)


async def test_redis_client_connects_and_stays_until_ctrl_c(env: dict[str, str]) -> None:
    proc = await start("0_redis_client.py", env)
    assert await read_line(proc) == CONNECTED
    assert proc.returncode is None  # still connected, as the seed's process is
    assert await interrupt(proc) == []


@pytest.mark.parametrize("name", ["1_redis_op.py", "2_redis_op_async.py"])
def test_set_and_get(name: str, env: dict[str, str], raw: redis.Redis, seed_keys: None) -> None:
    raw.set("Holberton", "School")  # what task 0 leaves in the server
    out = run_python([example(name)], **env)
    assert out.splitlines() == [CONNECTED, "School", "Reply: OK", "100"]
    assert raw.get("HolbertonSanFrancisco") == "100"


def test_hash(env: dict[str, str], raw: redis.Redis, seed_keys: None) -> None:
    for _ in range(2):  # a second run prints the same: each run starts the hash afresh
        out = run_python([example("4_redis_advanced_op.py")], **env).splitlines()
        assert out == [
            CONNECTED,
            *["Reply: 1"] * 6,
            "{'Portland': '50', 'Seattle': '80', 'New York': '20', 'Bogota': '20', "
            "'Cali': '40', 'Paris': '2'}",
        ]


async def test_publisher_and_subscriber(env: dict[str, str], raw: redis.Redis) -> None:
    subscriber = await start("5_subscriber.py", env)
    assert await read_line(subscriber) == CONNECTED
    for _ in range(500):  # until the subscription is in place (an observable state)
        if raw.pubsub_numsub("holberton school channel")[0][1] >= 1:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the subscriber never subscribed")
    out = await asyncio.to_thread(run_python, [example("5_publisher.py")], **env)
    assert out.splitlines() == [
        CONNECTED,
        "About to send Holberton Student #1 starts course",
        "About to send Holberton Student #2 starts course",
        "About to send KILL_SERVER",
        "About to send Holberton Student #3 starts course",
    ]
    rest, err = await asyncio.wait_for(subscriber.communicate(), 30)
    assert subscriber.returncode == 0, err.decode()
    assert rest.decode().splitlines() == [
        "Holberton Student #1 starts course",
        "Holberton Student #2 starts course",
        "KILL_SERVER",
    ]
    assert raw.pubsub_numsub("holberton school channel")[0][1] == 0


async def test_job_creator_and_processor(env: dict[str, str], jobs_checked: Keys) -> None:
    processor = await start("6_job_processor.py", env)
    out = await asyncio.to_thread(run_python, [example("6_job_creator.py")], **env)
    created = re.fullmatch(r"Notification job created: (\d+)", out.splitlines()[0])
    assert created is not None
    assert out.splitlines()[1:] == ["Notification job completed"]
    lines = await interrupt(processor)
    assert lines == [
        "Sending notification to 4153518780, with message: This is the code to verify your account"
    ]


def check_notification_lines(lines: list[str]) -> list[int]:
    """The 7-job creator's lines: 11 created, then each job's events in order."""
    created = [
        int(m[1]) for line in lines if (m := re.fullmatch(r"Notification job created: (\d+)", line))
    ]
    assert len(created) == 11
    assert lines[:11] == [f"Notification job created: {n}" for n in created]
    blacklisted = ["4153518780", "4153518781"]
    for index, job_id in enumerate(created):
        mine = [line for line in lines[11:] if line.startswith(f"Notification job #{job_id} ")]
        if index < 2:
            phone = blacklisted[index]
            assert mine == [
                f"Notification job #{job_id} 0% complete",
                f"Notification job #{job_id} failed: Phone number {phone} is blacklisted",
            ]
        else:
            assert mine == [
                f"Notification job #{job_id} 0% complete",
                f"Notification job #{job_id} 50% complete",
                f"Notification job #{job_id} completed",
            ]
    return created


async def test_progress_creator_and_processor(
    env: dict[str, str], raw: redis.Redis, jobs_checked: Keys
) -> None:
    # as in the seed: the creator in terminal 1 first, then the processor in terminal 2
    creator = await start("7_job_creator.py", env)
    lines = [await read_line(creator) for _ in range(11)]
    processor = await start("7_job_processor.py", env)
    rest, err = await asyncio.wait_for(creator.communicate(), 60)
    assert creator.returncode == 0, err.decode()
    lines += rest.decode().splitlines()
    check_notification_lines(lines)
    assert len(lines) == 11 + 2 * 2 + 9 * 3
    processed = await interrupt(processor)
    assert sorted(processed) == SENT_LINES
    counts = {s: raw.zcard(jobs_checked.state(s)) for s in ("complete", "failed", "active")}
    assert counts == {"complete": 9, "failed": 2, "active": 0}


def test_notifications_demo_runs_both_sides_in_one_process(
    redis_url: str, prefix: str, raw: redis.Redis, jobs_checked: Keys
) -> None:
    lines = run_python([example("notifications_demo.py"), redis_url], PYKUE_PREFIX=prefix)
    lines_list = lines.splitlines()
    check_notification_lines([line for line in lines_list if not line.startswith("Sending")])
    assert sorted(line for line in lines_list if line.startswith("Sending")) == SENT_LINES
    assert len(lines_list) == 11 + 9 + 2 * 2 + 9 * 3


async def test_job_function_main_creates_one_job(env: dict[str, str], jobs_checked: Keys) -> None:
    main = await start("8_job_main.py", env)
    line = await read_line(main)
    assert re.fullmatch(r"Notification job created: \d+", line)
    assert await interrupt(main) == []  # nothing processes push_notification_code_3
