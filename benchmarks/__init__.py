"""pykue's benchmark suite: pykue beside the Python job queues people would pick instead.

Run it with ``make bench`` (or ``python -m benchmarks`` from the bench venv); see README.md.
"""
