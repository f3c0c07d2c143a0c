"""The ``pykue`` command: worker, enqueue, stats, jobs, schedules, limits, dashboard, demo.

``main()`` is the console entry point (``pykue = "pykue.cli:main"``); it returns the
exit code. ``python -m pykue.cli`` runs the same command. It needs the 'cli' extra
(click, rich); ``dashboard`` and ``demo`` also need 'web', and ``demo`` without a
Redis server needs 'embedded'.

Where things are:

- ``app``: the command group, its global options (--url, --prefix) and ``main()``
- ``options``: the global options as an object, the queue(s) they name, and the
  parameter callbacks that read command-line text and check it with pykue's rules
- ``runtime``: output, one-line errors, connecting, the event loop, stop signals
- ``render``: tables and JSON output
- ``worker``: ``pykue worker`` (one process, or several under a supervisor)
- ``jobs``: ``pykue enqueue`` (bulk included), ``pykue jobs ...``, ``pykue stats``
- ``schedules``: ``pykue schedules list|add|remove`` and ``pykue limits show|set``
- ``dashboard``: ``pykue dashboard`` and serving the web app with uvicorn
- ``demo``: ``pykue demo``, its trickle of demo jobs (the notification jobs are
  ``pykue.demo_jobs``)
"""

from ..errors import require_extra

try:
    from .app import cli, main
except ImportError as exc:
    require_extra(exc, "pykue.cli", "cli")

__all__ = ["cli", "main"]
