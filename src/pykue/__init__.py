"""pykue: a Redis-backed job queue in the spirit of Kue, built to today's standards."""

from .admin import Admin
from .backend import TypeStats
from .errors import (
    ConnectionFailed,
    InvalidArgument,
    InvalidJob,
    InvalidName,
    InvalidState,
    JobFailed,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    NotConnected,
    NotReplicated,
    PykueError,
    ScheduleNotFound,
    ServerRefused,
    UsageError,
)
from .flows import DependencyFailed
from .job import PRIORITIES, Job, JobState
from .limits import Limits, Rate
from .queue import Queue
from .schedules import Schedule
from .sharded import ShardedQueue
from .worker import Worker

__version__ = "0.1.0"

__all__ = [
    "PRIORITIES",
    "Admin",
    "ConnectionFailed",
    "DependencyFailed",
    "InvalidArgument",
    "InvalidJob",
    "InvalidName",
    "InvalidState",
    "Job",
    "JobFailed",
    "JobNotFound",
    "JobState",
    "JobTimeout",
    "LeaseLost",
    "Limits",
    "NotConnected",
    "NotReplicated",
    "PykueError",
    "Queue",
    "Rate",
    "Schedule",
    "ScheduleNotFound",
    "ServerRefused",
    "ShardedQueue",
    "TypeStats",
    "UsageError",
    "Worker",
    "__version__",
]
