"""Bad input through the HTTP API: each row of HTTP_CASES is one request to the apps on
the seeded server, the status it must be answered with and a part of the answer's
``{"error": message}``.

To add an input, add a row: ``http(id, "GET", "/job/abc", None, 400, "says")``, with
``headers={...}`` if it needs some. ``{inactive}``, ``{failed}``... in a path are the
seeded jobs' ids; a body that is not bytes is sent as JSON. The rows expecting 401 go to
the app guarded by TOKEN, the others to the open one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx2
import pytest

from tests.chaos.bad_input.conftest import (
    BIG,
    MISSING,
    NAMES,
    PATH_NAMES,
    TEN_MB,
    TOKEN,
    Battery,
    HttpCase,
    assert_clear,
    deep_json,
    http,
    nested,
)


def job_body(**fields: Any) -> dict[str, Any]:
    return {"type": "email", "data": {"to": "c@example.com"}, **fields}


def segment(name: str) -> str:
    return quote(name, safe="")


HTTP_CASES = [
    # POST /job: the body
    http("body not JSON", "POST", "/job", b"not json", 400, "must be JSON"),
    http("body empty", "POST", "/job", b"", 400, "must be JSON"),
    http("body binary", "POST", "/job", b"\xff\xfe\x00{", 400, "must be JSON"),
    http("body null", "POST", "/job", b"null", 400, "must be an object"),
    http("body number", "POST", "/job", b"42", 400, "must be an object"),
    http("body string", "POST", "/job", b'"email"', 400, "must be an object"),
    http("body empty list", "POST", "/job", b"[]", 400, "1 to 1000"),
    http("body 1001 jobs", "POST", "/job", [job_body()] * 1001, 400, "1 to 1000"),
    http("body arrays 100000 deep", "POST", "/job", deep_json(100_000), 400, "must be JSON"),
    http(
        "body objects 5000 deep",
        "POST",
        "/job",
        b'{"type": "email", "data": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        400,
        "must be JSON",
    ),
    # over the guard's cap (4 x max_payload): refused before the body is parsed
    http("body 10 MB not JSON", "POST", "/job", b"x" * TEN_MB, 413, "over the limit of 4194304"),
    http(
        "body 10 MB data",
        "POST",
        "/job",
        b'{"type": "email", "data": {"blob": "' + BIG.encode() + b'"}}',
        413,
        "over the limit of 4194304",
    ),
    http("body 10 MB type", "POST", "/job", {"type": BIG}, 413, "over the limit"),
    http("body 10 MB field name", "POST", "/job", {"type": "email", BIG: 1}, 413, "over the limit"),
    http(
        "body 2 MB data",
        "POST",
        "/job",
        b'{"type": "email", "data": {"blob": "' + BIG[: 2 << 20].encode() + b'"}}',
        400,
        "over the limit of 1048576",
    ),
    http("body 2 MB type", "POST", "/job", {"type": BIG[: 2 << 20]}, 400, "job type 'xxxx"),
    http("data NaN", "POST", "/job", b'{"type": "email", "data": {"a": NaN}}', 400, "NaN"),
    http(
        "data Infinity", "POST", "/job", b'{"type": "email", "data": {"a": -Infinity}}', 400, "NaN"
    ),
    http("data 1e400", "POST", "/job", b'{"type": "email", "data": {"a": 1e400}}', 400, "Infinity"),
    http("data int over 64 bits", "POST", "/job", job_body(data={"a": 2**64}), 400, "64-bit"),
    http(
        "data 5000-digit int",
        "POST",
        "/job",
        b'{"type": "email", "data": {"a": ' + b"9" * 5000 + b"}}",
        400,
        "must be JSON",
    ),
    http(
        "data lone surrogate",
        "POST",
        "/job",
        b'{"type": "email", "data": {"a": "\\ud800"}}',
        400,
        "surrogates",
    ),
    http("data nested 300 deep", "POST", "/job", job_body(data=nested(300)), 400, "Recursion"),
    http("data list", "POST", "/job", job_body(data=[1, 2]), 400, "JSON object"),
    http("data string", "POST", "/job", job_body(data="to"), 400, "JSON object"),
    http("data number", "POST", "/job", job_body(data=0), 400, "JSON object"),
    http("no type", "POST", "/job", {"data": {}}, 400, "needs a type"),
    http("type number", "POST", "/job", {"type": 42}, 400, "must be a string"),
    http("type null", "POST", "/job", {"type": None}, 400, "must be a string"),
    *(
        http(f"type {name}", "POST", "/job", {"type": NAMES[name]}, 400, "job type")
        for name in NAMES
        if name != "10 MB"
    ),
    http("unknown field", "POST", "/job", job_body(priority="high"), 400, "unknown job fields"),
    http("options list", "POST", "/job", job_body(options=[]), 400, "options must be an object"),
    http("options zero", "POST", "/job", job_body(options=0), 400, "options must be an object"),
    http("options empty string", "POST", "/job", job_body(options=""), 400, "options must be"),
    http("options false", "POST", "/job", job_body(options=False), 400, "options must be"),
    http("options unknown key", "POST", "/job", job_body(options={"colour": 1}), 400, "options"),
    *(
        http(f"option {key} {shown}", "POST", "/job", job_body(options={key: value}), 400, says)
        for key, shown, value, says in [
            ("priority", "unknown", "urgent", "unknown priority"),
            ("priority", "2**20", 2**20, "out of range"),
            ("priority", "true", True, "name or an int"),
            ("priority", "float", 1e3, "name or an int"),
            ("attempts", "0", 0, "attempts must be"),
            ("attempts", "10001", 10_001, "more than 10000"),
            ("attempts", "string", "3", "attempts must be"),
            ("delay", "negative", -1, "delay must be >= 0"),
            ("delay", "string", "5", "number of seconds"),
            ("delay", "1e300", 1e300, "ten years"),
            ("ttl", "0", 0, "ttl must be > 0"),
            ("backoff", "string", "exponential", "must be a dict"),
            ("backoff", "unknown type", {"type": "linear"}, "backoff type"),
            ("backoff", "negative delay", {"delay": -1}, ">= 0"),
            ("unique", "glob", "welcome-*", "unique key"),
            ("unique", "braces", "{chaos}", "unique key"),
            ("remove_on_complete", "negative", -1, "count must be"),
            ("remove_on_complete", "2**64", 2**64, "count must be"),
            ("remove_on_complete", "string", "yes", "remove_on_complete must be"),
        ]
    ),
    http(
        "option delay NaN",
        "POST",
        "/job",
        b'{"type": "email", "options": {"delay": NaN}}',
        400,
        "delay must be",
    ),
    http(
        "a batch with one bad job",
        "POST",
        "/job",
        [job_body(), job_body(options={"delay": -1}), job_body()],
        400,
        "delay must be",
    ),
    http("a batch holding a list", "POST", "/job", [job_body(), [job_body()]], 400, "an object"),
    # the other write routes
    *(
        http(f"{method} {path} id {shown}", method, path.format(id=value), None, 400, "positive")
        for method, path, shown, value in [
            *(
                ("PUT", "/job/{id}/state/failed", shown, value)
                for shown, value in {
                    "word": "abc",
                    "0": "0",
                    "negative": "-1",
                    "16 digits": "9" * 16,
                    "float": "1.5",
                    "NUL": "1%00",
                    "arabic digit": "%D9%A1",
                    "dot dot": "%2E%2E",
                }.items()
            ),
            ("PUT", "/job/{id}/priority/high", "0", "0"),
            ("PUT", "/job/{id}/priority/high", "fullwidth digit", "%EF%BC%91"),
            ("DELETE", "/job/{id}", "negative", "-1"),
            ("DELETE", "/job/{id}", "glob", "%2A"),
            ("POST", "/job/{id}/retry", "float", "1.5"),
            ("POST", "/job/{id}/retry", "16 digits", "9" * 16),
        ]
    ),
    http("state of unknown id", "PUT", f"/job/{MISSING}/state/failed", None, 404, "not found"),
    http("priority of unknown id", "PUT", f"/job/{MISSING}/priority/low", None, 404, "not found"),
    http("remove unknown id", "DELETE", f"/job/{MISSING}", None, 404, "not found"),
    http("retry unknown id", "POST", f"/job/{MISSING}/retry", None, 404, "not found"),
    http("retry an inactive job", "POST", "/job/{inactive}/retry", None, 409, "is inactive"),
    http("retry a complete job", "POST", "/job/{complete}/retry", None, 409, "is complete"),
    *(
        http(f"state {shown}", "PUT", "/job/{inactive}/state/" + value, None, 400, says)
        for shown, value, says in [
            ("unknown", "sleeping", "unknown state"),
            ("active", "active", "only a worker"),
            ("upper case", "FAILED", "unknown state"),
            ("NUL", "failed%00", "unknown state"),
            ("glob", "%2A", "unknown state"),
            ("dot dot", "%2E%2E", "unknown state"),
        ]
    ),
    *(
        http(f"priority {shown}", "PUT", "/job/{inactive}/priority/" + value, None, 400, says)
        for shown, value, says in [
            ("unknown", "urgent", "unknown priority"),
            ("2**20", "1048576", "out of range"),
            ("12 digits", "999999999999", "out of range"),
            ("13 digits", "9999999999999", "unknown priority"),
            ("exponent", "1e3", "unknown priority"),
            ("NaN", "NaN", "unknown priority"),
            ("NUL", "%00", "unknown priority"),
            ("fullwidth digit", "%EF%BC%95", "unknown priority"),
        ]
    ),
    *(
        http(
            f"{verb} type {name}",
            "POST",
            f"/types/{segment(NAMES[name])}/{verb}",
            None,
            400,
            "job type",
        )
        for verb, name in [
            *(("pause", name) for name in PATH_NAMES),
            ("resume", "glob star"),
            ("resume", "hash tag braces"),
        ]
    ),
    http("pause type with slashes", "POST", "/types/..%2F..%2Fetc/pause", None, 404, "Not Found"),
    # every write route needs the token once one is set, whatever the input
    *(
        http(
            f"{method} {path} {shown}", method, path, body, 401, "needs its token", headers=headers
        )
        for method, path, body, shown, headers in [
            *(
                (method, path, body, "wrong token", {"Authorization": "Bearer guess"})
                for method, path, body in [
                    ("POST", "/job", job_body()),
                    ("PUT", "/job/{inactive}/state/failed", None),
                    ("PUT", "/job/{inactive}/priority/low", None),
                    ("DELETE", "/job/{inactive}", None),
                    ("POST", "/job/{failed}/retry", None),
                    ("POST", "/types/email/pause", None),
                    ("POST", "/types/sms/resume", None),
                ]
            ),
            ("POST", "/job", job_body(), "without token", {}),
            ("POST", "/job", job_body(), "token without Bearer", {"Authorization": TOKEN}),
            ("DELETE", "/job/{inactive}", None, "token with NUL", {"Authorization": "Bearer \x00"}),
        ]
    ),
    # writes take JSON only, so no HTML form and no no-preflight fetch can send one
    *(
        http(f"body as {media}", "POST", "/job", body, 415, "application/json", headers=headers)
        for media, body, headers in [
            ("text/plain", json.dumps(job_body()).encode(), {"Content-Type": "text/plain"}),
            ("form", b"type=email", {"Content-Type": "application/x-www-form-urlencoded"}),
            (
                "multipart",
                b'--b\r\nContent-Disposition: form-data; name="type"\r\n\r\nemail\r\n--b--\r\n',
                {"Content-Type": "multipart/form-data; boundary=b"},
            ),
            ("no type", b'{"type": "email"}', {"Content-Type": ""}),
        ]
    ),
    http(
        "empty form to retry",
        "POST",
        "/job/{failed}/retry",
        None,
        415,
        "application/json",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    # cross-site requests: what a browser marks a page's request to another site with
    *(
        http(f"{method} {path} {shown}", method, path, body, 403, "cross-site", headers=headers)
        for method, path, body in [
            ("POST", "/job", job_body()),
            ("PUT", "/job/{inactive}/state/failed", None),
            ("DELETE", "/job/{inactive}", None),
            ("POST", "/job/{failed}/retry", None),
            ("POST", "/types/email/pause", None),
        ]
        for shown, headers in [
            ("cross-site", {"Sec-Fetch-Site": "cross-site"}),
            ("same-site", {"Sec-Fetch-Site": "same-site"}),
            ("foreign Origin", {"Origin": "http://127.0.0.2:8000"}),
            ("Origin of another port", {"Origin": "http://localhost:1"}),
            ("Origin null", {"Origin": "null"}),
        ]
    ),
    # DNS rebinding: a name that resolves to this server but is not its own
    *(
        http(f"{method} {path} Host {host}", method, path, body, 421, "host", headers=headers)
        for method, path, body in [
            ("GET", "/job/{inactive}", None),
            ("GET", "/events", None),
            ("GET", "/", None),
            ("POST", "/job", job_body()),
            ("DELETE", "/job/{inactive}", None),
        ]
        for host, headers in [
            ("evil.example", {"Host": "evil.example"}),
            ("with port", {"Host": "evil.example:3000"}),
            ("localhost suffix", {"Host": "localhost.evil.example"}),
            ("127 prefix", {"Host": "127.0.0.1.evil.example"}),
        ]
    ),
    *(
        http(f"Content-Length {shown}", "POST", "/job", None, status, says, headers=headers)
        for shown, status, says, headers in [
            ("5000 digits", 413, "over the limit", {"Content-Length": "9" * 5000}),
            ("not a number", 400, "Content-Length", {"Content-Length": "12x"}),
        ]
    ),
    http("foreign Host OPTIONS", "OPTIONS", "/job/1", None, 421, "host", headers={"Host": "x.y"}),
    http("OPTIONS of an unknown route", "OPTIONS", "/keys/%2A", None, 404, "Not Found"),
    # refused values are quoted shortened, however long the segment
    *(
        http(f"{method} long {what}", method, path.format(long="x" * 20_000), None, 400, says)
        for method, what, path, says in [
            ("GET", "id", "/job/{long}", "positive whole"),
            ("GET", "log id", "/job/{long}/log", "positive whole"),
            ("GET", "range", "/jobs/{long}/asc", "FROM..TO"),
            ("GET", "order", "/jobs/0..9/{long}", "'asc' or 'desc'"),
            ("GET", "state", "/jobs/{long}/0..9/asc", "unknown state"),
            ("GET", "type", "/jobs/{long}/inactive/0..9/asc", "job type"),
            ("GET", "type count", "/jobs/{long}/inactive/stats", "job type"),
            ("PUT", "state", "/job/1/state/{long}", "unknown state"),
            ("PUT", "priority", "/job/1/priority/{long}", "unknown priority"),
            ("DELETE", "id", "/job/{long}", "positive whole"),
            ("POST", "type", "/types/{long}/pause", "job type"),
        ]
    ),
    # the parametrised GET routes
    *(
        http(
            f"GET {path} bad id {shown}",
            "GET",
            path.format(id=value),
            None,
            400,
            "job id must be a positive",
        )
        for path, shown, value in [
            *(
                ("/job/{id}", shown, value)
                for shown, value in {"word": "abc", "0": "0", "30 digits": "9" * 30}.items()
            ),
            ("/job/{id}/log", "NUL", "%00"),
            ("/job/{id}/errors", "unicode", "%C3%A9"),
        ]
    ),
    http("GET unknown id", "GET", f"/job/{MISSING}", None, 404, "not found"),
    http("GET log of unknown id", "GET", f"/job/{MISSING}/log", None, 404, "not found"),
    http("GET errors of unknown id", "GET", f"/job/{MISSING}/errors", None, 404, "not found"),
    http("GET jobs 5000 at once", "GET", "/jobs/0..5000/asc", None, 400, "<= 1000"),
    http("GET jobs backwards", "GET", "/jobs/5..1/asc", None, 400, "ascending"),
    http("GET jobs negative", "GET", "/jobs/-1..5/asc", None, 400, "FROM..TO"),
    http("GET jobs 10 digits", "GET", "/jobs/9999999999..9999999999/asc", None, 400, "FROM..TO"),
    http("GET jobs words", "GET", "/jobs/a..b/asc", None, 400, "FROM..TO"),
    http("GET jobs order", "GET", "/jobs/0..9/sideways", None, 400, "'asc' or 'desc'"),
    http("GET jobs state", "GET", "/jobs/sleeping/0..9/asc", None, 400, "unknown state"),
    http("GET jobs state glob", "GET", "/jobs/%2A/0..9/asc", None, 400, "unknown state"),
    *(
        http(
            f"GET {what} type {name}",
            "GET",
            path.format(segment(NAMES[name])),
            None,
            400,
            "job type",
        )
        for what, path, name in [
            *(("jobs", "/jobs/{}/inactive/0..9/asc", name) for name in PATH_NAMES),
            ("stats", "/jobs/{}/inactive/stats", "glob star"),
            ("stats", "/jobs/{}/inactive/stats", "RESP injection"),
            ("inactive", "/inactive/{}", "glob class"),
            ("inactive", "/inactive/{}", "hash tag braces"),
        ]
    ),
    http("GET stats of a state", "GET", "/jobs/email/sleeping/stats", None, 400, "unknown state"),
    http("search empty", "GET", "/job/search?q=", None, 400, "1 to 200"),
    http("search blank", "GET", "/job/search?q=%20%0A", None, 400, "1 to 200"),
    http("search 201 characters", "GET", "/job/search?q=" + "x" * 201, None, 400, "1 to 200"),
    # a URL cannot carry 10 MB (clients and servers refuse it): the longest httpx sends
    http("search 60 KB", "GET", "/job/search?q=" + "x" * 60_000, None, 400, "1 to 200"),
    http(
        "static path traversal",
        "GET",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        None,
        404,
        "Not Found",
    ),
    http("static dot dot", "GET", "/static/%2E%2E/api.py", None, 404, "Not Found"),
    http("id path traversal", "GET", "/job/..%2F..%2Fetc%2Fpasswd", None, 404, "Not Found"),
    http("unknown route", "GET", "/keys/%2A", None, 404, "Not Found"),
    http("wrong method", "PATCH", "/job/{inactive}", None, 405, "Method Not Allowed"),
    http("wrong method on a list", "DELETE", "/jobs/0..9/asc", None, 405, "Method Not Allowed"),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", HTTP_CASES)
async def test_http_refuses_bad_input(
    battery: Battery, web: dict[bool, httpx2.AsyncClient], case: HttpCase
) -> None:
    body = case.body
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    path = case.path.format(**battery.ids) if "{" in case.path else case.path
    client = web[case.status == 401]
    headers = {"Content-Type": "application/json"} if body is not None else {}
    with battery.judging("http", "the request"):
        response = await client.request(
            case.method, path, content=body, headers=headers | case.headers
        )
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert list(answer) == ["error"], answer
    assert_clear(answer["error"], case.says)


# -- answered, not refused --------------------------------------------------------------------
# Unknown types are not errors to a read (Kue's routes count them as 0), and search text
# is plain text: glob characters in it match only themselves, never a key pattern.


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("path", "answer"),
    [
        pytest.param("/jobs/nosuchtype/failed/stats", {"count": 0}, id="count unknown type"),
        pytest.param("/jobs/nosuchtype/inactive/0..9/asc", [], id="jobs unknown type"),
        pytest.param("/inactive/nosuchtype", [], id="inactive unknown type"),
        pytest.param("/job/search?q=%2A", [], id="search glob star"),
        pytest.param("/job/search?q=%7Bchaos%7D%3Ajob%3A%3F", [], id="search key pattern"),
    ],
)
async def test_http_reads_of_unknown_names_answer_empty(
    battery: Battery, web: dict[bool, httpx2.AsyncClient], path: str, answer: Any
) -> None:
    with battery.judging("http", "the read"):
        response = await web[False].get(path)
    assert (response.status_code, response.json()) == (200, answer)
