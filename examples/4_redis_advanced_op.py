"""Task 4: a hash. One HSET per city (``Reply: 1`` each), then HGETALL as a dict."""

from __future__ import annotations

import contextlib

from _connect import connect

SCHOOLS = {"Portland": 50, "Seattle": 80, "New York": 20, "Bogota": 20, "Cali": 40, "Paris": 2}


def main() -> None:
    client = connect()
    try:
        client.delete("HolbertonSchools")  # so every HSET adds a field: Reply: 1
        for city, value in SCHOOLS.items():
            print(f"Reply: {client.hset('HolbertonSchools', city, value)}", flush=True)
        print(client.hgetall("HolbertonSchools"), flush=True)
    finally:
        client.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
