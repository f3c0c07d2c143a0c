"""Bad input through the ``pykue`` command: each row of CLI_CASES is one command line,
run in process against the seeded server, the exit code it must end with and a part of
the one line it must write on stderr.

To add an input, add a row: ``cli(id, ["jobs", "show", "abc"], 2, "says")``. The rows get
``--url`` and ``--prefix`` of the seeded server first unless they say ``options=False``;
the placeholders URL, INACTIVE, FAILED, DELAYED, WAITING and the names of FILES (a new
file goes there, in conftest.py) stand for whole arguments and are replaced when the row
runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pykue.cli import main
from tests.chaos.bad_input.conftest import (
    ARGV_NAMES,
    DELAYED,
    FAILED,
    INACTIVE,
    MISSING,
    NAMES,
    PREFIX,
    SOME_NAMES,
    URL,
    WAITING,
    Battery,
    CliCase,
    assert_clear,
    cli,
    deep_json,
    nested,
)

# schedules add: the start of a command line, and a rule that is fine
ADD = ["schedules", "add", "report"]
ADD_K = [*ADD, "--key", "nightly"]
EVERY = ["--every", "60"]
KEYED = ["--key", "nightly", *EVERY]
CAP = ["--concurrency", "5"]
KEY = "schedule key"  # in the message refusing a schedule's key
LK = "limit key"
ARGV_SOME_NAMES = [name for name in SOME_NAMES if name in ARGV_NAMES]
# enqueue with dependencies: the start of a command line, and its refusals
DEPENDENT = ["enqueue", "email", "{}"]
AN_ID = "a job id is a positive integer below 2**53"
POLICY = "--on-dependency-failure"

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
    # dependencies: --depends-on takes a job id (repeated), --on-dependency-failure a
    # policy and only with it; the seeded WAITING job depends on DELAYED
    *(
        cli(f"enqueue depends-on {shown}", [*DEPENDENT, "--depends-on", value], 2, AN_ID)
        for shown, value in [
            ("word", "x"),
            ("0", "0"),
            ("-1", "-1"),
            ("1.5", "1.5"),
            ("2**53", str(2**53)),
            ("2**63", str(2**63)),
            ("5000 digits", "9" * 5000),
            ("empty", ""),
            ("comma list", "1,2"),
            ("arabic digit", "\u0661"),
            ("fullwidth digit", "\uff11"),
            ("underscore", "1_0"),
            ("plus sign", "+1"),
            ("spaces", " 1 "),
            ("glob", "*"),
            ("key name", "{chaos}:job:1"),
        ]
    ),
    cli("enqueue depends-on=-1", [*DEPENDENT, "--depends-on=-1"], 2, f"{AN_ID}, got '-1'"),
    cli("enqueue depends-on=", [*DEPENDENT, "--depends-on="], 2, f"{AN_ID}, got ''"),
    cli("enqueue depends-on without a value", [*DEPENDENT, "--depends-on"], 2, "requires an"),
    cli(
        "enqueue depends-on an id twice",
        [*DEPENDENT, "--depends-on", DELAYED, "--depends-on", INACTIVE, "--depends-on", DELAYED],
        2,
        "depends_on names job",
    ),
    cli(
        "enqueue depends-on 1001 ids",
        [*DEPENDENT, *(arg for n in range(1, 1002) for arg in ("--depends-on", str(n)))],
        2,
        "depends_on holds 1001 jobs, more than 1000",
    ),
    cli(
        "enqueue depends-on unknown id",
        [*DEPENDENT, "--depends-on", str(MISSING)],
        1,
        f"dependency {MISSING} not found (it must exist when its dependent is saved)",
    ),
    cli(
        "enqueue depends-on seeded jobs and an unknown id",
        [*DEPENDENT, "--depends-on", WAITING, "--depends-on", str(MISSING)],
        1,
        f"dependency {MISSING} not found",
    ),
    cli(
        "enqueue file depends-on unknown id",
        ["enqueue", "email", "--file", "$TWO_JOBS", "--depends-on", str(MISSING)],
        1,
        f"dependency {MISSING} not found",
    ),
    *(
        cli(
            f"enqueue on-dependency-failure {shown}",
            [*DEPENDENT, "--depends-on", DELAYED, POLICY, value],
            2,
            "is not one of 'fail', 'ignore', 'wait'",
        )
        for shown, value in [
            ("unknown", "explode"),
            ("upper case", "FAIL"),
            ("empty", ""),
            ("padded", " fail"),
            ("a prefix", "ign"),
            ("newline", "fail\nwait"),
        ]
    ),
    cli(
        "enqueue on-dependency-failure alone", [*DEPENDENT, POLICY, "ignore"], 2, "needs --depends"
    ),
    cli("enqueue on-dependency-failure bogus alone", [*DEPENDENT, POLICY, "x"], 2, "is not one of"),
    cli(
        "enqueue file on-dependency-failure alone",
        ["enqueue", "email", "--file", "$TWO_JOBS", POLICY, "wait"],
        2,
        "--on-dependency-failure needs --depends-on",
    ),
    cli(
        "enqueue depends-on with debounce",
        [*DEPENDENT, "--depends-on", DELAYED, "--debounce", "d", "--debounce-for", "5"],
        2,
        "a debounced job cannot have dependencies",
    ),
    # jobs tree ID, and jobs remove of a job others wait for
    *(
        cli(f"jobs tree id {shown}", ["jobs", "tree", value], 2, AN_ID)
        for shown, value in [
            ("word", "abc"),
            ("0", "0"),
            ("float", "1.5"),
            ("2**53", str(2**53)),
            ("5000 digits", "9" * 5000),
            ("arabic digit", "\u0661"),
            ("underscore", "1_0"),
            ("glob", "*"),
            ("key name", "{chaos}:job:1"),
        ]
    ),
    cli("jobs tree id negative", ["jobs", "tree", "-1"], 2, "No such option '-1'"),
    cli("jobs tree unknown id", ["jobs", "tree", str(MISSING)], 1, f"job {MISSING} not found"),
    cli("jobs tree json unknown id", ["jobs", "tree", str(MISSING), "--json"], 1, "not found"),
    cli("jobs tree no id", ["jobs", "tree"], 2, "Missing argument 'ID'"),
    cli("jobs tree two ids", ["jobs", "tree", WAITING, DELAYED], 2, "unexpected extra argument"),
    cli("jobs remove a job others wait for", ["jobs", "remove", DELAYED], 1, "waited for by jobs"),
    *(
        cli(f"jobs remove force {shown}", ["jobs", "remove", *args], 2, says)
        for shown, args, says in [
            ("=yes", [DELAYED, "--force=yes"], "Option '--force' does not take a value"),
            ("=true", [DELAYED, "--force=true"], "Option '--force' does not take a value"),
            ("then a word", [DELAYED, "--force", "yes"], "unexpected extra argument (yes)"),
            ("negated", [DELAYED, "--no-force"], "No such option '--no-force'"),
            ("short", [DELAYED, "-f"], "No such option '-f'"),
            ("without an id", ["--force"], "Missing argument 'ID'"),
            ("id word", ["abc", "--force"], AN_ID),
            ("id 0", ["--force", "0"], AN_ID),
            ("id arabic digit", ["--force", "\u0661"], AN_ID),
        ]
    ),
    cli(
        "jobs remove force unknown id", ["jobs", "remove", str(MISSING), "--force"], 1, "not found"
    ),
    cli("jobs retry the waiting job", ["jobs", "retry", WAITING], 1, "is waiting: only failed"),
    cli("jobs unknown command", ["jobs", "purge"], 2, "No such command"),
    # schedules: the command reads the text, pykue's schedule() checks the values
    *(
        cli(f"schedules add type {name}", ["schedules", "add", NAMES[name], *KEYED], 2, "job type")
        for name in ARGV_NAMES
    ),
    *(
        cli(f"schedules add key {name}", [*ADD, "--key", NAMES[name], "--every", "5"], 2, KEY)
        for name in ARGV_SOME_NAMES
    ),
    cli("schedules add no key", ["schedules", "add", "report", "--every", "5"], 2, "'--key'"),
    cli("schedules add neither", [*ADD_K], 2, "Missing option '--cron' or '--every'"),
    cli("schedules add both", [*ADD_K, *EVERY, "--cron", "* * * * *"], 2, "not both"),
    *(
        cli(f"schedules add cron {shown}", [*ADD_K, "--cron", rule], 2, says)
        for shown, rule, says in [
            ("minute 61", "61 * * * *", "is not valid"),
            ("4 fields", "* * * *", "is not valid"),
            ("7 fields", "* * * * * * *", "is not valid"),
            ("words", "every day at noon", "is not valid"),
            ("empty", "", "cron must be a cron rule"),
            ("blank", "   ", "is not valid"),
            ("201 characters", "0 3 * * " + "1," * 96 + "1", "cron must be a cron rule"),
            ("February 30", "0 0 30 2 *", "Bad day-of-month"),
            ("newline", "* * * * *\nFLUSHALL", "is not valid"),
            ("RESP injection", "*1\r\n$8\r\nFLUSHALL\r\n", "is not valid"),
        ]
    ),
    *(
        cli(f"schedules add tz {shown}", [*ADD_K, "--cron", "0 3 * * *", "--tz", tz], 2, says)
        for shown, tz, says in [
            ("unknown", "Mars/Olympus", "unknown time zone"),
            ("empty", "", "IANA time zone"),
            ("path traversal", "../../../../etc/passwd", "time zone"),
            ("absolute path", "/etc/localtime", "time zone"),
            ("space", "Europe/ Paris", "IANA time zone"),
            ("65 characters", "A" * 65, "IANA time zone"),
        ]
    ),
    *(
        cli(f"schedules add every {shown}", [*ADD_K, "--every", value], 2, says)
        for shown, value, says in [
            ("0", "0", "every must be"),
            ("-1", "-1", "every must be"),
            ("1e-9", "1e-9", "every must be"),
            ("nan", "nan", "finite number of seconds"),
            ("inf", "inf", "finite number of seconds"),
            ("1e400", "1e400", "every must be"),
            ("1e12", "1e12", "every must be"),
            ("word", "often", "finite number of seconds"),
            ("5000 digits", "9" * 5000, "every must be"),
            ("arabic digit", "\u0665", "finite number of seconds"),
            ("underscore", "1_0", "finite number of seconds"),
        ]
    ),
    *(
        cli(f"schedules add data {shown}", [*ADD_K, *EVERY, "--data", data], 2, says)
        for shown, data, says in [
            ("not JSON", "not json", "not valid JSON"),
            ("array", "[1, 2]", "JSON object"),
            ("null", "null", "JSON object"),
            ("NaN", '{"a": NaN}', "not valid JSON"),
            ("1e400", '{"a": 1e400}', "infinity"),
            ("arrays 5000 deep", deep_json(5000).decode(), "depth"),
            ("objects 300 deep", json.dumps(nested(300)), "Recursion limit"),
        ]
    ),
    cli("schedules add priority", [*ADD_K, *EVERY, "--priority", "urgent"], 2, "urgent"),
    cli("schedules add priority 2**20", [*ADD_K, *EVERY, "--priority", "1048576"], 2, "range"),
    cli("schedules add attempts 0", [*ADD_K, *EVERY, "--attempts", "0"], 2, "attempts"),
    cli("schedules add attempts word", [*ADD_K, *EVERY, "--attempts", "x"], 2, "--attempts"),
    cli("schedules add backoff", [*ADD_K, *EVERY, "--backoff", "linear:1"], 2, "backoff type"),
    cli("schedules add ttl 0", [*ADD_K, *EVERY, "--ttl", "0"], 2, "ttl"),
    cli("schedules add ttl nan", [*ADD_K, *EVERY, "--ttl", "nan"], 2, "finite number"),
    *(
        cli(f"schedules add limit key {name}", [*ADD_K, *EVERY, "--limit-key", NAMES[name]], 2, LK)
        for name in ARGV_SOME_NAMES
    ),
    *(
        cli(f"schedules remove key {name}", ["schedules", "remove", NAMES[name]], 2, KEY)
        for name in ARGV_SOME_NAMES
    ),
    cli("schedules remove no key", ["schedules", "remove"], 2, "Missing argument 'KEY'"),
    cli("schedules remove unknown key", ["schedules", "remove", "weekly"], 1, "not found"),
    # enqueue's keys and their windows
    cli(
        "enqueue unique_for without unique",
        ["enqueue", "email", "{}", "--unique-for", "5"],
        2,
        "needs a unique key",
    ),
    cli(
        "enqueue unique_for 0",
        ["enqueue", "email", "{}", "--unique", "u", "--unique-for", "0"],
        2,
        "unique_for must be",
    ),
    cli("enqueue debounce alone", ["enqueue", "email", "{}", "--debounce", "d"], 2, "go together"),
    cli(
        "enqueue debounce_for alone",
        ["enqueue", "email", "{}", "--debounce-for", "5"],
        2,
        "go together",
    ),
    cli(
        "enqueue debounce with delay",
        ["enqueue", "email", "{}", "--debounce", "d", "--debounce-for", "5", "--delay", "3"],
        2,
        "give no delay",
    ),
    cli(
        "enqueue debounce_for nan",
        ["enqueue", "email", "{}", "--debounce", "d", "--debounce-for", "nan"],
        2,
        "finite number",
    ),
    *(
        cli(
            f"enqueue limit key {name}",
            ["enqueue", "email", "{}", "--limit-key", NAMES[name]],
            2,
            LK,
        )
        for name in ARGV_SOME_NAMES
    ),
    *(
        cli(
            f"enqueue debounce key {name}",
            ["enqueue", "email", "{}", "--debounce", NAMES[name], "--debounce-for", "5"],
            2,
            "debounce key",
        )
        for name in ARGV_SOME_NAMES
    ),
    cli("schedules list extra argument", ["schedules", "list", "*"], 2, "unexpected extra"),
    cli("schedules unknown command", ["schedules", "purge"], 2, "No such command"),
    # limits: "N/SECONDS" and "none" are the command's, the ranges set_limits'
    *(
        cli(f"limits set type {name}", ["limits", "set", NAMES[name], *CAP], 2, "job type")
        for name in ARGV_NAMES
    ),
    *(
        cli(f"limits show type {name}", ["limits", "show", NAMES[name]], 2, "job type")
        for name in SOME_NAMES
        if name in ARGV_NAMES
    ),
    cli("limits set nothing", ["limits", "set", "email"], 2, "nothing to set"),
    *(
        cli(f"limits set {option} {shown}", ["limits", "set", "email", option, value], 2, says)
        for option, name in (("--rate", "rate"), ("--key-rate", "key_rate"))
        for shown, value, says in [
            ("no window", "10", "use N/SECONDS"),
            ("empty", "", "use N/SECONDS"),
            ("no count", "/60", "use N/SECONDS"),
            ("two slashes", "10/60/2", "use N/SECONDS"),
            ("window 0", "10/0", f"{name} window must be"),
            ("window negative", "10/-1", f"{name} window must be"),
            ("window over a week", "10/604801", f"{name} window must be"),
            ("window 1e400", "10/1e400", f"{name} window must be"),
            ("window nan", "10/nan", "use N/SECONDS"),
            ("window inf", "10/inf", "use N/SECONDS"),
            ("count word", "x/1", "use N/SECONDS"),
            ("count float", "1.5/1", "use N/SECONDS"),
            ("count -1", "-1/1", f"{name} count must be"),
            ("count 0", "0/1", f"{name} count must be"),
            ("count 100001", "100001/1", f"{name} count must be"),
            ("count 2**64", f"{2**64}/1", f"{name} count must be"),
            ("count 5000 digits", "9" * 5000 + "/1", "use N/SECONDS"),
            ("count arabic digit", "\u0661/1", "use N/SECONDS"),
            ("word", "fast", "use N/SECONDS"),
        ]
    ),
    *(
        cli(f"limits set concurrency {shown}", ["limits", "set", "email", "--concurrency", v], 2, s)
        for shown, v, s in [
            ("0", "0", "concurrency must be an int from 1 to 100000"),
            ("-1", "-1", "concurrency must be"),
            ("100001", "100001", "concurrency must be"),
            ("2**64", str(2**64), "concurrency must be"),
            ("5000 digits", "9" * 5000, "use N or none"),
            ("word", "many", "use N or none"),
            ("float", "2.5", "use N or none"),
            ("empty", "", "use N or none"),
            ("fullwidth digit", "\uff15", "use N or none"),
        ]
    ),
    cli(
        "limits set one good one bad",
        ["limits", "set", "email", *CAP, "--rate", "10/0"],
        2,
        "rate window must be",
    ),
    cli("limits show extra argument", ["limits", "show", "email", "sms"], 2, "unexpected extra"),
    cli("limits unknown command", ["limits", "clear"], 2, "No such command"),
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
        DELAYED: str(battery.ids["delayed"]),
        WAITING: str(battery.ids["waiting"]),
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
