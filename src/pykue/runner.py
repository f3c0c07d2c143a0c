"""Running one handler: async on the loop, plain ``def`` in a thread, under a TTL.

A ``def`` handler gets a ThreadJob: the same job, with ``progress()`` and
``log()`` as plain blocking calls that hop back onto the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from .aio import cancel_all

if TYPE_CHECKING:
    from .job import Job

Handler = Callable[..., Any]
MAX_ERROR = 4096  # characters of a failed attempt's stored error message
MAX_TRACE = 65536  # characters of its stored traceback
CUT = "... [cut]"


class ThreadJob:
    """The view of a Job that a synchronous handler (running in a thread) receives."""

    def __init__(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        self._job = job
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def _run(self, coro: Awaitable[None]) -> None:
        async def wrapper() -> None:
            await coro

        asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result()

    def progress(self, completed: float, total: float = 100, data: Any = None) -> None:
        self._run(self._job.progress(completed, total, data))

    def log(self, message: str, *args: Any) -> None:
        self._run(self._job.log(message, *args))


@functools.cache
def is_async(handler: Handler) -> bool:
    target = getattr(handler, "__call__", None)  # noqa: B004 - callable objects too
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(target)


class TTLExceeded(Exception):
    """The handler ran past the job's TTL (kept apart from TimeoutErrors it raises itself)."""


async def run_handler(
    handler: Handler,
    job: Job,
    ttl: float | None,
    on_exit: Callable[[], None],
    threads: Executor | None = None,
) -> Any:
    """Run ``handler(job)`` and return its result; TTLExceeded when ``ttl`` passes first.

    ``on_exit`` is called once the handler has really stopped. For a coroutine that is
    when this returns; a thread cannot be killed, so after a TTL or a cancel the thread
    of a ``def`` handler runs on (its result ignored) and ``on_exit`` waits for it:
    the worker keeps its slot busy until then, so concurrency is never exceeded.
    A ``def`` handler runs on ``threads`` (default: the loop's default executor).
    """
    if is_async(handler):
        try:
            return await _within(handler(job), ttl)
        finally:
            on_exit()
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, handler, ThreadJob(job, loop))
    thread = loop.run_in_executor(threads, call)

    def ended(future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved here: nobody awaits a thread cut off by its TTL
        on_exit()

    thread.add_done_callback(ended)
    # shielded: cancelling the wait must not cancel the future, or on_exit would run
    # while the thread is still going (or never, if it had not started yet)
    return await _within(asyncio.shield(thread), ttl)


async def _within(work: Awaitable[Any], ttl: float | None) -> Any:
    if ttl is None:
        return await work
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=ttl)
    finally:
        if not task.done():
            await cancel_all([task])
    if not done:
        raise TTLExceeded(f"TTL exceeded: the job ran longer than {ttl} s")
    return task.result()


def cut(text: str, limit: int) -> str:
    """``text`` made storable: lone surrogates (an undecodable file name in a message)
    escaped, since UTF-8 cannot carry them, and at most ``limit`` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - len(CUT)] + CUT


def error_text(exc: BaseException) -> str:
    """What a failed attempt stores as its error: ``str(exc)``, or the exception's type
    name when that is empty or raises. Never raises: the failure path must always end
    the attempt, whatever the handler raised."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    return cut(text or type_name(exc), MAX_ERROR)


def trace_text(exc: BaseException) -> str:
    """``exc``'s formatted traceback for the error record; never raises."""
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = f"{type_name(exc)} (its traceback could not be formatted)\n"
    return cut(text, MAX_TRACE)


def type_name(exc: BaseException) -> str:
    try:
        return str(type(exc).__qualname__)
    except Exception:
        return "Exception"
