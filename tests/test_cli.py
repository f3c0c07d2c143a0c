"""The ``pykue`` command, run as a user runs it: the installed entry point in a subprocess.

Every command gets ``--url`` (the suite's private server) and ``--prefix`` (the
test's own), and PYKUE_EMBEDDED=0, so nothing else is ever touched. Processes are
synchronised on what they print (a worker's "ready" line, a dashboard's URL) or on
``enqueue --wait``, never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
import redis

from pykue.cli.render import when
from pykue.keys import Keys
from tests.helpers import assert_invariants, delete_prefix, env_without_redis, free_port

PYKUE = Path(sys.executable).parent / "pykue"

ADD_MODULE = """
import os
from pykue import Queue

queue = Queue()


@queue.process("add")
async def add(job):
    await job.log("adding %s and %s", job.data["a"], job.data["b"])
    await job.progress(50)
    if job.data.get("fail"):
        raise ValueError("cannot add")
    return {"sum": job.data["a"] + job.data["b"], "pid": os.getpid()}
"""

# Two jobs meet: each waits (BLPOP) until both have started, so with concurrency 1
# per process they can only finish if two worker processes run them.
MEET_MODULE = """
import os
from pykue import Queue

queue = Queue()


@queue.process("meet")
async def meet(job):
    arrived, go = queue.keys.base + ":arrived", queue.keys.base + ":go"
    if await queue._redis.client.rpush(arrived, os.getpid()) >= 2:
        await queue._redis.client.rpush(go, "1", "1")
    if await queue._redis.client.blpop([go], timeout=20) is None:
        raise RuntimeError("the other job never came")
    return {"pid": os.getpid()}
