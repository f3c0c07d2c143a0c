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
    SOME_NAMES,
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


def schedule_body(**fields: Any) -> dict[str, Any]:
    return {"type": "email", "cron": "0 6 * * *", **fields}


def every_body(every: Any) -> dict[str, Any]:
    return {"type": "email", "every": every}


SCHEDULE = "/schedules/nightly"
LIMITS = "/types/email/limits"
NO_LIMITS = {"rate": None, "concurrency": None, "key_rate": None}

# PUT /schedules/{key}, GET and DELETE of one: the seed has no schedule, so a refused PUT
# that still wrote one shows as a key created
SCHEDULE_CASES = [
    *(
        http(f"schedule body {shown}", "PUT", SCHEDULE, body, 400, says)
        for shown, body, says in [
            ("not JSON", b"not json", "must be JSON"),
            ("empty", b"", "must be JSON"),
            ("binary", b"\xff\xfe\x00{", "must be JSON"),
            ("null", b"null", "must be a JSON object"),
            ("number", b"42", "must be a JSON object"),
            ("string", b'"email"', "must be a JSON object"),
            ("list", [schedule_body()], "must be a JSON object"),
            ("arrays 100000 deep", deep_json(100_000), "must be JSON"),
            (
                "objects 5000 deep",
                b'{"type": "email", "every": 1, "data": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
                "must be JSON",
            ),
        ]
    ),
    http("schedule body 10 MB", "PUT", SCHEDULE, b"x" * TEN_MB, 413, "over the limit of 4194304"),
    http(
        "schedule data 10 MB",
        "PUT",
        SCHEDULE,
        schedule_body(data={"blob": BIG}),
        413,
        "over the limit of 4194304",
    ),
    http(
        "schedule data 2 MB",
        "PUT",
        SCHEDULE,
        schedule_body(data={"blob": BIG[: 2 << 20]}),
        400,
        "over the limit of 1048576",
    ),
    *(
        http(f"schedule data {shown}", "PUT", SCHEDULE, body, 400, says)
        for shown, body, says in [
            ("NaN", b'{"type": "email", "every": 1, "data": {"a": NaN}}', "NaN"),
            ("1e400", b'{"type": "email", "every": 1, "data": {"a": 1e400}}', "Infinity"),
            ("int over 64 bits", schedule_body(data={"a": 2**64}), "64-bit"),
            (
                "lone surrogate",
                b'{"type": "email", "every": 1, "data": {"a": "\\ud800"}}',
                "surrogates",
            ),
            ("nested 300 deep", schedule_body(data=nested(300)), "Recursion"),
            ("list", schedule_body(data=[1, 2]), "JSON object"),
            ("string", schedule_body(data="to"), "JSON object"),
            ("number", schedule_body(data=0), "JSON object"),
        ]
    ),
    http("schedule without type", "PUT", SCHEDULE, {"cron": "0 6 * * *"}, 400, "needs a type"),
    http("schedule type number", "PUT", SCHEDULE, schedule_body(type=42), 400, "must be a string"),
    http("schedule type null", "PUT", SCHEDULE, schedule_body(type=None), 400, "must be a string"),
    *(
        http(
            f"schedule type {name}",
            "PUT",
            SCHEDULE,
            schedule_body(type=NAMES[name]),
            400,
            "job type",
        )
        for name in NAMES
        if name != "10 MB"
    ),
    *(
        http(
            f"schedule field {field}",
            "PUT",
            SCHEDULE,
            schedule_body(**{field: 1}),
            400,
            "unknown schedule fields",
        )
        for field in ("key", "delay", "unique", "every_ms", "Cron", "")
    ),
    # exactly one rule
    http("schedule cron and every", "PUT", SCHEDULE, schedule_body(every=60), 400, "exactly one"),
    http("schedule no rule", "PUT", SCHEDULE, {"type": "email"}, 400, "exactly one"),
    http(
        "schedule both rules null",
        "PUT",
        SCHEDULE,
        {"type": "email", "cron": None, "every": None},
        400,
        "exactly one",
    ),
    http(
        "schedule cron null alone",
        "PUT",
        SCHEDULE,
        {"type": "email", "cron": None},
        400,
        "exactly one",
    ),
    *(
        http(f"schedule cron {shown}", "PUT", SCHEDULE, schedule_body(cron=cron), 400, says)
        for shown, cron, says in [
            ("empty", "", "cron must be"),
            ("201 characters", "*" * 201, "cron must be"),
            ("10 MB", BIG[: 1 << 20], "cron must be"),
            ("number", 5, "cron must be"),
            ("list", ["0", "6", "*", "*", "*"], "cron must be"),
            ("true", True, "cron must be"),
            ("object", {"minute": 0}, "cron must be"),
            ("minute 61", "61 * * * *", "is not valid"),
            ("hour 24", "0 24 * * *", "is not valid"),
            ("day 0", "0 6 0 * *", "is not valid"),
            ("month 13", "0 6 * 13 *", "is not valid"),
            ("weekday 8", "0 6 * * 8", "is not valid"),
            ("4 fields", "0 6 * *", "is not valid"),
            ("7 fields", "0 0 6 * * * 2030", "is not valid"),
            ("words", "every day at six", "is not valid"),
            ("step 0", "*/0 * * * *", "is not valid"),
            ("backwards range", "30-10 * * * *", "is not valid"),
            ("@reboot", "@reboot", "is not valid"),
            ("NUL", "0 6 * * *\x00", "is not valid"),
            ("RESP injection", "0 6 * * *\r\n*1\r\n$8\r\nFLUSHALL\r\n", "is not valid"),
            ("unicode digit", "\u0661 6 * * *", "is not valid"),
            ("emoji", "\N{ALARM CLOCK} * * * *", "is not valid"),
            ("30 February", "0 6 30 2 *", "Bad day-of-month"),
            ("31 April", "0 6 31 4 *", "Bad day-of-month"),
        ]
    ),
    *(
        http(f"schedule every {shown}", "PUT", SCHEDULE, body, 400, says)
        for shown, body, says in [
            ("0", every_body(0), "every must be 0.001"),
            ("negative", every_body(-1), "every must be 0.001"),
            ("under a millisecond", every_body(0.0001), "every must be 0.001"),
            ("over ten years", every_body(10 * 366 * 86400), "every must be 0.001"),
            ("1e300", every_body(1e300), "every must be 0.001"),
            ("2**64", every_body(2**64), "every must be 0.001"),
            ("NaN", b'{"type": "email", "every": NaN}', "every must be 0.001"),
            ("Infinity", b'{"type": "email", "every": Infinity}', "every must be 0.001"),
            ("-Infinity", b'{"type": "email", "every": -Infinity}', "every must be 0.001"),
            ("1e400", b'{"type": "email", "every": 1e400}', "every must be 0.001"),
            ("5000 digits", b'{"type": "email", "every": ' + b"9" * 5000 + b"}", "must be JSON"),
            ("string", every_body("60"), "number of seconds"),
            ("true", every_body(True), "number of seconds"),
            ("list", every_body([60]), "number of seconds"),
            ("object", every_body({"seconds": 60}), "number of seconds"),
        ]
    ),
    *(
        http(f"schedule tz {shown}", "PUT", SCHEDULE, schedule_body(tz=tz), 400, says)
        for shown, tz, says in [
            ("unknown", "Mars/Olympus", "unknown time zone"),
            ("absolute path", "/etc/localtime", "unknown time zone"),
            ("lower case", "europe/paris", "unknown time zone"),
            ("empty", "", "tz must be"),
            ("null", None, "tz must be"),
            ("number", 2, "tz must be"),
            ("path traversal", "../../etc/passwd", "tz must be"),
            ("dot dot inside", "Europe/../../etc/passwd", "tz must be"),
            ("NUL", "Europe/Paris\x00", "tz must be"),
            ("newline", "UTC\nFLUSHALL", "tz must be"),
            ("65 characters", "A" * 65, "tz must be"),
            ("10 MB", BIG[: 1 << 20], "tz must be"),
            ("unicode", "Europe/Zürich", "tz must be"),
        ]
    ),
    *(
        http(
            f"schedule catch_up {shown}",
            "PUT",
            SCHEDULE,
            schedule_body(catch_up=value),
            400,
            "catch_up must be",
        )
        for shown, value in [("string", "yes"), ("1", 1), ("0", 0), ("null", None), ("list", [])]
    ),
    *(
        http(
            f"schedule options {shown}",
            "PUT",
            SCHEDULE,
            schedule_body(options=value),
            400,
            "options must be",
        )
        for shown, value in [
            ("list", []),
            ("zero", 0),
            ("string", ""),
            ("false", False),
            ("unknown key", {"colour": 1}),
            ("delay", {"delay": 5}),
            ("unique", {"unique": "u1"}),
            ("type", {"type": "sms"}),
        ]
    ),
    *(
        http(
            f"schedule option {key} {shown}",
            "PUT",
            SCHEDULE,
            schedule_body(options={key: value}),
            400,
            says,
        )
        for key, shown, value, says in [
            ("priority", "unknown", "urgent", "unknown priority"),
            ("priority", "2**20", 2**20, "out of range"),
            ("priority", "true", True, "name or an int"),
            ("attempts", "0", 0, "attempts must be"),
            ("attempts", "10001", 10_001, "more than 10000"),
            ("attempts", "string", "3", "attempts must be"),
            ("ttl", "0", 0, "ttl must be > 0"),
            ("ttl", "1e300", 1e300, "ten years"),
            ("backoff", "string", "exponential", "must be a dict"),
            ("backoff", "unknown type", {"type": "linear"}, "backoff type"),
            ("remove_on_complete", "negative", -1, "count must be"),
            ("remove_on_complete", "string", "yes", "remove_on_complete must be"),
            ("limit_key", "number", 42, "limit key must be a string"),
            *(("limit_key", name, NAMES[name], "limit key") for name in SOME_NAMES),
        ]
    ),
    # the key in the path
    *(
        http(
            f"{method} schedule key {name}",
            method,
            f"/schedules/{segment(NAMES[name])}",
            body,
            400,
            "schedule key",
        )
        for method, name, body in [
            *(("PUT", name, schedule_body()) for name in PATH_NAMES),
            ("DELETE", "glob star", None),
            ("DELETE", "hash tag braces", None),
            ("DELETE", "RESP injection", None),
            ("GET", "glob class", None),
            ("GET", "newline", None),
        ]
    ),
    http(
        "PUT schedule key 20000 long",
        "PUT",
        "/schedules/" + "k" * 20_000,
        schedule_body(),
        400,
        "schedule key",
    ),
    http(
        "PUT schedule key with slashes",
        "PUT",
        "/schedules/..%2F..%2Fetc",
        schedule_body(),
        404,
        "Not Found",
    ),
    http("PUT schedules without key", "PUT", "/schedules", schedule_body(), 405, "Not Allowed"),
    http("DELETE unknown schedule", "DELETE", "/schedules/nosuchschedule", None, 404, "not found"),
    http("GET unknown schedule", "GET", "/schedules/nosuchschedule", None, 404, "not found"),
    http("POST schedules", "POST", "/schedules", schedule_body(), 405, "Method Not Allowed"),
    http("PATCH schedule", "PATCH", SCHEDULE, schedule_body(), 405, "Method Not Allowed"),
]

