"""Job dependencies through the JSON API (issue 16): ``POST /job`` with ``depends_on``,
``GET /job/{id}`` and ``/tree``, ``DELETE /job/{id}?force=``, the events the dashboard
follows, and the guard on each new write, against a real queue on the suite's Redis."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
import redis

from pykue import JobState, Queue
from pykue.web import create_app
from tests.web.serving import TOKEN, served
from tests.web.test_api import snapshot


async def post(api: httpx2.AsyncClient, body: Any) -> int:
    made = await api.post("/job", json=body)
    assert made.status_code == 201, made.text
    job_id: int = made.json()["id"]
    return job_id


async def test_a_job_posted_with_dependencies_waits_for_them(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    first = await queue.create("fetch", {"url": "a"}).save()
    second = await queue.create("fetch", {"url": "b"}).save()
    report = await post(
        api,
        {
            "type": "report",
            "data": {"title": "weekly"},
            "depends_on": [second.id, first.id],
            "on_dependency_failure": "ignore",
        },
    )
    shown = (await api.get(f"/job/{report}")).json()
    assert shown["state"] == "waiting"
    assert shown["depends_on"] == [second.id, first.id]  # in the order given
    assert (shown["on_dependency_failure"], shown["pending_dependencies"]) == ("ignore", 2)
    assert (shown["failed_by"], shown["dependents"]) == (None, [])
    assert (await api.get(f"/job/{first.id}")).json()["dependents"] == [report]
    stats = (await api.get("/stats")).json()
    assert (stats["waitingCount"], stats["inactiveCount"]) == (1, 2)
    types = {row["type"]: row["counts"] for row in (await api.get("/types")).json()}
    assert (types["report"]["waiting"], types["fetch"]["waiting"]) == (1, 0)
    listed = (await api.get("/jobs/waiting/0..9/asc")).json()
    assert [job["id"] for job in listed] == [report]
    assert (await api.get("/jobs/report/waiting/stats")).json() == {"count": 1}
    # null stands for left out: a job with nothing to wait for is inactive at once
    plain = await post(api, {"type": "report", "depends_on": None, "on_dependency_failure": None})
    assert (await queue.get_job(plain)).state is JobState.INACTIVE
    # a batch: each job of it may wait for jobs saved before
    batch = await api.post(
        "/job", json=[{"type": "mail", "depends_on": [report]}, {"type": "mail"}]
    )
    assert batch.status_code == 201
    waiting, free = (entry["id"] for entry in batch.json())
    assert (await queue.get_job(waiting)).state is JobState.WAITING
    assert (await queue.get_job(free)).state is JobState.INACTIVE
    assert (await api.get(f"/job/{report}")).json()["dependents"] == [waiting]


BAD_DEPENDENCIES = [
    ({"depends_on": [999_999]}, "dependency 999999 not found"),
    ({"depends_on": "1,2"}, "depends_on must be a list of jobs or job ids, got str"),
    ({"depends_on": 1}, "depends_on must be a list of jobs or job ids, got int"),
    ({"depends_on": {"id": 1}}, "depends_on must be a list of jobs or job ids, got dict"),
    ({"depends_on": True}, "depends_on must be a list"),
    ({"depends_on": [True]}, "job ids (ints >= 1), got True"),
    ({"depends_on": [0]}, "job ids (ints >= 1), got 0"),
    ({"depends_on": [-1]}, "job ids (ints >= 1), got -1"),
    ({"depends_on": [1.5]}, "job ids (ints >= 1), got 1.5"),
    ({"depends_on": ["1"]}, "job ids (ints >= 1), got '1'"),
    ({"depends_on": [None]}, "job ids (ints >= 1), got None"),
    ({"depends_on": [[1]]}, "job ids (ints >= 1), got [1]"),
    ({"depends_on": [2**64]}, "job ids (ints >= 1)"),
    ({"depends_on": ["{first}", "{first}"]}, "names job {first} twice"),
    ({"depends_on": list(range(1, 1002))}, "depends_on holds 1001 jobs, more than 1000"),
    (
        {"depends_on": ["{first}"], "on_dependency_failure": "explode"},
        "on_dependency_failure must be one of fail, ignore, wait, got 'explode'",
    ),
    ({"on_dependency_failure": "FAIL"}, "on_dependency_failure must be one of"),
    ({"on_dependency_failure": 1}, "on_dependency_failure must be one of"),
    ({"on_dependency_failure": ["fail"]}, "on_dependency_failure must be one of"),
    ({"dependencies": ["{first}"]}, "unknown job fields ['dependencies']"),
    ({"options": {"depends_on": ["{first}"]}}, "options must be an object"),
]


def filled(value: Any, first: int) -> Any:
    """``value`` with "{first}" replaced by the id of the job the test saved first."""
    if value == "{first}":
        return first
    if isinstance(value, list):
        return [filled(item, first) for item in value]
    if isinstance(value, dict):
        return {name: filled(item, first) for name, item in value.items()}
    if isinstance(value, str):
        return value.replace("{first}", str(first))
    return value


@pytest.mark.parametrize(("fields", "says"), BAD_DEPENDENCIES, ids=lambda v: str(v)[:40])
async def test_bad_dependencies_answer_400_and_write_nothing(
    api: httpx2.AsyncClient,
    queue: Queue,
    raw: redis.Redis,
    prefix: str,
    fields: dict[str, Any],
    says: str,
) -> None:
    first = await queue.create("fetch", {}).save()
    body = filled({"type": "report", **fields}, first.id)
    before = snapshot(raw, prefix)
    for sent in (body, [{"type": "fine"}, body]):  # alone, and after a good job of a batch
        refused = await api.post("/job", json=sent)
        assert refused.status_code == 400, refused.text
        assert list(refused.json()) == ["error"]
        assert filled(says, first.id) in refused.json()["error"]
        assert snapshot(raw, prefix) == before
    assert (await queue.counts())["inactive"] == 1


async def test_the_tree_shows_dependencies_outcomes_and_dependents(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    fetch = await queue.create("fetch", {}).save()
    parse = await post(api, {"type": "parse", "depends_on": [fetch.id]})
    report = await post(api, {"type": "report", "depends_on": [fetch.id, parse]})
    tree = (await api.get(f"/job/{report}/tree")).json()
    fetched = {"id": fetch.id, "type": "fetch", "state": "inactive", "outcome": None}
    assert tree == {
        "id": report,
        "type": "report",
        "state": "waiting",
        "outcome": None,
        "depends_on": [
            {**fetched, "depends_on": []},
            {
                "id": parse,
                "type": "parse",
                "state": "waiting",
                "outcome": None,
                # shown above already: no subtree again
                "depends_on": [{**fetched, "depends_on": [], "repeated": True}],
            },
        ],
        "dependents": [],
    }
    top = (await api.get(f"/job/{fetch.id}/tree")).json()
    assert (top["state"], top["depends_on"]) == ("inactive", [])
    assert top["dependents"] == [
        {"id": parse, "type": "parse", "state": "waiting"},
        {"id": report, "type": "report", "state": "waiting"},
    ]
    # completed by hand: its dependents record the outcome and the first is released
    assert (await api.put(f"/job/{fetch.id}/state/complete")).status_code == 200
    tree = (await api.get(f"/job/{report}/tree")).json()
    assert [(node["id"], node["outcome"]) for node in tree["depends_on"]] == [
        (fetch.id, "complete"),
        (parse, None),
    ]
    assert tree["depends_on"][1]["state"] == "inactive"
    shown = (await api.get(f"/job/{report}")).json()
    assert (shown["state"], shown["pending_dependencies"]) == ("waiting", 1)
    # waiting is the engine's to set, never a hand's
    refused = await api.put(f"/job/{parse}/state/waiting")
    assert refused.status_code == 400
    assert (await queue.get_job(parse)).state is JobState.INACTIVE


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/job/abc/tree", 400, "job id must be a positive whole number"),
        ("/job/0/tree", 400, "job id must be"),
        ("/job/-1/tree", 400, "job id must be"),
        ("/job/1.5/tree", 400, "job id must be"),
        ("/job/" + "9" * 16 + "/tree", 400, "job id must be"),
        ("/job/999999/tree", 404, "job 999999 not found"),
    ],
)
async def test_the_tree_of_a_bad_or_unknown_id(
    api: httpx2.AsyncClient, queue: Queue, path: str, status: int, says: str
) -> None:
    await queue.create("fetch", {}).save()
    answer = await api.get(path)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


async def test_removing_a_job_others_wait_for_needs_force(
    api: httpx2.AsyncClient, queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    fetch = await queue.create("fetch", {}).save()
    report = await post(api, {"type": "report", "depends_on": [fetch.id]})
    summary = await post(api, {"type": "summary", "depends_on": [report]})
    before = snapshot(raw, prefix)
    for query in ("", "?force=false"):
        refused = await api.delete(f"/job/{fetch.id}{query}")
        assert refused.status_code == 409
        assert refused.json() == {
            "error": f"job {fetch.id} is waited for by jobs {report}: "
            "remove(force=True) removes it and fails them"
        }
    for query, says in [
        ("?force=yes", "force must be true or false, got 'yes'"),
        ("?force=True", "force must be true or false, got 'True'"),
        ("?force=1", "force must be true or false, got '1'"),
        ("?force=", "force must be true or false, got ''"),
        ("?force=true&force=true", "give force once, as true or false"),
        ("?force=true&force=false", "give force once, as true or false"),
    ]:
        bad = await api.delete(f"/job/{fetch.id}{query}")
        assert (bad.status_code, bad.json()) == (400, {"error": says})
    assert snapshot(raw, prefix) == before
    forced = await api.delete(f"/job/{fetch.id}?force=true")
    assert forced.json() == {"message": f"job {fetch.id} removed"}
    assert (await api.get(f"/job/{fetch.id}")).status_code == 404
    # its dependents fail, transitively, saying why
    failed = (await api.get(f"/job/{report}")).json()
    assert (failed["state"], failed["failed_by"]) == ("failed", fetch.id)
    assert failed["error"] == f"dependency {fetch.id} removed"
    after = (await api.get(f"/job/{summary}")).json()
    assert (after["state"], after["failed_by"]) == ("failed", report)
    assert after["error"].startswith(f"dependency {report} failed: ")
    tree = (await api.get(f"/job/{report}/tree")).json()
    assert tree["depends_on"] == [
        {"id": fetch.id, "type": None, "state": None, "outcome": "removed", "depends_on": []}
    ]
    # nothing waits for it now: no force needed, and force on a lone job removes it too
    assert (await api.delete(f"/job/{summary}")).status_code == 200
    assert (await api.delete(f"/job/{report}?force=true")).status_code == 200
    assert (await api.delete(f"/job/{report}?force=true")).status_code == 404


async def test_a_retried_dependency_makes_its_dependent_wait_again(
    api: httpx2.AsyncClient, queue: Queue
) -> None:
    fetch = await queue.create("fetch", {}).save()
    report = await post(api, {"type": "report", "depends_on": [fetch.id]})
    assert (await api.put(f"/job/{fetch.id}/state/failed")).status_code == 200
    failed = (await api.get(f"/job/{report}")).json()
    assert (failed["state"], failed["failed_by"]) == ("failed", fetch.id)
    tree = (await api.get(f"/job/{report}/tree")).json()
    assert tree["depends_on"][0]["outcome"] == "failed"
    assert (await api.post(f"/job/{fetch.id}/retry")).status_code == 200
    again = (await api.get(f"/job/{report}")).json()
    assert (again["state"], again["failed_by"], again["error"]) == ("waiting", None, None)


async def test_the_event_stream_carries_what_the_dashboard_follows(
    queue: Queue, raw: redis.Redis
) -> None:
    """enqueue in state waiting, ready when released, failed for a dependent of a removed
    job: replayed from a Last-Event-ID, so nothing races the stream's start."""
    await queue.connect()
    fetch = await queue.create("fetch", {}).save()
    start = raw.xrevrange(queue.keys.events, count=1)[0][0]
    report = await queue.create("report", {}, depends_on=[fetch]).save()
    other = await queue.create("fetch", {}).save()
    mail = await queue.create("mail", {}, depends_on=[other]).save()
    await queue.set_state(fetch.id, JobState.COMPLETE)
    await queue.remove(other.id, force=True)
    wanted = {(report.id, "ready"), (mail.id, "failed")}
    seen: list[dict[str, Any]] = []
    async with (
        served(create_app(queue)) as port,
        httpx2.AsyncClient(timeout=30) as client,
        client.stream(
            "GET", f"http://127.0.0.1:{port}/events", headers={"Last-Event-ID": start}
        ) as stream,
    ):
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if wanted <= {(event["id"], event["event"]) for event in seen}:
                    break
    by_job = {
        job_id: [(e["event"], e.get("state")) for e in seen if e["id"] == job_id]
        for job_id in (report.id, mail.id)
    }
    assert by_job[report.id] == [("enqueue", "waiting"), ("ready", "inactive")]
    assert by_job[mail.id] == [("enqueue", "waiting"), ("failed", None)]
    failed = next(e for e in seen if e["id"] == mail.id and e["event"] == "failed")
    assert (failed["type"], failed["error"]) == ("mail", f"dependency {other.id} removed")


