"""`python -m bench.profile [PATH]`: where the API's event-loop thread spends its time under load.

Starts the benchmark's stack (a small scale user unless BENCH_SCALE_TASKS is set), runs the API
under cProfile (on only while the measured wrk run lasts), loads PATH (default the first page of
/tasks) with the usual wrk settings for BENCH_DURATION seconds, and writes
bench/results/profile.txt: self time per request grouped by package, then the top functions.
cProfile roughly doubles the cost of Python code and sees only the event-loop thread (not the
thread pool): read the shares, not the absolute numbers.
"""

from __future__ import annotations

import collections
import io
import os
import pstats
import re
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from bench import lua
from bench.client import access_token, bearer, page_path
from bench.config import RESULTS_DIR, ROOT, BenchConfig
from bench.procs import python_module, spawn, wait_for_http
from bench.run import Run, log, run_directory, stop_on_sigterm
from bench.wrk import WrkSpec, ensure_wrk, run


def by_package(stats: pstats.Stats, requests: int) -> list[str]:
    totals: collections.Counter[str] = collections.Counter()
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        package = re.search(r"site-packages/([^/]+)", filename)
        if package:
            key = package.group(1)
        elif "/app/" in filename:
            key = "app (TaskHub)"
        elif filename == "~":
            key = "builtin " + function.strip("<>{}").split(" of ")[0]
        else:
            key = "stdlib " + Path(filename).name
        totals[key] += row[2]  # self time
    total = sum(totals.values())
    lines = [f"self time on the event-loop thread: {total / requests * 1000:.2f} ms/request"]
    for key, seconds in totals.most_common(20):
        share = seconds / total * 100
        lines.append(f"  {key:<50} {seconds / requests * 1000:7.3f} ms/req {share:5.1f}%")
    return lines


def main() -> int:
    os.chdir(ROOT)
    os.environ.setdefault("BENCH_SCALE_TASKS", "20000")
    config = BenchConfig.from_env()
    path = sys.argv[1] if len(sys.argv) > 1 else page_path(None)
    wrk = ensure_wrk()
    stop_on_sigterm()
    with ExitStack() as stack:
        run_dir = run_directory(stack, config, "profile")
        bench_run = Run.start(config, wrk, run_dir, stack)
        data = bench_run.seed()
        from app.embedded import free_port

        port, output = free_port(), run_dir / "api.prof"
        args = python_module("bench.profiled_api", str(port), str(output))
        api = spawn(stack, "api-profiled", args, bench_run.env, run_dir)
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(api, base_url + "/health")
        script = run_dir / "profile.lua"
        script.write_text(
            lua.static_request("GET", bearer(access_token(base_url, data.base.username)))
        )
        spec = WrkSpec(base_url + path, script, config.threads, config.connections, 3)
        run(wrk, spec)  # warm-up, not profiled
        os.kill(api.pid, signal.SIGUSR1)
        measured = run(
            wrk, WrkSpec(spec.url, script, spec.threads, spec.connections, config.duration_s)
        )
        os.kill(api.pid, signal.SIGUSR2)
        while not output.exists():
            time.sleep(0.1)
        time.sleep(0.5)  # let the dump finish
        text = io.StringIO()
        stats = pstats.Stats(str(output), stream=text)
        stats.sort_stats("tottime").print_stats(30)
    lines = [
        f"GET {path}: {measured.requests} requests, {measured.rps:.0f} rps under cProfile,"
        f" {measured.errors} errors",
        *by_package(stats, measured.requests),
        "",
        text.getvalue(),
    ]
    (RESULTS_DIR / "profile.txt").write_text("\n".join(lines))
    print("\n".join(lines[: 3 + 20]))
    log(f"wrote {RESULTS_DIR / 'profile.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
