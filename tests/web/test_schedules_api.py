"""The schedule and limits routes of the JSON API, against a real queue on the suite's
Redis: each route's answer beside what the core holds, 404s, bad input that changes no
key, the token and the cross-site guard on every write."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import pytest
import redis

from pykue import Queue
from pykue.web import create_overview_app
from tests.test_worker import running
from tests.web.serving import TOKEN

NO_LIMITS = {"rate": None, "concurrency": None, "key_rate": None}
NIGHTLY = {
    "type": "report",
    "cron": "0 3 * * *",
    "tz": "Europe/Paris",
    "data": {"kind": "nightly"},
    "catch_up": False,
    "options": {"priority": "high", "attempts": 3, "limit_key": "acct-1"},
}


def snapshot(raw: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every key of the queue, the event stream too: a refused write emits nothing."""
    return {key: raw.dump(key) for key in sorted(raw.scan_iter(match="{" + prefix + "}*"))}


async def test_a_schedule_is_put_listed_shown_replaced_and_removed(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    put = await api.put("/schedules/nightly", json=NIGHTLY)
    assert put.status_code == 200, put.text
    shown = put.json()["schedule"]
    stored = await queue.get_schedule("nightly")
    assert shown == stored.to_dict()
    assert (shown["key"], shown["type"], shown["cron"], shown["every"]) == (
        "nightly",
        "report",
        "0 3 * * *",
        None,
    )
    assert (shown["tz"], shown["data"], shown["catch_up"]) == (
        "Europe/Paris",
        {"kind": "nightly"},
        False,
    )
    assert shown["options"]["priority"] == -10  # the name, stored as its number
    assert (shown["options"]["attempts"], shown["options"]["limit_key"]) == (3, "acct-1")
    assert isinstance(shown["next_run_at"], int)
    assert (shown["last_run_at"], shown["last_job_id"]) == (None, None)

    tick = await api.put("/schedules/a-tick", json={"type": "ping", "every": 30})
    assert tick.status_code == 200, tick.text
    assert (tick.json()["schedule"]["every"], tick.json()["schedule"]["tz"]) == (30.0, "UTC")
    listed = (await api.get("/schedules")).json()
    assert [s["key"] for s in listed["schedules"]] == ["a-tick", "nightly"]  # by key
    assert listed == {"schedules": [s.to_dict() for s in await queue.schedules()]}
    assert (await api.get("/schedules/nightly")).json() == {"schedule": stored.to_dict()}

    # the same key again replaces it: another rule, the same key
    again = await api.put("/schedules/nightly", json={"type": "report", "every": 3600})
    assert again.status_code == 200, again.text
    assert (again.json()["schedule"]["cron"], again.json()["schedule"]["every"]) == (None, 3600.0)
    assert [s.key for s in await queue.schedules()] == ["a-tick", "nightly"]

    removed = await api.delete("/schedules/nightly")
    assert (removed.status_code, removed.json()) == (200, {"message": "schedule removed"})
    assert [s.key for s in await queue.schedules()] == ["a-tick"]
    gone = await api.get("/schedules/nightly")
    assert gone.status_code == 404
    assert "nightly" in gone.json()["error"]
    twice = await api.delete("/schedules/nightly")
    assert twice.status_code == 404
    assert list(twice.json()) == ["error"]


async def test_a_schedules_job_carries_its_key_and_the_schedule_its_last_job(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    made: asyncio.Queue[int] = asyncio.Queue()
    queue.on("job enqueue", lambda job_id, job_type: made.put_nowait(job_id))
    done = asyncio.Event()

    @queue.process("ping")
    async def handler(job: Any) -> None:
        done.set()

    body = {"type": "ping", "every": 0.2, "data": {"n": 1}, "options": {"limit_key": "k1"}}
    assert (await api.put("/schedules/pinger", json=body)).status_code == 200
    async with running(queue):
        first = await asyncio.wait_for(made.get(), 10)
        await asyncio.wait_for(done.wait(), 10)
        shown = (await api.get("/schedules/pinger")).json()["schedule"]
        assert (await api.delete("/schedules/pinger")).status_code == 200
    job = (await api.get(f"/job/{first}")).json()
    assert (job["schedule"], job["limit_key"], job["data"]) == ("pinger", "k1", {"n": 1})
    # the last job it made (a later one, maybe: it runs every 0.2 s)
    assert isinstance(shown["last_run_at"], int)
    assert shown["last_job_id"] >= first
    last = (await api.get(f"/job/{shown['last_job_id']}")).json()
    assert last["schedule"] == "pinger"
    plain = await queue.create("ping", {}).save()
    shown = (await api.get(f"/job/{plain.id}")).json()
    assert (shown["schedule"], shown["limit_key"]) == (None, None)


async def test_limits_are_set_merged_removed_and_listed_with_the_types(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    await queue.create("email", {}).save()
    await queue.create("sms", {}).save()
    assert (await api.get("/types/email/limits")).json() == {"type": "email", "limits": NO_LIMITS}
    put = await api.put(
        "/types/email/limits", json={"rate": {"count": 100, "per": 60}, "concurrency": 5}
    )
    assert put.status_code == 200, put.text
    expected = {"rate": {"count": 100, "per": 60.0}, "concurrency": 5, "key_rate": None}
    assert put.json() == {"type": "email", "limits": expected}
    assert (await queue.limits("email")).to_dict() == expected
    # a key left out keeps its limit; null removes one
    merged = await api.put(
        "/types/email/limits", json={"key_rate": {"count": 10, "per": 1}, "concurrency": None}
    )
    expected = {
        "rate": {"count": 100, "per": 60.0},
        "concurrency": None,
        "key_rate": {"count": 10, "per": 1.0},
    }
    assert merged.json() == {"type": "email", "limits": expected}
    assert (await api.get("/types/email/limits")).json() == {"type": "email", "limits": expected}
    types = {row["type"]: row for row in (await api.get("/types")).json()}
    assert types["email"]["limits"] == expected
    assert types["sms"]["limits"] == NO_LIMITS
    assert set(types["email"]) == {"type", "paused", "counts", "limits"}


async def test_the_overview_lists_the_limits_of_limited_types(queue: Queue) -> None:
    await queue.create("email", {}).save()
    await queue.create("sms", {}).save()
    await queue.set_limits("email", concurrency=2)
    transport = httpx2.ASGITransport(app=create_overview_app([queue]))
    async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as client:
        entry = (await client.get("/queues")).json()["queues"][0]
        mounted = (await client.get(f"/q/{queue.keys.prefix}/types/email/limits")).json()
    assert entry["limits"] == {"email": {"rate": None, "concurrency": 2, "key_rate": None}}
    assert mounted["limits"]["concurrency"] == 2


CRON = {"type": "report", "cron": "*/5 * * * *"}
BAD = [
    # PUT /schedules/{key}
    ("PUT", "/schedules/k", b"not json", 400, "must be JSON"),
    ("PUT", "/schedules/k", b"", 400, "must be JSON"),
    ("PUT", "/schedules/k", [CRON], 400, "JSON object"),
    ("PUT", "/schedules/k", "report", 400, "JSON object"),
    ("PUT", "/schedules/k", {"cron": "* * * * *"}, 400, "needs a type"),
    ("PUT", "/schedules/k", {**CRON, "key": "k"}, 400, "unknown schedule fields"),
    ("PUT", "/schedules/k", {**CRON, "delay": 5}, 400, "unknown schedule fields"),
    ("PUT", "/schedules/k", {**CRON, "type": "bad name"}, 400, "job type"),
    ("PUT", "/schedules/k", {**CRON, "type": 7}, 400, "job type"),
    ("PUT", "/schedules/k", {"type": "report"}, 400, "exactly one of cron"),
    ("PUT", "/schedules/k", {**CRON, "every": 5}, 400, "exactly one of cron"),
    ("PUT", "/schedules/k", {"type": "r", "cron": None, "every": None}, 400, "exactly one"),
    ("PUT", "/schedules/k", {"type": "r", "cron": "61 * * * *"}, 400, "not valid"),
    ("PUT", "/schedules/k", {"type": "r", "cron": "not a rule"}, 400, "not valid"),
    ("PUT", "/schedules/k", {"type": "r", "cron": 5}, 400, "cron must be"),
    ("PUT", "/schedules/k", {"type": "r", "every": 0}, 400, "every must be"),
    ("PUT", "/schedules/k", {"type": "r", "every": -1}, 400, "every must be"),
    ("PUT", "/schedules/k", {"type": "r", "every": "5"}, 400, "every must be"),
    ("PUT", "/schedules/k", {"type": "r", "every": True}, 400, "every must be"),
    ("PUT", "/schedules/k", {"type": "r", "every": 1e300}, 400, "every must be"),
    ("PUT", "/schedules/k", {**CRON, "tz": "Mars/Olympus"}, 400, "unknown time zone"),
    ("PUT", "/schedules/k", {**CRON, "tz": None}, 400, "tz must be"),
    ("PUT", "/schedules/k", {**CRON, "data": [1]}, 400, "JSON object"),
    ("PUT", "/schedules/k", {**CRON, "catch_up": "yes"}, 400, "catch_up"),
    ("PUT", "/schedules/k", {**CRON, "options": []}, 400, "options must be an object"),
    ("PUT", "/schedules/k", {**CRON, "options": {"unique": "u"}}, 400, "options must be"),
    ("PUT", "/schedules/k", {**CRON, "options": {"priority": "urgent"}}, 400, "priority"),
    ("PUT", "/schedules/k", {**CRON, "options": {"attempts": 0}}, 400, "attempts"),
    ("PUT", "/schedules/k", {**CRON, "options": {"limit_key": "a b"}}, 400, "limit key"),
    ("PUT", "/schedules/bad*key", CRON, 400, "schedule key"),
    ("PUT", "/schedules/" + "k" * 129, CRON, 400, "schedule key"),
    # DELETE and GET /schedules/{key}
    ("DELETE", "/schedules/missing", None, 404, "not found"),
    ("DELETE", "/schedules/bad*key", None, 400, "schedule key"),
    ("GET", "/schedules/missing", None, 404, "not found"),
    ("GET", "/schedules/bad*key", None, 400, "schedule key"),
    # /types/{type}/limits
    ("GET", "/types/bad*name/limits", None, 400, "job type"),
    ("PUT", "/types/bad*name/limits", {"concurrency": 1}, 400, "job type"),
    ("PUT", "/types/email/limits", b"not json", 400, "must be JSON"),
    ("PUT", "/types/email/limits", [1], 400, "JSON object"),
    ("PUT", "/types/email/limits", {}, 400, "at least one"),
    ("PUT", "/types/email/limits", {"burst": 3}, 400, "unknown limits"),
    ("PUT", "/types/email/limits", {"rate": [100, 60]}, 400, "rate must be an object"),
    ("PUT", "/types/email/limits", {"rate": {"count": 100}}, 400, "rate must be an object"),
    ("PUT", "/types/email/limits", {"rate": {"count": 0, "per": 60}}, 400, "rate count"),
    ("PUT", "/types/email/limits", {"rate": {"count": 1, "per": 0}}, 400, "rate window"),
    ("PUT", "/types/email/limits", {"key_rate": {"count": 1, "per": 1e9}}, 400, "window"),
    ("PUT", "/types/email/limits", {"concurrency": 0}, 400, "concurrency"),
    ("PUT", "/types/email/limits", {"concurrency": "5"}, 400, "concurrency"),
    ("PUT", "/types/email/limits", {"concurrency": 10**30}, 400, "concurrency"),
    # a good change beside a bad one: neither is made
    (
        "PUT",
        "/types/email/limits",
        {"concurrency": 5, "rate": {"count": -1, "per": 1}},
        400,
        "count",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), BAD)
async def test_bad_input_answers_json_and_changes_nothing(
    api: httpx2.AsyncClient,
    queue: Queue,
    raw: redis.Redis,
    prefix: str,
    method: str,
    path: str,
    body: Any,
    status: int,
    says: str,
) -> None:
    await queue.create("email", {}).save()
    await queue.set_limits("email", rate=(5, 1.0))
    await queue.schedule("email", key="existing", every=600)
    before = snapshot(raw, prefix)
    if isinstance(body, bytes):
        json_type = {"Content-Type": "application/json"}
        response = await api.request(method, path, content=body, headers=json_type)
    else:
        response = await api.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert list(response.json()) == ["error"]
    assert says in response.json()["error"]
    assert snapshot(raw, prefix) == before


WRITES = [
    ("PUT", "/schedules/k", CRON),
    ("DELETE", "/schedules/existing", None),
    ("PUT", "/types/email/limits", {"concurrency": 3}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_each_write_needs_the_token(
    guarded: httpx2.AsyncClient,
    queue: Queue,
    raw: redis.Redis,
    prefix: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    await queue.schedule("email", key="existing", every=600)
    before = snapshot(raw, prefix)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = await guarded.request(method, path, json=body, headers=headers)
        assert refused.status_code == 401, refused.text
        assert "token" in refused.json()["error"]
    assert snapshot(raw, prefix) == before
    # reads need none
    assert (await guarded.get("/schedules")).status_code == 200
    assert (await guarded.get("/types/email/limits")).status_code == 200
    allowed = await guarded.request(
        method, path, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.status_code == 200, allowed.text
    assert snapshot(raw, prefix) != before


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://127.0.0.2:8000"},
        {"Host": "evil.example"},
    ],
    ids=["cross-site", "same-site", "foreign Origin", "foreign Host"],
)
async def test_each_write_refuses_other_sites(
    api: httpx2.AsyncClient,
    queue: Queue,
    raw: redis.Redis,
    prefix: str,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> None:
    await queue.schedule("email", key="existing", every=600)
    before = snapshot(raw, prefix)
    refused = await api.request(method, path, json=body, headers=headers)
    assert refused.status_code == (421 if "Host" in headers else 403), refused.text
    assert list(refused.json()) == ["error"]
    assert snapshot(raw, prefix) == before
    same = await api.request(method, path, json=body, headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200, same.text


async def test_post_job_takes_the_limit_key_and_the_unique_and_debounce_windows(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    keyed = {"type": "call", "options": {"limit_key": "acct-1", "unique": "u", "unique_for": 60}}
    first = (await api.post("/job", json=keyed)).json()
    assert first["message"] == "job created"
    assert (await api.post("/job", json=keyed)).json() == {
        "message": "job exists",
        "id": first["id"],
    }
    shown = (await api.get(f"/job/{first['id']}")).json()
    assert shown["limit_key"] == "acct-1"
    debounced = {
        "type": "reindex",
        "data": {"v": 1},
        "options": {"debounce": "d", "debounce_for": 60},
    }
    made = (await api.post("/job", json=debounced)).json()
    debounced["data"] = {"v": 2}
    again = (await api.post("/job", json=debounced)).json()
    assert again == {"message": "job debounced", "id": made["id"]}
    assert (await queue.get_job(made["id"])).data == {"v": 2}
    refused = await api.post("/job", json={"type": "x", "options": {"debounce": "d"}})
    assert refused.status_code == 400
    assert "go together" in refused.json()["error"]