WRITES = [
    ("POST", "/job", {"type": "report", "depends_on": ["{first}"]}),
    ("POST", "/job", [{"type": "report", "depends_on": ["{first}"]}]),
    ("DELETE", "/job/{first}?force=true", None),
    ("DELETE", "/job/{first}?force=false", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://127.0.0.2:8000"},
        {"Origin": "null"},
        {"Host": "evil.example"},
    ],
    ids=["cross-site", "same-site", "foreign Origin", "Origin null", "foreign Host"],
)
async def test_each_new_write_refuses_other_sites(
    api: httpx2.AsyncClient,
    queue: Queue,
    raw: redis.Redis,
    prefix: str,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
) -> None:
    first = await queue.create("fetch", {}).save()
    await queue.create("waits", {}, depends_on=[first]).save()
    before = snapshot(raw, prefix)
    url, sent = path.replace("{first}", str(first.id)), filled(body, first.id)
    refused = await api.request(method, url, json=sent, headers=headers)
    assert refused.status_code == (421 if "Host" in headers else 403), refused.text
    assert list(refused.json()) == ["error"]
    assert snapshot(raw, prefix) == before
    same = await api.request(method, url, json=sent, headers={"Sec-Fetch-Site": "same-origin"})
    # the same request from the dashboard's own page is answered (409: a job waits for it)
    assert same.status_code == (
        409 if url.endswith("false") else 200 if method == "DELETE" else 201
    )


async def test_a_forced_removal_needs_the_token(
    guarded: httpx2.AsyncClient, queue: Queue, raw: redis.Redis, prefix: str
) -> None:
    first = await queue.create("fetch", {}).save()
    await queue.create("waits", {}, depends_on=[first]).save()
    before = snapshot(raw, prefix)
    for headers in ({}, {"Authorization": "Bearer guess"}):
        refused = await guarded.delete(f"/job/{first.id}?force=true", headers=headers)
        assert refused.status_code == 401
        assert "token" in refused.json()["error"]
        posted = await guarded.post(
            "/job", json={"type": "report", "depends_on": [first.id]}, headers=headers
        )
        assert posted.status_code == 401
    assert snapshot(raw, prefix) == before
    assert (await guarded.get(f"/job/{first.id}/tree")).status_code == 200  # a read needs none
    allowed = await guarded.delete(
        f"/job/{first.id}?force=true", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.status_code == 200
