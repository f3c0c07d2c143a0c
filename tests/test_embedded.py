"""The embedded redis-server: started once per data dir, shared between processes, stopped."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from pykue.embedded import (
    embedded_status,
    ensure_embedded,
    find_redis_server,
    main,
    socket_url,
    stop_embedded,
)
from pykue.errors import ConnectionFailed

ROOT = Path(__file__).resolve().parent.parent

# Runs ensure_embedded in a fresh interpreter and prints the server's pid.
CHILD = """
import sys
from pathlib import Path
import redis
from pykue.embedded import ensure_embedded
url = ensure_embedded(Path(sys.argv[1]))
client = redis.Redis.from_url(url)
client.set("written-by-child", sys.argv[2])
print(client.info("server")["process_id"])
client.close()
"""


def client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)


def server_pid(url: str) -> int:
    client = client_for(url)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def run_child(data_dir: Path, value: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), value],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_find_redis_server_returns_an_executable() -> None:
    path = find_redis_server()
    assert os.access(path, os.X_OK)
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
    assert "Redis server" in version.stdout


def test_starts_a_durable_server_once_and_logs_one_line(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pykue")
    url = ensure_embedded(data_dir)
    assert url == socket_url(data_dir) == f"unix://{data_dir}/redis.sock"
    client = client_for(url)
    try:
        assert client.ping()
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("port") == {"port": "0"}
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()

    assert ensure_embedded(data_dir) == url
    assert server_pid(url) == pid

    started = [r for r in caplog.records if r.name == "pykue"]
    assert len(started) == 1
    assert started[0].levelno == logging.WARNING
    message = started[0].getMessage()
    assert f"pid {pid}" in message
    assert str(data_dir) in message
    assert "python -m pykue.embedded stop" in message


def test_data_dir_is_private(data_dir: Path) -> None:
    ensure_embedded(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "redis.sock").stat().st_mode) & 0o077 == 0


def test_two_processes_share_one_server(data_dir: Path) -> None:
    url = ensure_embedded(data_dir)
    child = run_child(data_dir, "hello")
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert int(out) == server_pid(url)
    client = client_for(url)
    try:
        assert client.get("written-by-child") == "hello"
    finally:
        client.close()


def test_concurrent_starts_make_one_server(data_dir: Path) -> None:
    children = [run_child(data_dir, str(n)) for n in range(3)]
    pids = set()
    for child in children:
        out, err = child.communicate(timeout=30)
        assert child.returncode == 0, err
        pids.add(int(out))
    assert len(pids) == 1
    assert server_pid(socket_url(data_dir)) in pids


def test_data_survives_a_restart(data_dir: Path) -> None:
    url = ensure_embedded(data_dir)
    client = client_for(url)
    try:
        client.set("kept", "yes")
    finally:
        client.close()
    assert stop_embedded(data_dir)
    client = client_for(ensure_embedded(data_dir))
    try:
        assert client.get("kept") == "yes"
    finally:
        client.close()


def test_stop_embedded(data_dir: Path) -> None:
    assert stop_embedded(data_dir) is False  # the dir does not even exist yet
    ensure_embedded(data_dir)
    assert stop_embedded(data_dir) is True
    assert not embedded_status(data_dir).running
    # redis-server removes its socket only once it has flushed the AOF and is exiting.
    assert not (data_dir / "redis.sock").exists()
    assert stop_embedded(data_dir) is False


def test_status(data_dir: Path) -> None:
    assert embedded_status(data_dir).running is False
    url = ensure_embedded(data_dir)
    status = embedded_status(data_dir)
    assert status.running
    assert status.url == url
    assert status.pid == server_pid(url)
    assert status.version is not None
    assert status.version.split(".")[0].isdigit()


def test_a_server_that_cannot_start_reports_its_log(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700)
    (data_dir / "appendonly.aof").write_text("this is not an append only file\n")
    (data_dir / "appendonlydir").mkdir()
    (data_dir / "appendonlydir" / "appendonly.aof.manifest").write_text("garbage\n")
    with pytest.raises(ConnectionFailed, match="did not start") as caught:
        ensure_embedded(data_dir)
    assert "redis.log" in str(caught.value)


def test_a_too_long_data_dir_is_refused(tmp_path: Path) -> None:
    too_long = tmp_path / ("d" * 120)
    with pytest.raises(ConnectionFailed, match="PYKUE_DATA_DIR"):
        ensure_embedded(too_long)


def test_command_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data-dir", str(data_dir)]
    assert main(["status", *args]) == 3
    assert "not running" in capsys.readouterr().out

    assert main(["start", *args]) == 0
    url = capsys.readouterr().out.strip()
    assert url == socket_url(data_dir)

    assert main(["status", *args]) == 0
    assert f"pid {server_pid(url)}" in capsys.readouterr().out

    assert main(["stop", *args]) == 0
    assert capsys.readouterr().out.strip() == "stopped"
    assert main(["stop", *args]) == 0
    assert capsys.readouterr().out.strip() == "not running"


def test_module_runs_as_a_script(data_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "pykue.embedded", "status", "--data-dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3, done.stderr
    assert "not running" in done.stdout
    assert done.stderr == ""
