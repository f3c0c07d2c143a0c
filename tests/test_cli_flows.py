"""Job dependencies through the ``pykue`` command: ``enqueue --depends-on``, what
``jobs show`` and ``jobs tree`` print about them, ``jobs remove --force``, and the
sixth state (``waiting``) in ``stats`` and ``jobs list``.

As in test_cli.py, every command is the installed entry point in a subprocess against
the suite's private server with the test's own prefix; processes are synchronised on
what they print (a worker's "ready" line) or on ``enqueue --wait``, never on sleeps.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import redis

from pykue.flows import MAX_DEPENDENCIES, MAX_TREE
from tests import test_cli
from tests.test_cli import (
    PYKUE,
    Cli,
    env,
    interrupt,
    one_error_line,
    read_until,
    stored_keys,
)

cli = test_cli.cli  # the fixture: a Cli on the test's prefix, checked and cleaned after

FLOW_MODULE = """
from pykue import DependencyFailed, Queue

queue = Queue()


@queue.process("fetch")
async def fetch(job):
    if job.data.get("fail"):
        raise ValueError("cannot fetch")
    return {"n": job.data["n"]}


@queue.process("report")
async def report(job):
    found = await job.dependency_results()
    return {
        str(dep): {"failed": value.error} if isinstance(value, DependencyFailed) else value
        for dep, value in found.items()
    }


@queue.process("notify")
async def notify(job):
    return {"parent": job.parent_result}
"""


def start_worker(cli: Cli, tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "flows.py").write_text(FLOW_MODULE)
    worker = cli.start("worker", "flows:queue", cwd=tmp_path)
    read_until(worker.stderr, r"ready: ")
    return worker


def snapshot(raw: redis.Redis, prefix: str) -> dict[str, bytes | None]:
    """Every key of the prefix with its DUMP: what "nothing changed" compares."""
    dumper = redis.Redis(connection_pool=raw.connection_pool)
    return {key: dumper.dump(key) for key in sorted(stored_keys(raw, prefix))}


def field_row(text: str, name: str, value: str) -> bool:
    """Whether ``jobs show`` printed the row ``name  value``."""
    return re.search(rf"^{re.escape(name)}\s+{re.escape(value)}\s*$", text, re.M) is not None


def section(text: str, title: str) -> list[str]:
    """The lines of a ``jobs show`` section (indented, after its title line)."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    found = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


