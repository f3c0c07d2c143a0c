"""Bad input through the ``pykue`` command: each row of CLI_CASES is one command line,
run in process against the seeded server, the exit code it must end with and a part of
the one line it must write on stderr.

To add an input, add a row: ``cli(id, ["jobs", "show", "abc"], 2, "says")``. The rows get
``--url`` and ``--prefix`` of the seeded server first unless they say ``options=False``;
the placeholders URL, INACTIVE, FAILED and the names of FILES (a new file goes there, in
conftest.py) stand for whole arguments and are replaced when the row runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pykue.cli import main
from tests.chaos.bad_input.conftest import (
    ARGV_NAMES,
    FAILED,
    INACTIVE,
    MISSING,
    NAMES,
    PREFIX,
    SOME_NAMES,
    URL,
    Battery,
    CliCase,
    assert_clear,
    cli,
    deep_json,
    nested,
)

CLI_CASES = [
    *(
        cli(f"enqueue type {name}", ["enqueue", NAMES[name], "{}"], 2, "job type")
        for name in ARGV_NAMES
    ),
    cli("enqueue not JSON", ["enqueue", "email", "not json"], 2, "not valid JSON"),
    cli("enqueue array", ["enqueue", "email", "[1, 2]"], 2, "JSON object"),
    cli("enqueue null", ["enqueue", "email", "null"], 2, "JSON object"),
    cli("enqueue string", ["enqueue", "email", '"to"'], 2, "JSON object"),
    cli("enqueue NaN", ["enqueue", "email", '{"a": NaN}'], 2, "not valid JSON"),
    cli("enqueue Infinity", ["enqueue", "email", '{"a": -Infinity}'], 2, "not valid JSON"),
    cli("enqueue 1e400", ["enqueue", "email", '{"a": 1e400}'], 2, "infinity"),
    cli("enqueue surrogate", ["enqueue", "email", '{"a": "\\ud800"}'], 2, "not valid JSON"),
    cli("enqueue arrays 5000 deep", ["enqueue", "email", deep_json(5000).decode()], 2, "depth"),
    cli(
        "enqueue objects 300 deep",
        ["enqueue", "email", json.dumps(nested(300))],
        2,
        "Recursion limit",
    ),
    cli("priority unknown", ["enqueue", "email", "{}", "--priority", "urgent"], 2, "urgent"),
    cli("priority 2**20", ["enqueue", "email", "{}", "--priority", "1048576"], 2, "out of range"),
    cli(
        "priority 5000 digits", ["enqueue", "email", "{}", "--priority", "9" * 5000], 2, "priority"
    ),
    cli(
        "priority arabic digits",
        ["enqueue", "email", "{}", "--priority", "\u0661\u0660"],
        2,
        "unknown priority",
    ),
    cli("priority underscore", ["enqueue", "email", "{}", "--priority", "1_0"], 2, "unknown"),
    cli("delay negative", ["enqueue", "email", "{}", "--delay", "-1"], 2, ">= 0"),
    cli("delay NaN", ["enqueue", "email", "{}", "--delay", "nan"], 2, "finite"),
    cli("delay Infinity", ["enqueue", "email", "{}", "--delay", "inf"], 2, "finite"),
    cli("delay 1e12", ["enqueue", "email", "{}", "--delay", "1e12"], 2, "ten years"),
    cli("delay word", ["enqueue", "email", "{}", "--delay", "soon"], 2, "number of seconds"),
    cli(
        "delay fullwidth digits",
        ["enqueue", "email", "{}", "--delay", "\uff15"],
        2,
        "number of seconds",
    ),
    cli("ttl 0", ["enqueue", "email", "{}", "--ttl", "0"], 2, "> 0"),
    cli("ttl 1e-9", ["enqueue", "email", "{}", "--ttl", "1e-9"], 2, "at least 0.001 s"),
    cli("attempts 0", ["enqueue", "email", "{}", "--attempts", "0"], 2, "--attempts"),
    cli("attempts 10001", ["enqueue", "email", "{}", "--attempts", "10001"], 2, "--attempts"),
    cli("attempts word", ["enqueue", "email", "{}", "--attempts", "three"], 2, "--attempts"),
    cli("backoff unknown", ["enqueue", "email", "{}", "--backoff", "linear:1"], 2, "backoff type"),
    cli("backoff NaN", ["enqueue", "email", "{}", "--backoff", "fixed:nan"], 2, "backoff delay"),
    cli("backoff 1e400", ["enqueue", "email", "{}", "--backoff", "exponential:1e400"], 2, "ten"),
    cli("backoff negative", ["enqueue", "email", "{}", "--backoff", "fixed:-1"], 2, ">= 0"),
    cli(
        "backoff arabic digit",
        ["enqueue", "email", "{}", "--backoff", "fixed:\u0661"],
        2,
        "not a number",
    ),
    cli(
        "file 10 MB line", ["enqueue", "email", "--file", "$TEN_MB_LINE"], 2, "longer than 4194304"
    ),
    cli("file NaN line", ["enqueue", "email", "--file", "$NAN_LINE"], 2, "line 2: not valid JSON"),
    cli("file deep line", ["enqueue", "email", "--file", "$DEEP_LINE"], 2, "depth limit"),
    cli("file array line", ["enqueue", "email", "--file", "$ARRAY_LINE"], 2, "line 2: expected"),
    cli("file blank", ["enqueue", "email", "--file", "$EMPTY"], 2, "holds no jobs"),
    cli("file binary", ["enqueue", "email", "--file", "$BINARY"], 2, "not valid JSON"),
    cli(
        "file path traversal",
        ["enqueue", "email", "--file", "../../../../../../../../etc/passwd"],
        2,
        "line 1: not valid JSON",
    ),
    cli("file missing", ["enqueue", "email", "--file", "/no/such/file.jsonl"], 2, "--file"),
    *(
        cli(f"jobs {verb} id {shown}", ["jobs", verb, value], 2, "a job id is a positive integer")
        for verb, shown, value in [
            ("show", "word", "abc"),
            ("show", "0", "0"),
            ("show", "2**53", str(2**53)),
            ("show", "5000 digits", "9" * 5000),
            ("show", "arabic digit", "\u0661"),  # int() reads it as 1
            ("show", "underscore", "1_0"),  # int() reads it as 10
            ("show", "plus sign", "+1"),
            ("show", "spaces", " 1 "),
            ("show", "path traversal", "../1"),
            ("remove", "arabic digit", "\u0661"),
            ("remove", "fullwidth digit", "\uff11"),
            ("retry", "underscore", "1_0"),
        ]
    ),
    cli("jobs show id negative", ["jobs", "show", "-1"], 2, "No such option '-1'"),
    cli("jobs show unknown id", ["jobs", "show", str(MISSING)], 1, f"job {MISSING} not found"),
    cli("jobs remove unknown id", ["jobs", "remove", str(MISSING)], 1, "not found"),
    cli("jobs retry unknown id", ["jobs", "retry", str(MISSING)], 1, "not found"),
    cli("jobs retry an inactive job", ["jobs", "retry", INACTIVE], 1, "only failed jobs"),
    cli("jobs list unknown state", ["jobs", "list", "--state", "sleeping"], 2, "--state"),
    *(
        cli(f"jobs list type {name}", ["jobs", "list", "--type", NAMES[name]], 2, "job type")
        for name in SOME_NAMES
    ),
    cli("jobs list start -1", ["jobs", "list", "--start", "-1"], 2, "--start"),
    cli(
        "jobs list start 2**63",
        ["jobs", "list", "--state", "inactive", "--start", str(2**63), "--stop", str(2**63 + 5)],
        2,
        "below 2**53",
    ),
    cli("jobs list start 2**63 all states", ["jobs", "list", "--start", str(2**63)], 2, "2**53"),
    cli("jobs list 5000 at once", ["jobs", "list", "--stop", "5000"], 2, "at most 1000"),
    cli("jobs list order", ["jobs", "list", "--order", "random"], 2, "--order"),
    cli("jobs unknown command", ["jobs", "purge"], 2, "No such command"),
    cli("stats extra argument", ["stats", "*"], 2, "unexpected extra argument"),
    cli("stats unknown option", ["stats", "--all"], 2, "No such option"),
    cli("unknown command", ["flushall"], 2, "No such command"),
    cli(
        "worker path traversal",
        ["worker", "../../etc/passwd"],
        2,
        "is not MODULE[:ATTR]",
    ),
    cli("worker not a queue", ["worker", "os:system"], 2, "not a pykue.Queue"),
    cli("worker shell text", ["worker", "tasks; rm -rf /"], 2, "is not MODULE[:ATTR]"),
    cli("worker concurrency 0", ["worker", "tasks", "--concurrency", "0"], 2, "--concurrency"),
    cli("dashboard port 70000", ["dashboard", "--port", "70000"], 2, "--port"),
    cli("dashboard port -1", ["dashboard", "--port", "-1"], 2, "--port"),
    # the global options and the environment
    *(
        cli(
            f"prefix {name}",
            ["--url", URL, "--prefix", NAMES[name], "stats"],
            2,
            "prefix",
            options=False,
        )
        for name in ["empty", "129 characters", "hash tag braces", "glob star", "RESP injection"]
    ),
    cli("url http", ["--url", "http://127.0.0.1", "stats"], 2, "unsupported", options=False),
    cli("url no scheme", ["--url", "localhost", "stats"], 2, "no scheme", options=False),
    cli("url port", ["--url", "redis://127.0.0.1:99999", "stats"], 2, "port", options=False),
    cli(
        "PYKUE_PREFIX glob",
        ["--url", URL, "stats"],
        1,
        "prefix",
        env={"PYKUE_PREFIX": "*"},
        options=False,
    ),
    cli(
        "PYKUE_PREFIX braces",
        ["--url", URL, "jobs", "list"],
        1,
        "prefix",
        env={"PYKUE_PREFIX": "{chaos}"},
        options=False,
    ),
    cli(
        "REDIS_URL path traversal",
        ["--prefix", PREFIX, "stats"],
        1,
        "REDIS_URL",
        env={"REDIS_URL": "file:///../../etc/passwd"},
        options=False,
    ),
]


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_refuses_bad_input(
    battery: Battery,
    files: dict[str, str],
    case: CliCase,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # main() runs in this process: what a command sets up for itself (worker exports
    # main() runs in this process: what a command sets up for itself (worker exports
    # REDIS_URL and PYKUE_PREFIX, and puts the working directory on sys.path) is undone.
    for name in ("REDIS_URL", "REDIS_HOST", "REDIS_PORT", "PYKUE_PREFIX", "PYKUE_DASHBOARD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYKUE_EMBEDDED", "0")
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(Path(files["$EMPTY"]).parent)
    known = {
        URL: battery.url,
        INACTIVE: str(battery.ids["inactive"]),
        FAILED: str(battery.ids["failed"]),
        **files,
    }
    args = [known.get(arg, arg) for arg in case.args]
    if case.options:
        args = ["--url", battery.url, "--prefix", PREFIX, *args]

    with battery.judging("cli", "the command"):
        code = main(args)  # an exception escaping it is what a user would see as a traceback
    out, err = capsys.readouterr()
    assert (code, out) == (case.code, ""), err
    lines = err.splitlines()
    assert len(lines) == 1, err[:2000]
    assert lines[0].startswith("pykue: error: "), lines[0]
    assert_clear(lines[0], case.says)