"""


def env() -> dict[str, str]:
    out = env_without_redis()
    for name in ("PYKUE_PREFIX", "PYKUE_DASHBOARD_TOKEN"):
        out.pop(name, None)
    out["PYKUE_EMBEDDED"] = "0"
    return out


class Cli:
    """Runs ``pykue --url URL --prefix PREFIX ...`` and cleans up what it started."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.started: list[subprocess.Popen[str]] = []

    def argv(self, *args: str) -> list[str]:
        return [str(PYKUE), "--url", self.url, "--prefix", self.prefix, *args]

    def run(
        self, *args: str, cwd: Path | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), cwd=cwd, input=stdin, env=env(),
            capture_output=True, text=True, timeout=50, check=False,
        )  # fmt: skip

    def ok(self, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
        done = self.run(*args, cwd=cwd, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def start(self, *args: str, cwd: Path | None = None, **extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            self.argv(*args), cwd=cwd, env={**env(), **extra}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.started.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            proc.communicate()


def read_until(stream: IO[str] | None, pattern: str, count: int = 1) -> list[str]:
    """Read lines until ``count`` of them match ``pattern``; return every line read."""
    assert stream is not None
    lines: list[str] = []
    while sum(bool(re.search(pattern, line)) for line in lines) < count:
        line = stream.readline()
        assert line, f"output ended before {pattern!r}: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("pykue: error: "), lines[0]
    return lines[0]


def stored_keys(raw: redis.Redis, prefix: str) -> list[str]:
    pattern = Keys(prefix).base.replace("{", "\\{").replace("}", "\\}") + ":*"
    return list(raw.scan_iter(match=pattern))


def interrupt(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    return out, err


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


@pytest.fixture
def cli(redis_url: str, prefix: str, raw: redis.Redis) -> Iterator[Cli]:
    runner = Cli(redis_url, prefix)
    try:
        yield runner
    finally:
        runner.close()
        assert_invariants(raw, prefix)
        delete_prefix(raw, prefix)


# -- help and bad arguments -----------------------------------------------------------

COMMANDS = [
    [], ["worker"], ["enqueue"], ["stats"], ["jobs"], ["jobs", "list"], ["jobs", "show"],
    ["jobs", "retry"], ["jobs", "remove"], ["schedules"], ["schedules", "list"],
    ["schedules", "add"], ["schedules", "remove"], ["limits"], ["limits", "show"],
    ["limits", "set"], ["dashboard"], ["demo"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "pykue")
def test_every_command_has_help(command: list[str]) -> None:
    done = subprocess.run(
        [str(PYKUE), *command, "--help"], env=env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: " + " ".join(["pykue", *command]))
    assert done.stderr == ""


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pykue.cli", "stats", "--help"],
        env=env(), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: pykue stats")


BAD = [
    ["enqueue", "email"],
    ["enqueue", "email", "not json"],
    ["enqueue", "email", "[1, 2]"],
    ["enqueue", "bad type!", "{}"],
    ["enqueue", "email", "{}", "--priority", "urgent"],
    ["enqueue", "email", "{}", "--delay", "-1"],
    ["enqueue", "email", "{}", "--ttl", "nan"],
    ["enqueue", "email", "{}", "--attempts", "0"],
    ["enqueue", "email", "{}", "--backoff", "linear:1"],
    ["enqueue", "email", "{}", "--timeout", "3"],
    ["enqueue", "email", "{}", "--file", "-"],
    ["enqueue", "email", "--file", "-", "--wait"],
    ["enqueue", "email", "--file", "no-such-file.jsonl"],
    ["jobs", "show", "abc"],
    ["jobs", "show"],
    ["jobs", "list", "--state", "sleeping"],
    ["jobs", "list", "--start", "5", "--stop", "2"],
    ["jobs", "list", "--order", "random"],
    ["jobs", "frobnicate"],
    ["stats", "--bogus"],
    ["schedules", "add", "report", "--key", "k"],
    ["schedules", "add", "report", "--key", "k", "--cron", "* * * * *", "--every", "5"],
    ["schedules", "add", "report", "--every", "5"],
    ["schedules", "add", "report", "--key", "k", "--cron", "61 * * * *"],
    ["schedules", "add", "report", "--key", "k", "--cron", "* * * * *", "--tz", "Mars/Olympus"],
    ["schedules", "add", "report", "--key", "k", "--every", "0"],
    ["schedules", "add", "report", "--key", "k", "--every", "nan"],
    ["schedules", "add", "report", "--key", "k", "--every", "5", "--data", "[1]"],
    ["schedules", "add", "report", "--key", "k", "--every", "5", "--attempts", "0"],
    ["schedules", "add", "bad type!", "--key", "k", "--every", "5"],
    ["schedules", "add", "report", "--key", "bad key!", "--every", "5"],
    ["schedules", "remove"],
    ["schedules", "remove", "bad key!"],
    ["limits", "set", "email"],
    ["limits", "set", "email", "--rate", "10"],
    ["limits", "set", "email", "--rate", "10/0"],
    ["limits", "set", "email", "--concurrency", "0"],
    ["limits", "set", "bad type!", "--concurrency", "1"],
    ["limits", "show", "bad type!"],
    ["nosuchcommand"],
    ["worker"],
    ["worker", "no_such_module_here"],
    ["worker", "os.path:join"],
    ["worker", "tasks:queue", "--concurrency", "0"],
    ["dashboard", "--port", "70000"],
    ["demo", "--duration", "-5"],
]


@pytest.mark.parametrize("args", BAD, ids=lambda a: " ".join(a)[:60])
def test_bad_arguments_are_one_line_and_exit_2(
    cli: Cli, raw: redis.Redis, prefix: str, args: list[str]
) -> None:
    done = cli.run(*args)
    assert done.returncode == 2, done.stderr
    one_error_line(done)
    assert done.stdout == ""
    assert stored_keys(raw, prefix) == []


@pytest.mark.parametrize(
    "options", [["--url", "nowhere"], ["--url", "http://x"], ["--prefix", "bad prefix"]]
)
def test_bad_global_options_are_one_line_and_exit_2(options: list[str]) -> None:
    done = subprocess.run(
        [str(PYKUE), *options, "stats"], env=env(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    one_error_line(done)


def test_unreachable_redis_is_one_line_and_exit_1() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [str(PYKUE), "--url", url, "stats"], env=env(), capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 1
    assert "cannot be reached" in one_error_line(done)


MODULES = {
    "noattr": "x = 1\n",
    "notaqueue": "queue = 42\n",
    "nohandlers": "from pykue import Queue\nqueue = Queue()\n",
    "explodes": "raise RuntimeError('boom at import')\n",
    "badsyntax": "def (:\n",
    "syncqueue": "from pykue.sync import Queue\nqueue = Queue()\n",
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_worker_refuses_a_module_it_cannot_use(cli: Cli, tmp_path: Path, module: str) -> None:
    (tmp_path / f"{module}.py").write_text(MODULES[module])
    done = cli.run("worker", module, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = one_error_line(done)
    assert module in line
    if module == "explodes":
        assert "boom at import" in line


# -- producing and inspecting -----------------------------------------------------------


def test_enqueue_then_stats_shows_it(cli: Cli, raw: redis.Redis, prefix: str) -> None:
    assert cli.ok("enqueue", "email", '{"to": "a@b.c"}') == "1\n"
    second = cli.ok(
        "enqueue", "email", '{"to": "b@c.d"}', "--delay", "60", "--priority", "high",
        "--attempts", "3", "--backoff", "exponential:1.5", "--ttl", "5",
    )  # fmt: skip
    assert second == "2\n"
    fields = raw.hgetall(Keys(prefix).job(2))
    assert (fields["state"], fields["priority"], fields["attempts"]) == ("delayed", "-10", "3")
    assert json.loads(fields["backoff"]) == {"type": "exponential", "delay": 1.5}

    found = cli.json("stats")
    expected = {"inactive": 1, "active": 0, "complete": 0, "failed": 0, "delayed": 1, "waiting": 0}
    assert found["all"] == expected
    assert found["types"] == {"email": expected}
    table = cli.ok("stats")
    assert re.search(r"email\s.*\b1\b.*\b2\b", table), table
    assert "inactive" in table


def test_enqueue_takes_unique_debounce_and_limit_keys(
    cli: Cli, raw: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    first = cli.ok("enqueue", "sync", "{}", "--unique", "acct-1", "--unique-for", "60")
    assert cli.ok("enqueue", "sync", "{}", "--unique", "acct-1", "--unique-for", "60") == first
    held = cli.ok("enqueue", "reindex", '{"v": 1}', "--debounce", "doc-9", "--debounce-for", "60")
    again = cli.ok("enqueue", "reindex", '{"v": 2}', "--debounce", "doc-9", "--debounce-for", "60")
    assert again == held
    assert json.loads(raw.hget(keys.job(int(held)), "data") or "") == {"v": 2}
    keyed = cli.ok("enqueue", "call", "{}", "--limit-key", "customer-7")
    assert raw.hget(keys.job(int(keyed)), "limit_key") == "customer-7"
    done = cli.run("enqueue", "sync", "{}", "--unique-for", "60")
    assert done.returncode == 2
    assert "'--unique-for'" in one_error_line(done)
    assert "needs a unique key" in one_error_line(done)


def test_enqueue_wait_gives_up_after_its_timeout(cli: Cli) -> None:
    done = cli.run("enqueue", "nobody-runs-this", "{}", "--wait", "--timeout", "0.3")
    assert done.returncode == 1
    assert done.stdout == "1\n"
    assert one_error_line(done) == "pykue: error: job 1 did not finish within 0.3 s"


def test_enqueue_wait_gets_the_result_from_a_worker(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(ADD_MODULE)
    worker = cli.start("worker", "tasks:queue", cwd=tmp_path)
    read_until(worker.stderr, r"ready: add")

    out = cli.ok("enqueue", "add", '{"a": 1, "b": 2}', "--wait", "--timeout", "30")
    job_id, result = out.splitlines()
    assert int(job_id) == 1
    assert json.loads(result) == {"sum": 3, "pid": worker.pid}

    failed = cli.run("enqueue", "add", '{"a": 1, "b": 2, "fail": true}', "--wait")
    assert failed.returncode == 1
    assert failed.stdout == "2\n"
    assert one_error_line(failed) == "pykue: error: job 2 failed: cannot add"

    _, err = interrupt(worker)
    assert err.splitlines()[-1].endswith("stopped")


def test_bulk_file_without_line_ends_is_refused_in_bounded_memory(
    cli: Cli, raw: redis.Redis, prefix: str
) -> None:
    """``--file /dev/zero`` never ends a line: it is refused after one line's cap, not read
    until memory runs out (2.1 GB before, in the audit). The child may map 1 GiB at most."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    done = subprocess.run(
        cli.argv("enqueue", "email", "--file", "/dev/zero"), env=env(),
        capture_output=True, text=True, timeout=50, check=False, preexec_fn=limit_memory,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "/dev/zero line 1 is longer than 4194304 bytes" in one_error_line(done)
    assert stored_keys(raw, prefix) == []


def test_bulk_file_with_a_bad_line_enqueues_nothing(
    cli: Cli, raw: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n": 1}\n\n{"n": 2,}\n{"n": 3}\n')
    done = cli.run("enqueue", "email", "--file", str(bad))
    assert done.returncode == 2
    assert "bad.jsonl line 3: not valid JSON" in one_error_line(done)
    array = tmp_path / "array.jsonl"
    array.write_text('{"n": 1}\n[1]\n')
    done = cli.run("enqueue", "email", "--file", str(array))
    assert done.returncode == 2
    assert "array.jsonl line 2: expected a JSON object" in one_error_line(done)
    huge = tmp_path / "huge.jsonl"
    huge.write_text('{"n": 1}\n' + json.dumps({"big": "x" * (1 << 20)}) + "\n")
    done = cli.run("enqueue", "email", "--file", str(huge))
    assert done.returncode == 2
    assert "huge.jsonl line 2: job data is" in one_error_line(done)
    assert stored_keys(raw, prefix) == []

    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(1201)))
    assert cli.ok("enqueue", "email", "--file", str(good), "--priority", "low") == (
        "created 1201 jobs of type email\n"
    )
    assert cli.ok("enqueue", "email", "--file", "-", stdin='{"n": -1}\n{"n": -2}\n') == (
        "created 2 jobs of type email\n"
    )
    assert cli.json("stats")["all"]["inactive"] == 1203
    last = raw.hgetall(Keys(prefix).job(1201))
    assert (json.loads(last["data"]), last["priority"]) == ({"n": 1200}, "10")


def test_jobs_list_show_retry_remove(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(ADD_MODULE)
    worker = cli.start("worker", "tasks:queue", cwd=tmp_path)
    read_until(worker.stderr, r"ready: add")
    assert cli.run("enqueue", "add", '{"a": 1, "b": 2, "fail": 1}', "--wait").returncode == 1
    assert cli.ok("enqueue", "add", '{"a": 2, "b": 2}', "--wait").splitlines()[0] == "2"
    interrupt(worker)  # stopped: the retried job stays inactive below

    listed = cli.json("jobs", "list")
    assert [(j["id"], j["state"]) for j in listed] == [(1, "failed"), (2, "complete")]
    assert [j["id"] for j in cli.json("jobs", "list", "--state", "failed")] == [1]
    newest = cli.json("jobs", "list", "--type", "add", "--order", "desc", "--stop", "0")
    assert [j["id"] for j in newest] == [2]
    assert cli.json("jobs", "list", "--start", "200") == []
    table = cli.ok("jobs", "list")
    assert "cannot add" in table
    assert "complete" in table

    shown = cli.json("jobs", "show", "1")
    assert (shown["state"], shown["error"], shown["progress"]) == ("failed", "cannot add", 50)
    assert shown["log"] == ["adding 1 and 2"]
    assert shown["errors"][0]["attempt"] == 1
    assert "ValueError: cannot add" in shown["errors"][0]["traceback"]
    text = cli.ok("jobs", "show", "1")
    assert "Traceback (most recent call last)" in text
    assert "adding 1 and 2" in text

    assert cli.ok("jobs", "retry", "1") == "job 1 retried\n"
    again = cli.json("jobs", "show", "1")
    assert (again["state"], again["attempts"]["made"]) == ("inactive", 0)
    refused = cli.run("jobs", "retry", "1")
    assert refused.returncode == 1
    assert "only failed jobs can be retried" in one_error_line(refused)

    assert cli.ok("jobs", "remove", "1") == "job 1 removed\n"
    for args in (["jobs", "show", "1"], ["jobs", "remove", "1"], ["jobs", "retry", "99"]):
        missing = cli.run(*args)
        assert missing.returncode == 1
        assert "not found" in one_error_line(missing)
    assert [j["id"] for j in cli.json("jobs", "list")] == [2]


# -- several worker processes ---------------------------------------------------------------


def test_worker_processes_share_the_jobs_and_stop_together(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text(MEET_MODULE)
    parent = cli.start(
        "worker", "tasks:queue", "--processes", "2", "--concurrency", "1", cwd=tmp_path
    )
    lines = read_until(parent.stderr, r"ready: meet \(concurrency 1\)", count=2)
    started = re.search(r"started 2 worker processes \((\d+), (\d+)\)", "\n".join(lines))
    assert started is not None, lines
    children = {int(started[1]), int(started[2])}

    waits = [cli.start("enqueue", "meet", "{}", "--wait", "--timeout", "30") for _ in range(2)]
    pids = set()
    for proc in waits:
        out, err = proc.communicate(timeout=40)
        assert proc.returncode == 0, err
        pids.add(json.loads(out.splitlines()[1])["pid"])
    assert pids == children

    _, err = interrupt(parent)
    assert sum("stopped" in line for line in err.splitlines()) == 2
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def start_two_workers(cli: Cli, tmp_path: Path) -> tuple[subprocess.Popen[str], set[int]]:
    (tmp_path / "tasks.py").write_text(MEET_MODULE)
    parent = cli.start("worker", "tasks:queue", "--processes", "2", cwd=tmp_path)
    lines = read_until(parent.stderr, r"ready: meet", count=2)
    started = re.search(r"started 2 worker processes \((\d+), (\d+)\)", "\n".join(lines))
    assert started is not None, lines
    return parent, {int(started[1]), int(started[2])}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_hang_up_stops_the_worker_processes_gracefully(cli: Cli, tmp_path: Path) -> None:
    parent, children = start_two_workers(cli, tmp_path)
    parent.send_signal(signal.SIGHUP)  # the terminal or ssh session went away
    _, err = parent.communicate(timeout=40)
    assert parent.returncode == 0, err
    assert sum("stopped" in line for line in err.splitlines()) == 2
    assert all(gone(pid) for pid in children)


def test_worker_processes_do_not_outlive_a_killed_parent(cli: Cli, tmp_path: Path) -> None:
    parent, children = start_two_workers(cli, tmp_path)
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in children):  # orphans are not ours to wait() for
        assert time.monotonic() < deadline, "worker processes outlived their parent"
        time.sleep(0.05)


# -- dashboard and demo -----------------------------------------------------------------------


def check_demo_lines(lines: list[str]) -> None:
    pattern = re.compile(r"Notification job created: (\d+)")
    created = [int(m[1]) for line in lines if (m := pattern.fullmatch(line))]
    assert lines[:11] == [f"Notification job created: {n}" for n in created]
    assert len(created) == 11
    for index, job_id in enumerate(created):
        mine = [line for line in lines if line.startswith(f"Notification job #{job_id} ")]
        ending = "failed: Phone number" if index < 2 else "completed"
        assert mine[0] == f"Notification job #{job_id} 0% complete"
        assert mine[-1].startswith(f"Notification job #{job_id} {ending}"), mine
    assert sum(line.startswith("Sending notification to ") for line in lines) == 9


def test_demo_runs_for_its_duration_and_prints_the_seed_lines(cli: Cli) -> None:
    done = cli.run("demo", "--duration", "5", "--no-dashboard")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    check_demo_lines(lines)
    assert any("Ctrl-C" in line for line in lines)


def test_demo_serves_the_dashboard_and_stops_on_ctrl_c(cli: Cli, prefix: str) -> None:
    demo = cli.start("demo", "--port", str(free_port()), "--duration", "50")
    lines = read_until(demo.stdout, r"Stop: +Ctrl-C")  # the notification jobs are done
    first = read_until(demo.stderr, r"dashboard on http://")[-1]
    url = re.search(r"http://\S+(?=;)", first)
    assert url is not None, first
    assert get(url[0] + "/config") == {"tokenRequired": False, "prefix": prefix, "overview": None}
    out, _ = interrupt(demo)
    check_demo_lines(lines + out.splitlines())


def test_dashboard_serves_the_api_and_stops_on_ctrl_c(cli: Cli, prefix: str) -> None:
    server = cli.start("dashboard", "--port", "0", PYKUE_DASHBOARD_TOKEN="s3cret")
    line = read_until(server.stdout, r"http://")[0]
    url = re.search(r"http://\S+", line)
    assert url is not None, line
    assert get(url[0] + "/config") == {"tokenRequired": True, "prefix": prefix, "overview": None}
    job_id = int(cli.ok("enqueue", "email", '{"to": "a@b.c"}'))
    assert get(f"{url[0]}/job/{job_id}")["data"] == {"to": "a@b.c"}
    assert get(url[0] + "/stats")["inactiveCount"] == 1
    interrupt(server)


def test_dashboard_on_a_busy_port_is_one_line_and_exit_1(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = cli.run("dashboard", "--port", str(taken.getsockname()[1]))
    assert done.returncode == 1
    assert "cannot listen" in one_error_line(done)


async def test_dashboard_middleware_leaves_no_tasks_behind_when_polled() -> None:
    """Starlette's is_disconnected() calls receive() in a cancelled scope on every turn
    of the event stream; each call must clean up after itself."""
    from pykue.cli.dashboard import EndStreamsOnExit

    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await never.wait()  # the client says nothing while it listens
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for _ in range(200):  # poll like is_disconnected(): give up at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receive(), 0.001)

    before = len(asyncio.all_tasks())
    await EndStreamsOnExit(app, asyncio.Event())({"type": "http"}, receive, send)
    await asyncio.sleep(0)  # let the cancelled ones finish
    assert len(asyncio.all_tasks()) == before


def test_stats_over_the_shards_of_a_sharded_queue(cli: Cli, raw: redis.Redis, prefix: str) -> None:
    for shard, count in ((0, 2), (1, 0), (2, 1)):
        for _ in range(count):
            cli.ok("--prefix", f"{prefix}.{shard}", "enqueue", "email", "{}")
    try:
        found = cli.json("stats", "--shards", "3")
        assert [each["prefix"] for each in found["queues"]] == [f"{prefix}.{n}" for n in range(3)]
        assert [each["all"]["inactive"] for each in found["queues"]] == [2, 0, 1]
        assert found["all"] == {
            "inactive": 3,
            "active": 0,
            "complete": 0,
            "failed": 0,
            "delayed": 0,
            "waiting": 0,
        }
        table = cli.ok("stats", "--shards", "3")
        assert f"sharded queue '{prefix}'" in table
        assert re.search(r"all queues\s.*\b3\b", table), table
        assert re.search(r"\bqueue\b.*\binactive\b", table), table  # rows are queues, not types
        named = cli.json("stats", "--queues", f"{prefix}.2, {prefix}.0")  # spaces are fine
        assert [each["all"]["inactive"] for each in named["queues"]] == [1, 2]
        assert named["all"]["inactive"] == 3
        for bad in ("0", "1025", "x"):
            done = cli.run("stats", "--shards", bad)
            assert done.returncode == 2
            assert "--shards" in one_error_line(done)
        for bad in ("a,a", "a,,b", "a b", "{x}", ""):
            done = cli.run("stats", "--queues", bad)
            assert done.returncode == 2, bad
            assert "--queues" in one_error_line(done)
        done = cli.run("stats", "--queues", "a", "--shards", "2")
        assert done.returncode == 2
        assert "not both" in one_error_line(done)
    finally:
        for shard in range(3):
            delete_prefix(raw, f"{prefix}.{shard}")


def test_dashboard_over_several_queues(cli: Cli, raw: redis.Redis, prefix: str) -> None:
    cli.ok("--prefix", f"{prefix}.1", "enqueue", "email", "{}")
    server = cli.start("dashboard", "--port", "0", "--shards", "2")
    try:
        line = read_until(server.stdout, r"http://")[0]
        assert "2 queues" in line
        url = re.search(r"http://\S+", line)
        assert url is not None, line
        listed = get(url[0] + "/queues")
        assert [each["prefix"] for each in listed["queues"]] == [f"{prefix}.0", f"{prefix}.1"]
        assert [each["counts"]["inactive"] for each in listed["queues"]] == [0, 1]
        assert get(f"{url[0]}/q/{prefix}.1/stats")["inactiveCount"] == 1
        interrupt(server)
    finally:
        for shard in range(2):
            delete_prefix(raw, f"{prefix}.{shard}")


# -- schedules and limits -------------------------------------------------------------------


def contents(cli: Cli) -> dict[str, bytes | None]:
    """Every key of the test's prefix with its value (DUMP): what "unchanged" compares."""
    client = redis.Redis.from_url(cli.url)
    try:
        pattern = Keys(cli.prefix).base.replace("{", "\\{").replace("}", "\\}") + ":*"
        return {key.decode(): client.dump(key) for key in client.scan_iter(match=pattern)}
    finally:
        client.close()


def redis_ms(raw: redis.Redis) -> int:
    seconds, micros = raw.time()
    return seconds * 1000 + micros // 1000


def test_schedules_add_list_replace_remove(cli: Cli, raw: redis.Redis) -> None:
    assert cli.ok("schedules", "list") == "no schedules\n"
    assert cli.json("schedules", "list") == []
    out = cli.ok(
        "schedules", "add", "report", "--key", "nightly", "--cron", "30 3 * * *",
        "--tz", "Asia/Tokyo", "--data", '{"kind": "daily"}', "--priority", "high",
        "--attempts", "3", "--no-catch-up",
    )  # fmt: skip
    [nightly] = cli.json("schedules", "list")
    assert out == (
        f"schedule nightly saved: cron 30 3 * * * (Asia/Tokyo), "
        f"next run {when(nightly['next_run_at'])}\n"
    )
    assert (nightly["key"], nightly["type"], nightly["cron"], nightly["every"]) == (
        "nightly", "report", "30 3 * * *", None,
    )  # fmt: skip
    assert (nightly["tz"], nightly["data"], nightly["catch_up"]) == (
        "Asia/Tokyo", {"kind": "daily"}, False,
    )  # fmt: skip
    assert (nightly["options"]["priority"], nightly["options"]["attempts"]) == (-10, 3)
    assert nightly["last_job_id"] is None
    # the next run is the next 03:30 in Tokyo, by Redis's clock
    next_run = datetime.fromtimestamp(nightly["next_run_at"] / 1000, ZoneInfo("Asia/Tokyo"))
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 30, 0)
    assert 0 < nightly["next_run_at"] - redis_ms(raw) <= 86_400_000

    cli.ok("schedules", "add", "ping", "--key", "ping", "--every", "90")
    listed = cli.json("schedules", "list")
    assert [each["key"] for each in listed] == ["nightly", "ping"]
    ping = listed[1]
    assert (ping["type"], ping["every"], ping["cron"], ping["tz"]) == ("ping", 90.0, None, "UTC")
    assert (ping["data"], ping["catch_up"], ping["options"]["priority"]) == ({}, True, 0)
    table = cli.ok("schedules", "list")
    row = r"nightly\s.*report\s.*cron 30 3 \* \* \*\s.*Asia/Tokyo\s.*"
    assert re.search(row + re.escape(when(nightly["next_run_at"])), table), table
    assert re.search(r"ping\s.*ping\s.*every 90 s\s.*UTC\s", table), table

    # the same key again replaces that schedule
    out = cli.ok("schedules", "add", "pong", "--key", "ping", "--every", "0.5", "--data", "{}")
    assert out.startswith("schedule ping saved: every 0.5 s, next run ")
    replaced = cli.json("schedules", "list")
    assert [(each["key"], each["type"], each["every"]) for each in replaced] == [
        ("nightly", "report", None),
        ("ping", "pong", 0.5),
    ]

    assert cli.ok("schedules", "remove", "ping") == "schedule ping removed\n"
    assert [each["key"] for each in cli.json("schedules", "list")] == ["nightly"]
    before = contents(cli)
    missing = cli.run("schedules", "remove", "ping")
    assert missing.returncode == 1
    assert one_error_line(missing) == "pykue: error: schedule 'ping' not found"
    assert missing.stdout == ""
    assert contents(cli) == before
    assert cli.ok("schedules", "remove", "nightly") == "schedule nightly removed\n"
    assert cli.ok("schedules", "list") == "no schedules\n"


TICK_MODULE = """
from pykue import Queue

queue = Queue()


@queue.process("tick")
async def tick(job):
    await queue._redis.client.rpush(queue.keys.base + ":ticks", job.id)
"""


def test_a_worker_runs_a_schedule_added_on_the_command_line(
    cli: Cli, raw: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    (tmp_path / "tasks.py").write_text(TICK_MODULE)
    worker = cli.start("worker", "tasks:queue", cwd=tmp_path)
    read_until(worker.stderr, r"ready: tick")
    cli.ok("schedules", "add", "tick", "--key", "ticker", "--every", "0.2", "--data", '{"n": 7}')
    popped = raw.blpop([Keys(prefix).base + ":ticks"], timeout=30)
    assert popped is not None, "the schedule made no job"
    job_id = int(popped[1])
    made = cli.json("jobs", "show", str(job_id))
    assert (made["type"], made["data"], made["schedule"]) == ("tick", {"n": 7}, "ticker")
    [ticker] = cli.json("schedules", "list")
    assert ticker["last_job_id"] >= job_id
    assert ticker["last_run_at"] is not None
    [row] = [line for line in cli.ok("schedules", "list").splitlines() if "ticker" in line]
    assert "every 0.2 s" in row
    last_job = re.search(r"(\d+)\D*$", row)  # the last column (later runs may be made)
    assert last_job is not None, row
    assert int(last_job[1]) >= ticker["last_job_id"]
    assert cli.ok("schedules", "remove", "ticker") == "schedule ticker removed\n"
    interrupt(worker)


def test_limits_set_show_and_remove(cli: Cli) -> None:
    # type_stats() lists the types that have had jobs
    cli.ok("enqueue", "email", "{}")
    cli.ok("enqueue", "sms", "{}")  # a type without limits
    assert cli.ok("limits", "show") == "no limits\n"
    assert cli.json("limits", "show") == []
    none = {"rate": None, "concurrency": None, "key_rate": None}
    assert cli.json("limits", "show", "sms") == {"type": "sms", "limits": none}

    out = cli.ok("limits", "set", "email", "--rate", "100/60", "--concurrency", "5")
    assert out == "limits of email: rate 100 per 60 s, concurrency 5, key rate -\n"
    assert cli.json("limits", "show", "email")["limits"] == {
        "rate": {"count": 100, "per": 60.0}, "concurrency": 5, "key_rate": None,
    }  # fmt: skip
    # what is not given keeps its value
    out = cli.ok("limits", "set", "email", "--key-rate", "2/1.5")
    assert out == "limits of email: rate 100 per 60 s, concurrency 5, key rate 2 per 1.5 s\n"
    # "none" removes one
    cli.ok("limits", "set", "email", "--rate", "none", "--concurrency", "None")
    only_key_rate = {"rate": None, "concurrency": None, "key_rate": {"count": 2, "per": 1.5}}
    assert cli.json("limits", "show") == [{"type": "email", "limits": only_key_rate}]
    assert re.search(r"email\s.*-\s.*-\s.*2 per 1\.5 s", cli.ok("limits", "show"))
    assert re.search(r"email\s.*-\s.*-\s.*2 per 1\.5 s", cli.ok("limits", "show", "email"))

    found = cli.json("stats")
    assert found["limits"] == {"email": only_key_rate}
    table = cli.ok("stats")
    assert re.search(r"email\s.*rate -, concurrency -, key rate 2 per 1\.5 s", table), table
    [sms] = [line for line in table.splitlines() if re.search(r"\bsms\b", line)]
    assert "rate" not in sms