# -- help and bad arguments -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["jobs", "tree"], "repeated"),
        (["jobs", "remove"], "--force"),
        (["enqueue"], "--on-dependency-failure [fail|ignore|wait]"),
        (["jobs", "show"], "depends on"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_flow_commands_have_help(command: list[str], says: str) -> None:
    done = subprocess.run(
        [str(PYKUE), *command, "--help"], env=env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: " + " ".join(["pykue", *command]))
    assert says in " ".join(done.stdout.split())


BAD = [
    (["jobs", "tree"], "Missing argument 'ID'"),
    (["jobs", "tree", "abc"], "a job id is a positive integer"),
    (["jobs", "tree", "0"], "a job id is a positive integer"),
    (["jobs", "tree", "1", "2"], "unexpected extra argument"),
    (["jobs", "remove", "abc", "--force"], "a job id is a positive integer"),
    (["jobs", "remove", "1", "--force=yes"], "--force"),
    (["enqueue", "report", "{}", "--depends-on", "x"], "'--depends-on'"),
    (["enqueue", "report", "{}", "--depends-on", "0"], "a job id is a positive integer"),
    (["enqueue", "report", "{}", "--depends-on", "1_0"], "a job id is a positive integer"),
    (["enqueue", "report", "{}", "--depends-on"], "requires an argument"),
    (["enqueue", "report", "{}", "--depends-on", "3", "--depends-on", "3"], "job 3 twice"),
    (
        ["enqueue", "report", "{}", "--depends-on", "3", "--on-dependency-failure", "bogus"],
        "'bogus' is not one of 'fail', 'ignore', 'wait'",
    ),
    (["enqueue", "report", "{}", "--on-dependency-failure", "wait"], "needs --depends-on"),
    (
        ["enqueue", "report", "{}", "--depends-on", "3", "--debounce", "d", "--debounce-for", "5"],
        "a debounced job cannot have dependencies",
    ),
    (
        ["enqueue", "report", "--file", "-", "--on-dependency-failure", "ignore"],
        "needs --depends-on",
    ),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=lambda a: " ".join(a)[:60])
def test_bad_flow_arguments_are_one_line_and_exit_2(
    cli: Cli, raw: redis.Redis, prefix: str, args: list[str], says: str
) -> None:
    done = cli.run(*args, stdin='{"n": 1}\n')
    assert done.returncode == 2, done.stderr
    assert says in one_error_line(done)
    assert done.stdout == ""
    assert stored_keys(raw, prefix) == []


def test_too_many_dependencies_are_refused_before_redis(
    cli: Cli, raw: redis.Redis, prefix: str
) -> None:
    many = [arg for n in range(1, MAX_DEPENDENCIES + 2) for arg in ("--depends-on", str(n))]
    done = cli.run("enqueue", "report", "{}", *many)
    assert done.returncode == 2, done.stderr
    assert f"more than {MAX_DEPENDENCIES}" in one_error_line(done)
    assert stored_keys(raw, prefix) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["jobs", "tree", "99"], "job 99 not found"),
        (["jobs", "remove", "99", "--force"], "job 99 not found"),
        (["enqueue", "report", "{}", "--depends-on", "99"], "dependency 99 not found"),
        (
            ["enqueue", "report", "--file", "-", "--depends-on", "99"],
            "(0 of 2 jobs were created)",
        ),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_unknown_ids_are_one_line_exit_1_and_change_nothing(
    cli: Cli, raw: redis.Redis, prefix: str, args: list[str], says: str
) -> None:
    assert cli.ok("enqueue", "fetch", '{"n": 1}') == "1\n"
    before = snapshot(raw, prefix)
    done = cli.run(*args, stdin='{"n": 1}\n{"n": 2}\n')
    assert done.returncode == 1, done.stderr
    assert says in one_error_line(done)  # a bulk enqueue's progress bar: terminals only
    assert done.stdout == ""
    assert snapshot(raw, prefix) == before


# -- enqueue, show, tree --------------------------------------------------------------


def test_a_dependent_waits_then_runs_with_its_dependencies_results(
    cli: Cli, raw: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    assert cli.ok("enqueue", "fetch", '{"n": 1}') == "1\n"
    assert cli.ok("enqueue", "fetch", '{"n": 2}') == "2\n"
    assert cli.ok("enqueue", "report", "{}", "--depends-on", "1", "--depends-on", "2") == "3\n"

    shown = cli.json("jobs", "show", "3")
    assert shown["state"] == "waiting"
    assert (shown["depends_on"], shown["dependents"]) == ([1, 2], [])
    assert (shown["on_dependency_failure"], shown["failed_by"]) == ("fail", None)
    assert shown["pending_dependencies"] == 2
    assert cli.json("jobs", "show", "1")["dependents"] == [3]
    text = cli.ok("jobs", "show", "3")
    assert field_row(text, "state", "waiting")
    assert field_row(text, "dependencies", "0 of 2 done")
    assert field_row(text, "on dependency failure", "fail")
    assert "failed by" not in text
    assert section(text, "depends on (2)") == [
        "#1 fetch inactive (pending)",
        "#2 fetch inactive (pending)",
    ]
    assert "dependents (" not in text
    text = cli.ok("jobs", "show", "1")
    assert section(text, "dependents (1)") == ["#3 report waiting"]
    assert "depends on (" not in text
    assert "on dependency failure" not in text

    assert [job["id"] for job in cli.json("jobs", "list", "--state", "waiting")] == [3]
    counts = cli.json("stats")
    assert counts["all"]["waiting"] == 1
    assert counts["types"]["report"] == {
        "inactive": 0, "active": 0, "complete": 0, "failed": 0, "delayed": 0, "waiting": 1,
    }  # fmt: skip
    assert re.search(r"\bdelayed\b.*\bwaiting\b.*\btotal\b", cli.ok("stats"))

    worker = start_worker(cli, tmp_path)
    done = cli.ok(
        "enqueue", "notify", "{}", "--depends-on", "3", "--depends-on", "1",
        "--on-dependency-failure", "ignore", "--wait", "--timeout", "30",
    )  # fmt: skip
    interrupt(worker)
    number, result = done.splitlines()
    assert number == "4"
    assert json.loads(result) == {"parent": {"1": {"n": 1}, "2": {"n": 2}}}
    assert raw.hget(f"{{{prefix}}}:job:4", "on_dep_fail") == "ignore"

    def node(job_id: int, job_type: str, *below: dict[str, object]) -> dict[str, object]:
        return {
            "id": job_id, "type": job_type, "state": "complete", "outcome": "complete",
            "depends_on": list(below),
        }  # fmt: skip

    repeated = {**node(1, "fetch"), "repeated": True}  # met at the first level first
    assert cli.json("jobs", "tree", "4") == {
        **node(4, "notify", node(3, "report", repeated, node(2, "fetch")), node(1, "fetch")),
        "outcome": None,
        "dependents": [],
    }
    assert cli.ok("jobs", "tree", "4").splitlines() == [
        "#4 notify complete",
        "  #3 report complete (complete)",
        "    #1 fetch complete (complete) (repeated: its dependencies are shown once)",
        "    #2 fetch complete (complete)",
        "  #1 fetch complete (complete)",
        "dependents (0)",
    ]
    assert cli.ok("jobs", "tree", "1").splitlines() == [
        "#1 fetch complete",
        "dependents (2)",
        "  #3 report complete",
        "  #4 notify complete",
    ]
    text = cli.ok("jobs", "show", "4")
    assert field_row(text, "dependencies", "2 of 2 done")
    assert field_row(text, "on dependency failure", "ignore")
    assert section(text, "depends on (2)") == [
        "#3 report complete (complete)",
        "#1 fetch complete (complete)",
    ]


def test_each_failure_policy_as_show_and_tree_print_it(cli: Cli, tmp_path: Path) -> None:
    worker = start_worker(cli, tmp_path)
    failed = cli.run("enqueue", "fetch", '{"n": 1, "fail": true}', "--wait", "--timeout", "30")
    assert failed.returncode == 1, failed.stderr
    assert "cannot fetch" in one_error_line(failed)
    ignored = cli.ok(
        "enqueue", "report", "{}", "--depends-on", "1", "--on-dependency-failure", "ignore",
        "--wait", "--timeout", "30",
    )  # fmt: skip
    assert ignored.splitlines() == ["2", '{"1":{"failed":"cannot fetch"}}']
    assert cli.ok("enqueue", "report", "{}", "--depends-on", "1") == "3\n"
    waiting = ["--depends-on", "1", "--on-dependency-failure", "wait"]
    assert cli.ok("enqueue", "report", "{}", *waiting) == "4\n"
    interrupt(worker)

    shown = cli.json("jobs", "show", "3")
    assert (shown["state"], shown["failed_by"]) == ("failed", 1)
    assert shown["error"] == "dependency 1 failed: cannot fetch"
    text = cli.ok("jobs", "show", "3")
    assert field_row(text, "failed by", "dependency 1")
    assert field_row(text, "on dependency failure", "fail")
    assert section(text, "depends on (1)") == ["#1 fetch failed (failed)"]
    text = cli.ok("jobs", "show", "4")
    assert field_row(text, "state", "waiting")
    assert field_row(text, "on dependency failure", "wait")
    assert "failed by" not in text
    assert section(text, "depends on (1)") == ["#1 fetch failed (failed)"]
    assert section(cli.ok("jobs", "show", "2"), "depends on (1)") == ["#1 fetch failed (ignored)"]
    assert cli.ok("jobs", "tree", "1").splitlines() == [
        "#1 fetch failed",
        "dependents (3)",
        "  #2 report complete",
        "  #3 report failed",
        "  #4 report waiting",
    ]


def test_remove_refuses_a_job_others_wait_for_unless_forced(
    cli: Cli, raw: redis.Redis, prefix: str
) -> None:
    assert cli.ok("enqueue", "fetch", '{"n": 1}') == "1\n"
    assert cli.ok("enqueue", "report", "{}", "--depends-on", "1") == "2\n"
    assert cli.ok("enqueue", "report", "{}", "--depends-on", "1", "--depends-on", "2") == "3\n"
    before = snapshot(raw, prefix)
    refused = cli.run("jobs", "remove", "1")
    assert refused.returncode == 1
    line = one_error_line(refused)
    assert "job 1 is waited for by jobs 2, 3" in line
    assert line.endswith("(on the command line: --force)")
    assert refused.stdout == ""
    assert snapshot(raw, prefix) == before

    assert cli.ok("jobs", "remove", "1", "--force") == "job 1 removed\n"
    for job_id in ("2", "3"):
        shown = cli.json("jobs", "show", job_id)
        assert (shown["state"], shown["failed_by"]) == ("failed", 1)
        assert shown["error"] == "dependency 1 removed"
    text = cli.ok("jobs", "show", "2")
    assert field_row(text, "failed by", "dependency 1")
    assert section(text, "depends on (1)") == ["#1 (job gone) (removed)"]
    assert section(text, "dependents (1)") == ["#3 report failed"]
    assert cli.ok("jobs", "tree", "3").splitlines() == [
        "#3 report failed",
        "  #1 (job gone) (removed)",
        "  #2 report failed (failed)",
        "    #1 (job gone) (removed)",
        "dependents (0)",
    ]
    missing = cli.run("jobs", "show", "1")
    assert missing.returncode == 1
    assert "job 1 not found" in one_error_line(missing)
    # a job nothing waits for needs no --force, and --force changes nothing for it
    assert cli.ok("jobs", "remove", "3") == "job 3 removed\n"
    assert cli.ok("jobs", "remove", "2", "--force") == "job 2 removed\n"
    assert stored_keys(raw, prefix) != []  # the id counter and statistics stay
    assert cli.json("jobs", "list") == []


def test_bulk_enqueue_makes_every_job_depend_on_the_ids_given(cli: Cli) -> None:
    assert cli.ok("enqueue", "fetch", '{"n": 1}') == "1\n"
    lines = '{"n": 1}\n{"n": 2}\n'
    options = ["--depends-on", "1", "--on-dependency-failure", "wait"]
    assert cli.ok("enqueue", "report", "--file", "-", *options, stdin=lines).splitlines() == [
        "created 2 jobs of type report"
    ]
    assert cli.json("jobs", "show", "1")["dependents"] == [2, 3]
    listed = cli.json("jobs", "list", "--state", "waiting")
    assert [(j["id"], j["depends_on"], j["on_dependency_failure"]) for j in listed] == [
        (2, [1], "wait"),
        (3, [1], "wait"),
    ]


def test_show_and_tree_of_a_job_with_the_most_dependencies(cli: Cli) -> None:
    lines = "".join(f'{{"n": {n}}}\n' for n in range(MAX_DEPENDENCIES))
    assert cli.ok("enqueue", "fetch", "--file", "-", stdin=lines).splitlines() == [
        f"created {MAX_DEPENDENCIES} jobs of type fetch"
    ]
    every = [arg for n in range(1, MAX_DEPENDENCIES + 1) for arg in ("--depends-on", str(n))]
    root = str(MAX_DEPENDENCIES + 1)
    assert cli.ok("enqueue", "report", "{}", *every) == f"{root}\n"

    found = cli.json("jobs", "tree", root)
    assert found["truncated"] is True
    shown = len(found["depends_on"])
    assert shown == MAX_TREE - 1  # the root is one of the MAX_TREE nodes
    text = cli.ok("jobs", "tree", root).splitlines()
    assert text[0] == f"#{root} report waiting"
    assert text[1:3] == ["  #1 fetch inactive (pending)", "  #2 fetch inactive (pending)"]
    assert text[shown + 1 :] == [
        f"(truncated: at most {MAX_TREE} jobs are shown)",
        "dependents (0)",
    ]
    listed = section(cli.ok("jobs", "show", root), f"depends on ({MAX_DEPENDENCIES})")
    assert len(listed) == shown + 1
    more = MAX_DEPENDENCIES - shown
    assert listed[-1] == f"and {more} more (see 'pykue jobs tree {root} --json')"
    assert cli.json("jobs", "show", "7")["dependents"] == [int(root)]
