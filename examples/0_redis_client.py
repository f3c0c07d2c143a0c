"""Task 1: connect to Redis and say whether it worked; stay connected until Ctrl-C.

python examples/0_redis_client.py
REDIS_URL=redis://127.0.0.1:6390 python examples/0_redis_client.py   # nothing there
"""

from __future__ import annotations

import contextlib
import signal

from _connect import connect


def main() -> None:
    client = connect()
    try:
        signal.pause()  # like the seed's Node process: connected until interrupted
    finally:
        client.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
