"""The ``pykue`` command: worker, enqueue, stats, jobs, dashboard, demo.

``main()`` is the console entry point (``pykue = "pykue.cli:main"``); it returns the
exit code. ``python -m pykue.cli`` runs the same command.
"""

from .app import cli, main

__all__ = ["cli", "main"]
