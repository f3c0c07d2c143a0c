"""Test mode, after Kue's ``queue.testMode``: jobs live in memory, Redis is untouched.

queue.test_mode.enter()             # capture only
queue.test_mode.enter(process=True) # also run registered handlers in-process
queue.test_mode.jobs                # the captured jobs (each has .type and .data)
queue.test_mode.clear()
queue.test_mode.exit()

While it is active the queue's backend is a MemoryBackend (memory.py), so every
producer and admin call (counts, jobs, retry, pause, set_state, search...) answers as
it would on Redis without connecting; memory.py says where time-driven behaviour
(delays, backoffs) differs and when process mode runs a job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .memory import MemoryBackend

if TYPE_CHECKING:
    from .job import Job
    from .queue import Queue


class TestMode:
    """Switches one Queue between Redis and an in-memory backend, for the user's tests."""

    __test__ = False  # not a pytest test class

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self._memory = MemoryBackend(queue)

    @property
    def active(self) -> bool:
        return self._queue._backend is self._memory

    @property
    def process(self) -> bool:
        """True when handlers run in-process (``enter(process=True)``)."""
        return self._memory.process

    @property
    def jobs(self) -> list[Job]:
        """The jobs saved in test mode and not removed since, in save order."""
        return self._memory.saved

    def enter(self, process: bool = False) -> None:
        """Keep jobs in memory from now on; with ``process=True`` also run their handlers.
        Entering again only changes ``process``: captured jobs stay."""
        self._memory.process = bool(process)
        self._queue._backend = self._memory

    def clear(self) -> None:
        """Forget the captured jobs, with their logs, errors, unique keys, the types and
        pauses seen and the counters (ids go on from the last one given)."""
        self._memory.clear()

    def exit(self) -> None:
        """Leave test mode, clearing it: jobs go to Redis again."""
        self._queue._backend = self._queue._redis
        self._memory.process = False
        self.clear()

    def logs(self, job: Job) -> list[str]:
        """The lines logged for ``job`` in test mode (what ``get_log`` returns)."""
        return self._memory.log_lines(job.job_id)
