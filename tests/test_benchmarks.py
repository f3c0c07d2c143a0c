"""A short run of the benchmark driver (tiny sizes): it runs, verifies and reports.

Speed is not asserted here (that is benchmarks/RESULTS.md's job); what is asserted is
that every case completed all of its jobs and that the report carries the figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_a_tiny_benchmark_run_completes_every_case_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--repeats", "2", "--n", "300", "--sleepers", "60",
         "--concurrency", "20", "--duration", "0.5", "--libs", "pykue,redis-py",
         "--output", str(report)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    assert "ERROR" not in done.stdout
    throughput = next(line for line in text.splitlines() if line.startswith("| pykue | 0."))
    assert throughput.count("(") == 3  # enqueue, bulk and drain, each with its range
    ceiling = next(line for line in text.splitlines() if line.startswith("| redis-py |"))
    assert ceiling.count(" · ") == 3  # each figure with its ratio to pykue
    assert "## Targets" in text
    assert "drain: pykue reaches" in text
    assert "latency at 100 jobs/s" not in text  # the rate asked was the default 200
    assert "latency at 200 jobs/s: pykue p99" in text
    assert "concurrency: pykue" in text
    assert "ideal 0.300 s" in text  # 60 jobs x 0.1 s / 20 at once


def test_the_scaleout_benchmark_runs_both_layouts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scaleout", "--jobs", "300", "--repeats", "1"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 3 queues, ")]
    assert [row.split(" | ")[0] for row in rows] == ["| 3 queues, one master", "| 3 queues, spread"]
    assert "spread / one master: " in done.stdout