# PUT /types/{type}/limits (and GET): the seed sets no limits
LIMITS_CASES = [
    *(
        http(f"limits body {shown}", "PUT", LIMITS, body, 400, says)
        for shown, body, says in [
            ("not JSON", b"not json", "must be JSON"),
            ("empty", b"", "must be JSON"),
            ("null", b"null", "must be a JSON object"),
            ("list", [{"concurrency": 1}], "must be a JSON object"),
            ("number", b"5", "must be a JSON object"),
            ("arrays 100000 deep", deep_json(100_000), "must be JSON"),
            ("empty object", {}, "at least one"),
            ("unknown key", {"burst": 3}, "unknown limits"),
            ("upper case key", {"Rate": {"count": 1, "per": 1}}, "unknown limits"),
            (
                "a good and a bad limit",
                {"concurrency": 5, "rate": {"count": 0, "per": 1}},
                "rate count",
            ),
        ]
    ),
    http("limits body 10 MB", "PUT", LIMITS, b"x" * TEN_MB, 413, "over the limit of 4194304"),
    *(
        http(f"limits {name} {shown}", "PUT", LIMITS, {name: value}, 400, says)
        for name in ("rate", "key_rate")
        for shown, value, says in [
            ("list", [100, 60], "must be an object {count, per}"),
            ("string", "100/60s", "must be an object {count, per}"),
            ("number", 100, "must be an object {count, per}"),
            ("true", True, "must be an object {count, per}"),
            ("no per", {"count": 100}, "must be an object {count, per}"),
            ("no count", {"per": 60}, "must be an object {count, per}"),
            ("extra key", {"count": 1, "per": 1, "burst": 2}, "must be an object {count, per}"),
            ("count 0", {"count": 0, "per": 60}, f"{name} count must be an int from 1 to 100000"),
            ("count negative", {"count": -1, "per": 60}, f"{name} count must be"),
            ("count 100001", {"count": 100_001, "per": 60}, f"{name} count must be"),
            ("count 2**64", {"count": 2**64, "per": 60}, f"{name} count must be"),
            ("count float", {"count": 1.5, "per": 60}, f"{name} count must be"),
            ("count string", {"count": "5", "per": 60}, f"{name} count must be"),
            ("count true", {"count": True, "per": 60}, f"{name} count must be"),
            ("count null", {"count": None, "per": 60}, f"{name} count must be"),
            ("per 0", {"count": 1, "per": 0}, f"{name} window must be 0.001 to 604800"),
            ("per negative", {"count": 1, "per": -60}, f"{name} window must be"),
            ("per under a millisecond", {"count": 1, "per": 0.0001}, f"{name} window must be"),
            ("per over a week", {"count": 1, "per": 604_801}, f"{name} window must be"),
            ("per 1e300", {"count": 1, "per": 1e300}, f"{name} window must be"),
            ("per string", {"count": 1, "per": "60"}, f"{name} window must be"),
            ("per true", {"count": 1, "per": True}, f"{name} window must be"),
            ("per null", {"count": 1, "per": None}, f"{name} window must be"),
        ]
    ),
    *(
        http(f"limits rate {shown}", "PUT", LIMITS, body, 400, says)
        for shown, body, says in [
            ("per NaN", b'{"rate": {"count": 1, "per": NaN}}', "rate window must be"),
            ("per Infinity", b'{"rate": {"count": 1, "per": Infinity}}', "rate window must be"),
            ("per 1e400", b'{"rate": {"count": 1, "per": 1e400}}', "rate window must be"),
            (
                "count 5000 digits",
                b'{"rate": {"count": ' + b"9" * 5000 + b', "per": 1}}',
                "must be JSON",
            ),
        ]
    ),
    *(
        http(
            f"limits concurrency {shown}",
            "PUT",
            LIMITS,
            {"concurrency": value},
            400,
            "concurrency must be an int from 1 to 100000",
        )
        for shown, value in [
            ("0", 0),
            ("negative", -1),
            ("100001", 100_001),
            ("10**30", 10**30),
            ("float", 1.5),
            ("whole float", 5.0),
            ("string", "5"),
            ("true", True),
            ("list", [5]),
            ("object", {"max": 5}),
        ]
    ),
    *(
        http(
            f"{method} limits of type {name}",
            method,
            f"/types/{segment(NAMES[name])}/limits",
            body,
            400,
            "job type",
        )
        for method, name, body in [
            *(("PUT", name, {"concurrency": 1}) for name in PATH_NAMES),
            ("GET", "glob star", None),
            ("GET", "hash tag braces", None),
            ("GET", "RESP injection", None),
        ]
    ),
    http(
        "PUT limits 20000 long type",
        "PUT",
        "/types/" + "t" * 20_000 + "/limits",
        {"concurrency": 1},
        400,
        "job type",
    ),
    http("POST limits", "POST", LIMITS, {"concurrency": 1}, 405, "Method Not Allowed"),
    http("DELETE limits", "DELETE", LIMITS, None, 405, "Method Not Allowed"),
]

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
            ("unique_for", "without unique", 5, "needs a unique key"),
            ("debounce", "without debounce_for", "d", "go together"),
            ("debounce_for", "without debounce", 5, "go together"),
            ("limit_key", "braces", "{chaos}", "limit key"),
            ("limit_key", "number", 7, "must be a string"),
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
    # POST /job: depends_on and on_dependency_failure (the seed has no dependency: a
    # refused job that still linked one shows as keys created)
    *(
        http(f"depends_on {shown}", "POST", "/job", job_body(depends_on=value), 400, says)
        for shown, value, says in [
            ("unknown id", [MISSING], f"dependency {MISSING} not found"),
            ("unknown id among others", [1, 2, MISSING], f"dependency {MISSING} not found"),
            ("int", 1, "must be a list of jobs or job ids, got int"),
            ("string", "1,2", "must be a list of jobs or job ids, got str"),
            ("object", {"id": 1}, "must be a list of jobs or job ids, got dict"),
            ("true", True, "must be a list of jobs or job ids, got bool"),
            ("true in it", [True], "job ids (ints >= 1), got True"),
            ("false in it", [False], "job ids (ints >= 1), got False"),
            ("0", [0], "job ids (ints >= 1), got 0"),
            ("negative", [-1], "job ids (ints >= 1), got -1"),
            ("float", [1.5], "job ids (ints >= 1), got 1.5"),
            ("whole float", [1.0], "job ids (ints >= 1), got 1.0"),
            ("string id", ["1"], "job ids (ints >= 1), got '1'"),
            ("null in it", [None], "job ids (ints >= 1), got None"),
            ("list in it", [[1]], "job ids (ints >= 1), got [1]"),
            ("object in it", [{"id": 1}], "job ids (ints >= 1)"),
            ("2**64", [2**64], "job ids (ints >= 1)"),
            ("2**53", [2**53], "job ids (ints >= 1)"),
            ("15 digits", [10**15], "dependency 1000000000000000 not found"),
            ("nested 300 deep", [nested(300)], "job ids (ints >= 1)"),
            ("glob string", ["*"], "job ids (ints >= 1), got '*'"),
            ("key name", ["{chaos}:job:1"], "job ids (ints >= 1)"),
            ("twice", [MISSING, MISSING], f"names job {MISSING} twice"),
            ("1001 ids", list(range(1, 1002)), "holds 1001 jobs, more than 1000"),
            ("100000 ids", list(range(1, 100_001)), "holds 100000 jobs, more than 1000"),
        ]
    ),
    *(
        http(
            f"on_dependency_failure {shown}",
            "POST",
            "/job",
            job_body(depends_on=[MISSING], on_dependency_failure=value),
            400,
            "on_dependency_failure must be one of fail, ignore, wait",
        )
        for shown, value in [
            ("unknown", "explode"),
            ("upper case", "FAIL"),
            ("empty", ""),
            ("padded", " fail"),
            ("NUL", "fail\x00"),
            ("number", 1),
            ("true", True),
            ("list", ["fail"]),
            ("object", {"policy": "fail"}),
            ("10 MB", BIG[: 1 << 20]),
        ]
    ),
    http(
        "on_dependency_failure without depends_on",
        "POST",
        "/job",
        job_body(on_dependency_failure="sometimes"),
        400,
        "on_dependency_failure must be one of",
    ),
    http(
        "depends_on as an option",
        "POST",
        "/job",
        job_body(options={"depends_on": [1]}),
        400,
        "options must be an object",
    ),
    http(
        "a batch with an unknown dependency last",
        "POST",
        "/job",
        [job_body(), job_body(depends_on=[1]), job_body(depends_on=[MISSING])],
        400,
        f"dependency {MISSING} not found",
    ),
    http(
        "a batch with a bad policy",
        "POST",
        "/job",
        [job_body(depends_on=[1]), job_body(on_dependency_failure="never")],
        400,
        "on_dependency_failure must be one of",
    ),
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
    *(
        http(f"DELETE force {shown}", "DELETE", "/job/{inactive}" + query, None, 400, says)
        for shown, query, says in [
            *(
                (shown, f"?force={value}", "force must be true or false")
                for shown, value in [
                    ("yes", "yes"),
                    ("True", "True"),
                    ("1", "1"),
                    ("0", "0"),
                    ("empty", ""),
                    ("padded", "%20true"),
                    ("NUL", "true%00"),
                    ("newline", "true%0A"),
                    ("fullwidth", "%EF%BD%94rue"),
                    ("20000 long", "t" * 20_000),
                ]
            ),
            ("twice", "?force=true&force=true", "give force once, as true or false"),
            ("true and false", "?force=true&force=false", "give force once"),
            ("empty twice", "?force=&force=", "give force once"),
        ]
    ),
    http(
        "DELETE force of unknown id", "DELETE", f"/job/{MISSING}?force=true", None, 404, "not found"
    ),
    *(
        http(f"GET tree id {shown}", "GET", f"/job/{value}/tree", None, 400, "job id must be")
        for shown, value in {
            "word": "abc",
            "0": "0",
            "negative": "-1",
            "float": "1.5",
            "16 digits": "9" * 16,
            "20000 digits": "9" * 20_000,
            "NUL": "1%00",
            "arabic digit": "%D9%A1",
            "glob": "%2A",
            "key name": "%7Bchaos%7D%3Ajob%3A1",
        }.items()
    ),
    http("GET tree of unknown id", "GET", f"/job/{MISSING}/tree", None, 404, "not found"),
    http("POST tree", "POST", "/job/{inactive}/tree", None, 405, "Method Not Allowed"),
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
            ("waiting", "waiting", "only unfinished dependencies make a job waiting"),
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
                    ("DELETE", "/job/{inactive}?force=true", None),
                    ("POST", "/job", job_body(depends_on=[1])),
                    ("POST", "/job/{failed}/retry", None),
                    ("POST", "/types/email/pause", None),
                    ("POST", "/types/sms/resume", None),
                    ("PUT", SCHEDULE, schedule_body()),
                    ("DELETE", SCHEDULE, None),
                    ("PUT", LIMITS, {"concurrency": 2}),
                ]
            ),
            ("PUT", SCHEDULE, schedule_body(), "without token", {}),
            ("PUT", LIMITS, {"concurrency": 2}, "without token", {}),
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
    *(
        http(
            f"{path} as {media}",
            "PUT",
            path,
            body,
            415,
            "application/json",
            headers={"Content-Type": media},
        )
        for path, body in [
            (SCHEDULE, json.dumps(schedule_body()).encode()),
            (LIMITS, b'{"concurrency": 2}'),
        ]
        for media in ("text/plain", "application/x-www-form-urlencoded")
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
            ("POST", "/job", job_body(depends_on=[1], on_dependency_failure="ignore")),
            ("PUT", "/job/{inactive}/state/failed", None),
            ("DELETE", "/job/{inactive}", None),
            ("DELETE", "/job/{inactive}?force=true", None),
            ("POST", "/job/{failed}/retry", None),
            ("POST", "/types/email/pause", None),
            ("PUT", SCHEDULE, schedule_body()),
            ("DELETE", SCHEDULE, None),
            ("PUT", LIMITS, {"concurrency": 2}),
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
            ("GET", "/job/{inactive}/tree", None),
            ("GET", "/events", None),
            ("GET", "/", None),
            ("POST", "/job", job_body()),
            ("DELETE", "/job/{inactive}", None),
            ("DELETE", "/job/{inactive}?force=true", None),
            ("GET", "/schedules", None),
            ("PUT", SCHEDULE, schedule_body()),
            ("DELETE", SCHEDULE, None),
            ("PUT", LIMITS, {"concurrency": 2}),
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
            ("GET", "schedule key", "/schedules/{long}", "schedule key"),
            ("DELETE", "schedule key", "/schedules/{long}", "schedule key"),
            ("GET", "limits type", "/types/{long}/limits", "job type"),
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
    *SCHEDULE_CASES,
    *LIMITS_CASES,
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
        pytest.param(
            "/types/sms/limits", {"type": "sms", "limits": NO_LIMITS}, id="limits of a type"
        ),
        pytest.param(
            "/types/nosuchtype/limits",
            {"type": "nosuchtype", "limits": NO_LIMITS},
            id="limits of an unknown type",
        ),
    ],
)
async def test_http_reads_of_unknown_names_answer_empty(
    battery: Battery, web: dict[bool, httpx2.AsyncClient], path: str, answer: Any
) -> None:
    with battery.judging("http", "the read"):
        response = await web[False].get(path)
    assert (response.status_code, response.json()) == (200, answer)
