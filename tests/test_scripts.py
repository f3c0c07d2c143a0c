"""The typed boundary to the Lua scripts: one key layout (keys.py) and one event table
(event_names.py) that the scripts are built from, and the contract of each typed method
of ``Scripts``, on the real test Redis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from importlib.resources import files
from typing import Any

import orjson
import pytest
import redis

from pykue import InvalidState, JobNotFound, LeaseLost, Queue
from pykue.connection import close_client, create_client
from pykue.event_names import EVENTS, JOB_EVENTS, QUEUE_EVENTS
from pykue.events import event_args
from pykue.keys import INACTIVE_WEIGHT, LAYOUT, Keys
from pykue.scripts import (
    NAMES,
    AckCall,
    Claim,
    ClaimRequest,
    Complete,
    Fail,
    FailOutcome,
    Promoted,
    Recovered,
    Release,
    ScriptError,
    Scripts,
    prelude,
    replies,
    source,
)
from pykue.scripts.loader import check_emits, emitted, lua_name
from pykue.stats import BUCKETS_MS
from tests.helpers import assert_invariants, delete_prefix

LUA_FILES = sorted(
    (p for p in files("pykue.scripts").iterdir() if p.name.endswith(".lua")), key=lambda p: p.name
)
WORKER = "w-test"
LEASE_MS = 60_000


def lua_code(text: str) -> str:
    """A script without its ``--`` comments (no script has ``--`` inside a string)."""
    return "\n".join(line.partition("--")[0] for line in text.splitlines())


# -- one key layout ------------------------------------------------------------------------


def test_no_script_spells_a_key_name() -> None:
    assert LUA_FILES
    for path in LUA_FILES:
        code = lua_code(path.read_text())
        suffixes = re.findall(r"""['"]:[A-Za-z_{]""", code)
        assert not suffixes, f"{path.name} builds a key by hand: {suffixes}"
        assert "BASE" not in code, f"{path.name} builds a key from BASE by hand"
        assert "BUCKETS = " not in code, path.name
        assert "INACTIVE_WEIGHT = " not in code, path.name


def sample(key: str) -> dict[str, object]:
    values: dict[str, object] = {
        "id": 42,
        "state": "failed",
        "jtype": "mail.send-1",
        "token": "tok",
        "request": "r1",
        "minute": 29_000_000,
        "limit": "customer-7",
    }
    return {name: values[name] for name in re.findall(r"\{(\w+)\}", LAYOUT[key])}


def lua_expression(key: str) -> str:
    args = sample(key)
    if not args:
        return lua_name(key)
    quoted = (str(v) if isinstance(v, int) else f"'{v}'" for v in args.values())
    return f"{lua_name(key)}({', '.join(quoted)})"


def python_name(keys: Keys, key: str) -> str:
    """The name keys.py gives ``key``: from its method where it has one."""
    if key == "claim_memo":  # used by claim.lua only: no Python method
        return keys.base + LAYOUT[key].format(**sample(key))
    member = getattr(keys, key)
    return str(member(*sample(key).values()) if callable(member) else member)


def test_the_lua_builds_the_names_keys_py_builds(raw: redis.Redis, prefix: str) -> None:
    keys = Keys(prefix)
    built = [key for key in LAYOUT if key != "events"]
    script = prelude() + "return {EVENTS, " + ", ".join(map(lua_expression, built)) + "}"
    names = raw.eval(script, 1, keys.events, keys.base, 100)
    assert names == [keys.events, *(python_name(keys, key) for key in built)]
    assert keys.job(42) == keys.job_prefix + "42"
    assert "claim_memo" not in dir(Keys)  # the name is the script's business alone


def test_buckets_and_weight_come_from_python(raw: redis.Redis, prefix: str) -> None:
    script = prelude() + "return {INACTIVE_WEIGHT, unpack(BUCKETS)}"
    assert raw.eval(script, 1, Keys(prefix).events, Keys(prefix).base, 100) == [
        INACTIVE_WEIGHT,
        *BUCKETS_MS,
    ]


# -- one event table -----------------------------------------------------------------------


def test_every_emitted_event_can_be_subscribed_to() -> None:
    seen: set[str] = set()
    for path in LUA_FILES:
        for name, _fields in emitted(path.read_text()):
            seen.add(name)
            if EVENTS[name].job:
                assert name in JOB_EVENTS, name
                assert "job " + name in QUEUE_EVENTS, name
            else:
                assert name in QUEUE_EVENTS, name
                assert name not in JOB_EVENTS, name
    assert {"state", "priority", "stalled", "pause", "resume"} <= seen
    assert seen == set(EVENTS), "the table names an event no script emits"
    for name in NAMES:
        source(name)  # every script passes the loader's checks


@pytest.mark.parametrize(
    ("lua", "why"),
    [
        ("emit('event', 'frozen', 'id', id, 'type', t)", "does not list"),
        ("emit('event', 'start', 'id', id)", "fields"),
        ("emit('event', 'remove', 'id', id, 'type', t, 'why', w)", "fields"),
        ("emit('event', on and 'pause' or 'resume', 'type', t)", "emit must be"),
        ("emit('event', 'failed', 'id', id, 'type', t, name, e)", "literal"),
    ],
)
def test_the_loader_refuses_an_emit_the_table_lacks(lua: str, why: str) -> None:
    with pytest.raises(ScriptError, match=why):
        check_emits(f"local x = 1\n{lua}\n", "bad.lua")


def test_comments_and_the_definition_are_not_emits() -> None:
    check_emits("local function emit(...) end\n-- emit('event', 'frozen')\n", "ok.lua")


def test_listeners_get_the_new_events_arguments() -> None:
    assert event_args("state", {b"from": b"active", b"to": b"failed"}) == ("active", "failed")
    assert event_args("priority", {b"priority": b"-10"}) == (-10,)
    assert event_args("stalled", {b"stalls": b"2"}) == (2,)


async def test_queue_on_job_state_and_priority_are_delivered(queue: Queue) -> None:
    await queue.connect()
    enqueued = asyncio.Event()
    got: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
    queue.on("job enqueue", lambda job_id, job_type: enqueued.set())
    queue.on("job state", lambda *args: got.put_nowait(("state", args)))
    queue.on("job priority", lambda *args: got.put_nowait(("priority", args)))
    job = await queue.create("mail", {}).save()
    await asyncio.wait_for(enqueued.wait(), 10)  # the reader is past its start
    await queue.set_state(job.job_id, "complete")
    await queue.set_priority(job.job_id, "high")
    first = await asyncio.wait_for(got.get(), 10)
    second = await asyncio.wait_for(got.get(), 10)
    assert first == ("state", (job.job_id, "inactive", "complete"))
    assert second == ("priority", (job.job_id, -10))


# -- the typed methods ---------------------------------------------------------------------


@pytest.fixture
async def scripts(redis_url: str, prefix: str, raw: redis.Redis) -> AsyncIterator[Scripts]:
    client = create_client(redis_url)
    try:
        yield Scripts(client, Keys(prefix), 1000)
    finally:
        await close_client(client)
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


def payload(*jobs: dict[str, Any]) -> bytes:
    """enqueue.lua's list: [type, data, delay, priority, attempts, backoff, ttl, remove,
    unique] per job."""
    return orjson.dumps(
        [
            [j.get("type", "t"), "{}", j.get("delay", 0), j.get("priority", 0),
             j.get("attempts", 1), "", 0, "", j.get("unique", "")]
            for j in jobs
        ]
    )  # fmt: skip


async def add(scripts: Scripts, count: int = 1, **job: Any) -> list[int]:
    enqueued = await scripts.enqueue(f"tok-{job}-{count}", 60, payload(*[job] * count))
    return [saved.id for saved in enqueued.saved]


async def take(scripts: Scripts, count: int = 1, job_type: str = "t", rid: str = "r") -> Claim:
    return await scripts.claim(job_type, count, WORKER, LEASE_MS, rid)


async def test_enqueue_answers_each_job_and_a_resent_call_creates_nothing(
    scripts: Scripts,
) -> None:
    first = await scripts.enqueue("tok", 60, payload({}, {"unique": "u1"}))
    assert first.replicas is None
    assert [s.created for s in first.saved] == [True, True]
    assert all(s.event and re.fullmatch(r"\d+-\d+", s.event) for s in first.saved)
    again = await scripts.enqueue("tok", 60, payload({}, {"unique": "u1"}))
    # answered from the save token: the same ids, as the first call created them
    assert [(s.id, s.event, s.created) for s in again.saved] == [
        (s.id, None, True) for s in first.saved
    ]
    other = await scripts.enqueue("tok2", 60, payload({"unique": "u1"}))
    assert [(s.id, s.event, s.created) for s in other.saved] == [(first.saved[1].id, None, False)]


async def test_enqueue_with_replicas_reports_the_wait(scripts: Scripts) -> None:
    enqueued = await scripts.enqueue("tok", 60, payload({}), replicas=1, replica_timeout_ms=1)
    assert enqueued.replicas == 0  # the test server has none
    assert len(enqueued.saved) == 1


async def test_claim_takes_jobs_with_tokens_and_a_resent_request_takes_no_more(
    scripts: Scripts,
) -> None:
    ids = await add(scripts, 3)
    claim = await take(scripts, 2)
    assert (claim.paused, claim.refused, claim.next_run) == (False, None, -1)
    assert claim.now > 0
    assert [c.id for c in claim.jobs] == ids[:2]
    for claimed in claim.jobs:
        assert claimed.token == 1
        assert claimed.fields is not None
        assert claimed.fields[b"state"] == b"active"
        assert claimed.fields[b"token"] == b"1"
        assert claimed.fields[b"worker"] == WORKER.encode()
    resent = await take(scripts, 2)
    assert [(c.id, c.token) for c in resent.jobs] == [(c.id, c.token) for c in claim.jobs]
    assert [c.id for c in (await take(scripts, 5, rid="r2")).jobs] == ids[2:]


async def test_claim_says_paused_and_when_the_next_delayed_job_runs(scripts: Scripts) -> None:
    await add(scripts, delay=60_000)
    claim = await take(scripts)
    assert claim.jobs == []
    assert claim.next_run >= claim.now + 59_000
    assert await scripts.pause("t", True) is True
    assert await scripts.pause("t", True) is False
    assert (await take(scripts, rid="r2")).paused is True
    assert await scripts.pause("t", False) is True


async def test_extend_lease_names_lost_leases_by_zero_based_place(scripts: Scripts) -> None:
    ids = await add(scripts, 2)
    claim = await take(scripts, 2)
    a, b = ((c.id, c.token) for c in claim.jobs)
    assert await scripts.extend_lease(LEASE_MS, [a, b]) == []
    assert await scripts.extend_lease(LEASE_MS, [a, (b[0], b[1] + 1), (10**9, 1)]) == [1, 2]
    assert await scripts.extend_lease(LEASE_MS, []) == []
    await scripts.complete([Complete(i, 1, b"null", "") for i in ids])


async def test_complete_codes_per_job_in_order(scripts: Scripts) -> None:
    ids = await add(scripts, 2)
    claim = await take(scripts, 2)
    acks = [
        Complete(ids[0], claim.jobs[0].token, b'"ok"', ""),
        Complete(ids[1], claim.jobs[1].token + 1, b"null", ""),  # stale token
        Complete(10**9, 1, b"null", ""),  # no such job
    ]
    assert await scripts.complete(acks) == [0, -2, -1]
    assert await scripts.complete(acks[:1]) == [0]  # resent: still done
    assert await scripts.complete([]) == []
    await scripts.complete([Complete(ids[1], claim.jobs[1].token, b"null", "")])


async def test_fail_outcomes(scripts: Scripts) -> None:
    (job_id,) = await add(scripts, attempts=2)
    token = (await take(scripts)).jobs[0].token
    record = b'{"error": "boom"}'
    assert await scripts.fail(job_id, token, "boom", record, 0, False) is FailOutcome.RETRIED
    assert await scripts.fail(job_id, token, "boom", record, 0, False) is FailOutcome.ALREADY
    with pytest.raises(LeaseLost):
        await scripts.fail(job_id, token + 5, "boom", record, 0, False)
    with pytest.raises(JobNotFound):
        await scripts.fail(10**9, 1, "boom", record, 0, False)
    token = (await take(scripts, rid="r2")).jobs[0].token
    assert await scripts.fail(job_id, token, "boom", record, 0, False) is FailOutcome.FAILED
    (other,) = await add(scripts, attempts=5)
    token = (await take(scripts, rid="r3")).jobs[0].token
    assert await scripts.fail(other, token, "bad", record, 0, True) is FailOutcome.FAILED


async def test_release_progress_log_and_the_admin_scripts(scripts: Scripts) -> None:
    (job_id,) = await add(scripts)
    token = (await take(scripts)).jobs[0].token
    await scripts.progress(job_id, token, 50, b'{"step": 1}')
    with pytest.raises(LeaseLost):
        await scripts.progress(job_id, token + 1, 60, b"")
    assert await scripts.log(job_id, b"one") == 1
    assert await scripts.log(job_id, b"two") == 2
    await scripts.release(job_id, token)
    with pytest.raises(LeaseLost):
        await scripts.release(job_id, token)  # no longer active
    with pytest.raises(InvalidState, match="inactive"):
        await scripts.retry(job_id)
    await scripts.set_state(job_id, "failed")
    await scripts.retry(job_id)
    await scripts.set_priority(job_id, -10)
    await scripts.remove(job_id)
    for missing in (
        scripts.remove(job_id),
        scripts.retry(job_id),
        scripts.set_state(job_id, "complete"),
        scripts.set_priority(job_id, 1),
        scripts.log(job_id, b"x"),
        scripts.release(job_id, 1),
        scripts.progress(job_id, 1, 1, b""),
    ):
        with pytest.raises(JobNotFound):
            await missing


async def test_promote_and_recover_stalled(scripts: Scripts, raw: redis.Redis, prefix: str) -> None:
    keys = Keys(prefix)
    (delayed,) = await add(scripts, delay=60_000)
    promoted = await scripts.promote(100)
    assert promoted.moved == 0
    assert promoted.next_run > 0
    raw.zadd(keys.state("delayed"), {str(delayed): 0})  # due now
    raw.zadd(keys.type_state("t", "delayed"), {str(delayed): 0})
    assert await scripts.promote(100) == Promoted(1, -1)
    assert await scripts.recover_stalled(1, 100, b"{}") == Recovered(0, 0)
    for rid, expected in (("r1", Recovered(1, 0)), ("r2", Recovered(0, 1))):
        assert [c.id for c in (await take(scripts, rid=rid)).jobs] == [delayed]
        raw.zadd(keys.leases, {str(delayed): 0})  # its lease ran out
        assert await scripts.recover_stalled(1, 100, b"{}") == expected
    assert raw.hget(keys.job(delayed), "state") == "failed"


async def test_send_answers_each_ack_in_place_then_the_claim(scripts: Scripts) -> None:
    ids = await add(scripts, 4, attempts=3)
    tokens = {c.id: c.token for c in (await take(scripts, 4)).jobs}
    more = await add(scripts, 1, type="u")
    calls: list[AckCall] = [
        Complete(ids[0], tokens[ids[0]], b"1", ""),
        Fail(ids[1], tokens[ids[1]], "boom", b"{}", 0, False),
        Complete(ids[2], tokens[ids[2]] + 1, b"2", ""),  # stale
        Complete(10**9, 1, b"3", ""),
        Release(ids[3], tokens[ids[3]]),
    ]
    sent = await scripts.send(calls, ClaimRequest("u", 5, WORKER, LEASE_MS, "rq"))
    assert sent.codes == [0, 0, -2, -1, 0]
    assert isinstance(sent.claim, Claim)
    assert [c.id for c in sent.claim.jobs] == more
    assert (await scripts.send([], None)).claim is None
    back = (await take(scripts, 5, rid="r2")).jobs  # the retried and the released
    assert sorted(c.id for c in back) == [ids[1], ids[3]]
    acks = [Complete(c.id, c.token, b"null", "") for c in back]
    acks.append(Complete(ids[2], tokens[ids[2]], b"null", ""))  # still active: refused above
    again = await scripts.send(acks, ClaimRequest("u", 1, WORKER, LEASE_MS, "rq"))
    codes, claim = again.codes, again.claim
    assert codes == [0, 0, 0]
    assert isinstance(claim, Claim)
    assert [c.id for c in claim.jobs] == more  # the resent request: the same job
    await scripts.complete([Complete(more[0], claim.jobs[0].token, b"null", "")])


async def test_an_error_comes_back_in_its_place(
    scripts: Scripts, raw: redis.Redis, prefix: str
) -> None:
    (job_id,) = await add(scripts)
    token = (await take(scripts)).jobs[0].token
    raw.set(Keys(prefix).type_state("v", "inactive"), "not a zset")  # overwritten by hand
    request = ClaimRequest("v", 1, WORKER, LEASE_MS, "bad")
    sent = await scripts.send([Complete(job_id, token, b"null", "")], request)
    assert sent.codes == [0]
    assert isinstance(sent.claim, redis.ResponseError)
    again = await scripts.send(
        [Complete(job_id, token, b"null", "")], ClaimRequest("v", 1, WORKER, LEASE_MS, "bad2")
    )
    assert again.codes == [0]
    assert isinstance(again.claim, redis.ResponseError)
    raw.delete(Keys(prefix).type_state("v", "inactive"))
    # completions share one complete.lua call, so its error is each one's answer
    ids = await add(scripts, 3)
    tokens = [c.token for c in (await take(scripts, 3, rid="r2")).jobs]
    calls: list[AckCall] = [
        Complete(ids[0], tokens[0], b"null", ""),
        Complete(ids[1], tokens[1], b"null", "count:many"),  # a policy no pykue writes
        Release(ids[2], tokens[2]),
    ]
    sent = await scripts.send(calls, None)
    assert isinstance(sent.codes[0], redis.ResponseError)
    assert sent.codes[1] is sent.codes[0]
    assert sent.codes[2:] == [0]
    assert sent.claim is None


async def test_a_flushed_script_cache_is_reloaded(scripts: Scripts, raw: redis.Redis) -> None:
    (job_id,) = await add(scripts)
    raw.script_flush()
    claim = await take(scripts)
    raw.script_flush()
    sent = await scripts.send([Complete(job_id, claim.jobs[0].token, b"null", "")], None)
    assert sent.codes == [0]


def test_replies_are_read_leniently(caplog: pytest.LogCaptureFixture) -> None:
    odd = [b"state", b"active", b"token"]
    reply = [5, -1, 0, -1, [b"x", []], [7, odd], [8, [b"token", b"1", b"token", b"3"]]]
    claim = replies.claim(reply)
    assert [(c.id, c.fields, c.token) for c in claim.jobs] == [
        (7, None, 0),
        (8, {b"token": b"3"}, 3),
    ]
    assert "claimed an unreadable job id" in caplog.text
    refused = replies.claim([5, -1, b"OOM command not allowed", -1])
    assert (refused.refused, refused.paused) == ("OOM command not allowed", False)


async def test_the_all_jobs_indexes_follow_saves_and_deletions(
    scripts: Scripts, raw: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    a, b, c = await add(scripts, 3)
    (d,) = await add(scripts, type="failed")  # a type named like a state has its own index
    (e,) = await add(scripts, delay=60_000)

    def listed(key: str) -> list[int]:
        return [int(m) for m in raw.zrange(key, 0, -1)]

    assert listed(keys.all_jobs) == [a, b, c, d, e]
    assert listed(keys.type_jobs("t")) == [a, b, c, e]
    assert listed(keys.type_jobs("failed")) == [d]
    await scripts.remove(b)
    claimed = (await take(scripts)).jobs[0]
    assert await scripts.complete([Complete(claimed.id, claimed.token, b"null", "all")]) == [0]
    assert listed(keys.all_jobs) == [c, d, e]
    assert listed(keys.type_jobs("t")) == [c, e]
