"""Test mode, after Kue's ``queue.testMode``: jobs are captured in memory, Redis is untouched.

queue.test_mode.enter()             # capture only
queue.test_mode.enter(process=True) # also run registered handlers in-process
queue.test_mode.jobs                # the captured jobs (each has .type and .data)
queue.test_mode.clear()
queue.test_mode.exit()
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from .errors import InvalidState, JobFailed, JobNotFound
from .events import call_listener
from .job import Job, JobState, dumps
from .runner import run_handler

if TYPE_CHECKING:
    from .queue import Queue


class TestMode:
    """In-memory stand-in for the Redis side of one Queue, for the user's unit tests."""

    __test__ = False  # not a pytest test class

    def __init__(self, queue: Queue) -> None:
        self._queue = queue
        self.active = False
        self.process = False
        self.jobs: list[Job] = []
        self._next_id = 0
        self._logs: dict[int, list[str]] = {}

    def enter(self, process: bool = False) -> None:
        """Capture jobs from now on; with ``process=True`` also run their handlers."""
        self.active = True
        self.process = bool(process)

    def clear(self) -> None:
        """Forget the captured jobs."""
        self.jobs.clear()
        self._logs.clear()

    def exit(self) -> None:
        """Leave test mode: jobs go to Redis again."""
        self.active = False
        self.process = False
        self.clear()

    # -- the queue's hooks -------------------------------------------------------

    async def capture(self, job: Job) -> None:
        self._next_id += 1
        job.id = self._next_id
        job.created = True
        job.state = JobState.INACTIVE
        self.jobs.append(job)
        await self._emit(job, "enqueue", ())
        if self.process and job.type in self._queue.handlers:
            await self._run(job)

    def get(self, job_id: int) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise JobNotFound(f"job {job_id} not found (test mode)")

    def remove(self, job_id: int) -> None:
        self.jobs.remove(self.get(job_id))

    def log(self, job: Job, line: str) -> None:
        self._logs.setdefault(job.job_id, []).append(line)

    def logs(self, job: Job) -> list[str]:
        return list(self._logs.get(job.job_id, ()))

    async def progress(self, job: Job, percent: int, data: Any) -> None:
        await self._emit(job, "progress", (percent, data))

    def result(self, job: Job) -> Any:
        if job.state is JobState.COMPLETE:
            return job.result
        if job.state is JobState.FAILED:
            raise JobFailed(job.id, job.error or "")
        raise InvalidState(
            f"job {job.id} is {job.state} in test mode; enter(process=True) to run handlers"
        )

    # -- in-process processing --------------------------------------------------------

    async def _run(self, job: Job) -> None:
        handler = self._queue.handlers[job.type][0]
        while True:
            job.state = JobState.ACTIVE
            await self._emit(job, "start", ())
            try:
                result = await run_handler(handler, job, job.ttl, lambda: None)
                dumps(result, "job result")
            except Exception as exc:
                job.attempts_made += 1
                job.error = str(exc) or type(exc).__name__
                self._logs.setdefault(job.job_id, []).append(traceback.format_exc())
                if job.attempts_made < job.attempts:
                    job.state = JobState.INACTIVE
                    await self._emit(job, "failed attempt", (job.error, job.attempts_made))
                    continue
                job.state = JobState.FAILED
                await self._emit(job, "failed", (job.error,))
                return
            job.attempts_made += 1
            job.state, job.result = JobState.COMPLETE, result
            await self._emit(job, "complete", (result,))
            return

    async def _emit(self, job: Job, event: str, args: tuple[Any, ...]) -> None:
        for callback in list(job.listeners.get(event, ())):
            await call_listener(callback, *args)
        qargs = args if args else (job.type,)
        for callback in list(self._queue.listeners.get("job " + event, ())):
            await call_listener(callback, job.id, *qargs)
