"""``/openapi.json`` says what the API really answers, checked by schemathesis: generated
requests (valid and invalid by the schema) against a real server, every response's
status, content type and body held against the schema. Bounded: a few examples per
operation and mode."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pykue import Queue
from pykue.web import create_app

EXAMPLES = 8  # per operation and mode: about 260 requests in all
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def live(redis_url: str, prefix: str) -> Iterator[tuple[str, FastAPI]]:
    """The dashboard on a uvicorn server in a thread of its own: schemathesis calls are
    synchronous."""
    queue = Queue(url=redis_url, prefix=prefix)
    app = create_app(queue)
    listener = socket.create_server(("127.0.0.1", 0))  # accepts into its backlog at once
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

    async def serve() -> None:
        try:
            for n in range(3):  # jobs for the generated ids to find
                await queue.create("work", {"n": n}).save()
            await server.serve(sockets=[listener])
        finally:
            await queue.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(30)


def test_the_schema_documents_the_real_answers() -> None:
    spec = create_app(Queue(url="redis://127.0.0.1:1", prefix="doc")).openapi()
    job = spec["paths"]["/job/{id_text}"]
    assert set(job) == {"get", "delete"}
    assert "422" not in str(spec)
    assert {"400", "401", "404", "421", "503"} <= set(job["get"]["responses"])
    assert {"403", "409", "413", "415"} <= set(job["delete"]["responses"])
    error = job["get"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert job["get"]["parameters"][0]["schema"]["pattern"] == "^[0-9]{1,15}$"
    body = spec["paths"]["/job"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["oneOf"][0] == {"$ref": "#/components/schemas/NewJob"}
    assert spec["components"]["schemas"]["NewJob"]["required"] == ["type"]


def test_the_schedule_and_limits_routes_are_documented() -> None:
    spec = create_app(Queue(url="redis://127.0.0.1:1", prefix="doc")).openapi()
    paths = spec["paths"]
    assert set(paths["/schedules"]) == {"get"}
    assert set(paths["/schedules/{key}"]) == {"get", "put", "delete"}
    assert set(paths["/types/{job_type}/limits"]) == {"get", "put"}
    one = paths["/schedules/{key}"]
    assert {"400", "401", "404", "421", "503"} <= set(one["get"]["responses"])
    assert {"400", "401", "403", "404", "413", "415", "421", "503"} <= set(
        one["delete"]["responses"]
    )
    assert one["put"]["parameters"][0]["schema"]["pattern"] == "^[A-Za-z0-9_.:-]{1,128}$"
    body = one["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewSchedule"}
    answer = one["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["properties"]["schedule"] == {"$ref": "#/components/schemas/Schedule"}
    limits = paths["/types/{job_type}/limits"]["put"]
    body = limits["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LimitsChange"}
    schemas = spec["components"]["schemas"]
    assert schemas["NewSchedule"]["required"] == ["type"]
    assert len(schemas["NewSchedule"]["oneOf"]) == 2  # exactly one of cron and every
    assert set(schemas["Limits"]["required"]) == {"rate", "concurrency", "key_rate"}
    assert schemas["LimitsChange"]["minProperties"] == 1
    types = paths["/types"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert types["items"]["properties"]["limits"] == {"$ref": "#/components/schemas/Limits"}


def test_the_dependency_routes_are_documented() -> None:
    spec = create_app(Queue(url="redis://127.0.0.1:1", prefix="doc")).openapi()
    tree = spec["paths"]["/job/{id_text}/tree"]
    assert set(tree) == {"get"}
    assert {"400", "404", "503"} <= set(tree["get"]["responses"])
    answer = tree["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Tree"}
    schemas = spec["components"]["schemas"]
    node = schemas["TreeNode"]["properties"]["depends_on"]["items"]
    assert node == {"$ref": "#/components/schemas/TreeNode"}  # recursive
    assert "dependents" in schemas["Tree"]["required"]
    remove = spec["paths"]["/job/{id_text}"]["delete"]
    force = next(p for p in remove["parameters"] if p["name"] == "force")
    assert (force["in"], force["schema"]["enum"]) == ("query", ["true", "false"])
    assert "409" in remove["responses"]
    new_job = schemas["NewJob"]["properties"]
    assert new_job["depends_on"]["maxItems"] == 1000
    assert new_job["depends_on"]["items"]["minimum"] == 1
    assert set(new_job["on_dependency_failure"]["enum"]) == {"fail", "ignore", "wait", None}
    listed = spec["paths"]["/jobs/{state}/{span_text}/{order}"]["get"]["parameters"]
    assert "waiting" in next(p for p in listed if p["name"] == "state")["schema"]["enum"]


def test_responses_match_the_schema(live: tuple[str, FastAPI]) -> None:
    base, app = live
    schema = schemathesis.openapi.from_dict(app.openapi())
    statuses: list[int] = []
    for found in schema.get_all_operations():
        operation = found.ok()
        if operation.path == "/events":  # a stream that does not end
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                response = case.call_and_validate(base_url=base, checks=CHECKS)
                statuses.append(response.status_code)

            try:
                check()
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise  # negative is: nothing invalid to send to a route without inputs
    assert len(statuses) > 100
    assert {200, 201, 400, 404} <= set(statuses)  # valid requests pass, invalid ones do not
