"""pykue: a Redis-backed job queue in the spirit of Kue, built to today's standards."""

from .errors import (
    ConnectionFailed,
    InvalidJob,
    InvalidName,
    InvalidState,
    JobFailed,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    NotReplicated,
    PykueError,
)
from .job import PRIORITIES, Job, JobState
from .queue import Queue
from .sharded import ShardedQueue

__version__ = "0.1.0"

__all__ = [
    "PRIORITIES",
    "ConnectionFailed",
    "InvalidJob",
    "InvalidName",
    "InvalidState",
    "Job",
    "JobFailed",
    "JobNotFound",
    "JobState",
    "JobTimeout",
    "LeaseLost",
    "NotReplicated",
    "PykueError",
    "Queue",
    "ShardedQueue",
    "__version__",
]
