"""``pykue dashboard``'s protection options: --allow-host, --token-reads, and the
warning for a non-loopback --host."""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request

from tests.test_cli import Cli, cli, interrupt, read_until

__all__ = ["cli"]  # the fixture, shared with test_cli


def status(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def started(cli: Cli, *args: str, **extra: str) -> tuple[subprocess.Popen[str], str]:
    server = cli.start("dashboard", "--port", "0", *args, **extra)
    line = read_until(server.stdout, r"http://")[0]
    url = re.search(r"http://\S+", line)
    assert url is not None, line
    return server, url[0]


def test_only_loopback_ip_and_allowed_names_are_answered(cli: Cli) -> None:
    server, url = started(cli, "--allow-host", "jobs.example.com", "--allow-host", "ops.lan")
    try:
        assert status(url + "/stats") == 200
        assert status(url + "/stats", Host="localhost") == 200
        assert status(url + "/stats", Host="jobs.example.com:3000") == 200
        assert status(url + "/stats", Host="ops.lan") == 200
        assert status(url + "/stats", Host="evil.example") == 421
    finally:
        interrupt(server)


def test_token_reads_puts_every_read_behind_the_token(cli: Cli) -> None:
    server, url = started(cli, "--token-reads", PYKUE_DASHBOARD_TOKEN="s3cret")
    try:
        assert status(url + "/stats") == 401
        assert status(url + "/stats", Authorization="bearer s3cret") == 200
        assert status(url + "/config") == 200  # the page asks for the token from there
    finally:
        interrupt(server)


def test_token_reads_needs_a_token(cli: Cli) -> None:
    done = cli.run("dashboard", "--token-reads")
    assert done.returncode == 2
    assert "--token-reads needs --token" in done.stderr


def test_a_public_host_is_warned_about_names(cli: Cli) -> None:
    server = cli.start("dashboard", "--host", "0.0.0.0", "--port", "0")
    try:
        warning = read_until(server.stderr, r"warning")[-1]
        assert "--allow-host" in warning
        assert "no --token" in warning
        read_until(server.stdout, r"http://")  # serving: Ctrl-C now stops it cleanly
    finally:
        interrupt(server)
