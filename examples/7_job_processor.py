"""Task 9: process ``push_notification_code_2`` two jobs at a time, with progress;
two blacklisted numbers fail. Runs until Ctrl-C.

The handler is written once, in ``pykue.demo_jobs`` (``pykue demo`` runs the same
one): ``send_notification`` reports progress 0, raises for a blacklisted number
(which fails the job), else reports 50 and prints the message.
"""

from __future__ import annotations

import asyncio

from pykue import Queue
from pykue.demo_jobs import register


async def main() -> None:
    queue = Queue()
    register(queue)
    try:
        await queue.run()
    finally:
        await queue.close()


if __name__ == "__main__":
    asyncio.run(main())
