"""Schedules: rules and their daylight saving edges on a fixed clock, storage by key,
the worker's compare and set on each run, catch-up after downtime."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from pykue import InvalidArgument, Queue, Schedule, ScheduleNotFound
from pykue.keys import Keys
from pykue.schedules import Rule, parse_rule, plan
from pykue.scripts import Fired
from tests.helpers import assert_invariants
from tests.test_worker import running

PARIS = ZoneInfo("Europe/Paris")


def ms(year: int, month: int, day: int, hour: int, minute: int = 0, tz: Any = UTC) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=tz).timestamp() * 1000)


def runs(rule: Rule, start: int, count: int) -> list[str]:
    """The next ``count`` occurrences after ``start``, as local ISO times with offsets."""
    found, at = [], start
    for _ in range(count):
        at = rule.next_after(at)
        found.append(datetime.fromtimestamp(at / 1000, ZoneInfo(rule.tz)).isoformat())
    return found


# -- rules, on a fixed clock ---------------------------------------------------------------


def test_a_time_in_the_skipped_hour_runs_once_when_clocks_spring_forward() -> None:
    # Paris, 29 March 2026: 02:00 becomes 03:00; 02:30 does not exist that day
    rule = parse_rule("30 2 * * *", None, "Europe/Paris")
    assert runs(rule, ms(2026, 3, 27, 12), 4) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # once, at the end of the gap
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_a_time_in_the_repeated_hour_runs_once_when_clocks_fall_back() -> None:
    # Paris, 25 October 2026: 03:00 becomes 02:00; 02:30 happens twice that night
    rule = parse_rule("30 2 * * *", None, "Europe/Paris")
    assert runs(rule, ms(2026, 10, 24, 12), 3) == [
        "2026-10-25T02:30:00+02:00",  # the first 02:30 only
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]


def test_an_interval_rule_runs_in_both_copies_of_the_repeated_hour() -> None:
    rule = parse_rule("0,30 * * * *", None, "Europe/Paris")
    assert runs(rule, ms(2026, 10, 25, 1, 45, PARIS), 5) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_cron_rules_follow_their_time_zone_and_every_is_plain_milliseconds() -> None:
    six = parse_rule("0 6 * * *", None, "America/New_York")
    assert runs(six, ms(2026, 1, 1, 0), 1) == ["2026-01-01T06:00:00-05:00"]
    assert (
        parse_rule(None, timedelta(minutes=1, milliseconds=500), "UTC").next_after(1000) == 61_500
    )
    assert parse_rule(None, 30, "UTC") == Rule(None, 30_000, "UTC")


def test_plan_makes_one_job_on_time_and_one_or_none_for_many_missed_runs() -> None:
    every = Rule(None, 1000, "UTC")
    assert plan(every, due=10_000, now=10_200, catch_up=True) == (True, 11_000)
    # all workers down from 10 s to 15.3 s: runs 10..15 passed; one job, next at 16 s
    assert plan(every, due=10_000, now=15_300, catch_up=True) == (True, 16_000)
    assert plan(every, due=10_000, now=15_300, catch_up=False) == (False, 16_000)
    hourly = parse_rule("0 * * * *", None, "UTC")
    late = ms(2026, 5, 1, 9, 10)
    assert plan(hourly, ms(2026, 5, 1, 9), late, True) == (True, ms(2026, 5, 1, 10))
    assert plan(hourly, ms(2026, 5, 1, 5), late, False) == (False, ms(2026, 5, 1, 10))


# -- stored by key -------------------------------------------------------------------------


async def test_schedule_stores_a_rule_lists_replaces_and_removes_it(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    first = await queue.schedule(
        "report.daily", key="daily", cron="0 6 * * *", tz="Europe/Paris",
        data={"to": "ops"}, priority="high", attempts=3,
    )  # fmt: skip
    assert isinstance(first, Schedule)
    assert (first.key, first.type, first.cron, first.every, first.tz) == (
        "daily", "report.daily", "0 6 * * *", None, "Europe/Paris"
    )  # fmt: skip
    assert first.data == {"to": "ops"}
    assert first.options["priority"] == -10
    assert first.options["attempts"] == 3
    assert first.next_run_at is not None
    when = datetime.fromtimestamp(first.next_run_at / 1000, PARIS)
    assert (when.hour, when.minute) == (6, 0)
    hb = await queue.schedule("heartbeat", key="hb", every=30.0)
    assert [s.key for s in await queue.schedules()] == ["daily", "hb"]
    assert hb.next_run_at is not None
    assert hb.created_at is not None
    assert 29_000 <= hb.next_run_at - hb.created_at <= 31_000

    replaced = await queue.schedule("report.daily", key="daily", every=60, data={"to": "dev"})
    assert (replaced.cron, replaced.every, replaced.data) == (None, 60.0, {"to": "dev"})
    assert replaced.created_at == first.created_at  # the same schedule, replaced
    assert (await queue.get_schedule("daily")).to_dict() == replaced.to_dict()
    assert await queue.unschedule("daily") is True
    assert await queue.unschedule("daily") is False
    with pytest.raises(ScheduleNotFound, match="daily"):
        await queue.get_schedule("daily")
    assert [s.key for s in await queue.schedules()] == ["hb"]
    keys = Keys(prefix)
    assert raw.hkeys(keys.schedules) == ["hb"]
    assert raw.zrange(keys.schedules_due, 0, -1) == ["hb"]


async def test_saving_the_same_rule_again_keeps_the_next_run(queue: Queue) -> None:
    # an app that declares its schedules at every start must not push their runs back
    first = await queue.schedule("heartbeat", key="hb", every=30.0, data={"v": 1})
    again = await queue.schedule("heartbeat", key="hb", every=30.0, data={"v": 2})
    assert again.next_run_at == first.next_run_at
    assert again.data == {"v": 2}
    other = await queue.schedule("heartbeat", key="hb", every=60.0)
    assert other.next_run_at != first.next_run_at


async def test_a_bad_schedule_writes_nothing_and_keeps_the_one_it_would_replace(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    await queue.schedule("heartbeat", key="hb", every=30.0)
    before = {key: raw.dump(key) for key in raw.keys(f"{{{prefix}}}*") if "events" not in key}
    for options in (
        {"cron": "61 * * * *"},
        {"cron": "0 6 * * *", "tz": "Mars/Olympus"},
        {"every": 0},
        {"every": -1},
        {"cron": "* * * * *", "every": 5},
        {},
        {"every": 5, "data": {"a": float("nan")}},
    ):
        with pytest.raises(InvalidArgument):
            await queue.schedule("heartbeat", key="hb", **options)
    after = {key: raw.dump(key) for key in raw.keys(f"{{{prefix}}}*") if "events" not in key}
    assert after == before
    assert (await queue.get_schedule("hb")).every == 30.0


# -- the workers run them ------------------------------------------------------------------


async def test_running_workers_make_one_job_per_run_carrying_the_schedule_key(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    made: asyncio.Queue[Any] = asyncio.Queue()

    @queue.process("heartbeat")
    async def beat(job: Any) -> None:
        await made.put((job.id, job.schedule, job.data))

    await queue.schedule("heartbeat", key="hb", every=0.2, data={"n": 1})
    async with running(queue):
        seen = [await asyncio.wait_for(made.get(), 10) for _ in range(3)]
        await queue.unschedule("hb")
    assert [s[1:] for s in seen] == [("hb", {"n": 1})] * 3
    stored = await queue.get_job(seen[0][0])
    assert stored.schedule == "hb"
    assert stored.to_dict()["schedule"] == "hb"
    assert (await queue.totals()).scheduled >= 3
    assert_invariants(raw, prefix)


async def test_a_run_is_taken_once_whoever_asks_and_a_replaced_form_makes_nothing(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    await queue.schedule("heartbeat", key="hb", every=30.0)
    keys = Keys(prefix)
    raw.zadd(keys.schedules_due, {"hb": 1000})  # due long ago
    scripts = await queue._redis.ensure()
    version = __import__("orjson").loads(raw.hget(keys.schedules, "hb"))["version"]
    assert await scripts.fire_schedule("hb", version, 1000, 5000, True) == (
        Fired.MADE, int(raw.get(keys.ids))
    )  # fmt: skip
    # a second worker that read the same due run: taken
    assert await scripts.fire_schedule("hb", version, 1000, 5000, True) == (Fired.TAKEN, 0)
    assert await scripts.fire_schedule("hb", version, 5000, 9000, True) == (Fired.MADE, 2)
    await queue.schedule("heartbeat", key="hb", every=10.0)  # replaced: a new version
    due = int(raw.zscore(keys.schedules_due, "hb") or 0)
    assert await scripts.fire_schedule("hb", version, due, due + 1, True) == (Fired.TAKEN, 0)
    # a run not yet due by Redis's clock is left
    fresh = __import__("orjson").loads(raw.hget(keys.schedules, "hb"))["version"]
    fired, _ = await scripts.fire_schedule("hb", fresh, due, due + 10_000, True)
    assert fired is Fired.EARLY
    assert raw.zcard(keys.all_jobs) == 2


@pytest.mark.parametrize("catch_up", [True, False])
async def test_after_downtime_missed_runs_make_one_job_or_none(
    queue: Queue, raw: redis.Redis, prefix: str, catch_up: bool
) -> None:
    made: asyncio.Queue[str | None] = asyncio.Queue()

    @queue.process("report")
    async def report(job: Any) -> None:
        await made.put(job.schedule)

    await queue.schedule("report", key="r", every=3600, catch_up=catch_up)
    keys = Keys(prefix)
    seconds, _ = raw.time()
    now = int(seconds) * 1000
    raw.zadd(keys.schedules_due, {"r": now - 5 * 3600_000 - 1000})  # five runs passed unseen
    async with running(queue):
        # a later schedule's first job: the worker's look at the due runs, which takes
        # them in order of their time, has passed "r" by then
        await queue.schedule("report", key="after", every=0.05)
        while await asyncio.wait_for(made.get(), 10) != "after":
            pass
        await queue.unschedule("after")
    made_by_r = await queue.jobs(type="report")
    assert sum(job.schedule == "r" for job in made_by_r) == (1 if catch_up else 0)
    schedule = await queue.get_schedule("r")
    assert schedule.next_run_at is not None
    assert now < schedule.next_run_at <= now + 3600_000
    assert (schedule.last_job_id is not None) is catch_up


async def test_a_schedule_written_by_hand_is_skipped_and_the_others_run(
    queue: Queue, raw: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    made: asyncio.Queue[str | None] = asyncio.Queue()

    @queue.process("beat")
    async def beat(job: Any) -> None:
        await made.put(job.schedule)

    keys = Keys(prefix)
    raw.hset(keys.schedules, "junk", "{not json")
    raw.hset(keys.schedules, "badzone", '{"version": "v", "cron": "* * * * *", "every_ms": null,'
             ' "tz": "Mars/Olympus", "entry": ["beat", "{}", 0, 0, 1, "", 0, "", ""]}')  # fmt: skip
    # an entry whose delay is no number: fire_schedule.lua itself errs on it
    raw.hset(keys.schedules, "baddelay", '{"version": "v", "cron": null, "every_ms": 1000,'
             ' "tz": "UTC", "entry": ["beat", "{}", "x", 0, 1, "", 0, "", ""]}')  # fmt: skip
    raw.zadd(keys.schedules_due, {"junk": 1, "badzone": 2, "baddelay": 3})
    await queue.schedule("beat", key="good", every=0.1)
    async with running(queue):
        assert await asyncio.wait_for(made.get(), 10) == "good"
    assert "schedule badzone cannot be planned" in caplog.text
    assert "schedule baddelay cannot be planned" in caplog.text


async def test_test_mode_keeps_schedules_and_runs_none(queue: Queue) -> None:
    queue.test_mode.enter()
    try:
        created = await queue.schedule("beat", key="b", every=0.01, data={"x": 1})
        assert [s.to_dict() for s in await queue.schedules()] == [created.to_dict()]
        assert created.data == {"x": 1}
        assert created.next_run_at is not None
        assert await queue.unschedule("b") is True
        assert await queue.schedules() == []
        with pytest.raises(InvalidArgument):
            await queue.schedule("beat", key="b", cron="nope")
        assert queue.test_mode.jobs == []
    finally:
        queue.test_mode.exit()


async def test_a_due_time_written_by_hand_with_a_fraction_still_runs_once(
    queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    made: asyncio.Queue[str | None] = asyncio.Queue()

    @queue.process("beat")
    async def beat(job: Any) -> None:
        await made.put(job.schedule)

    await queue.schedule("beat", key="b", every=3600)
    keys = Keys(prefix)
    raw.zadd(keys.schedules_due, {"b": 1000.5})
    async with running(queue):
        assert await asyncio.wait_for(made.get(), 10) == "b"
    score = raw.zscore(keys.schedules_due, "b")
    assert score is not None
    assert score == int(score)
    assert score > 1000.5
    assert made.empty()
