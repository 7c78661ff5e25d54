"""`python -m bench.instructions [PATH ...]`: the API's CPU instructions per request, counted by
callgrind, for the scale user's first page, its page after 500 cursor hops, and any PATHs given.

On a shared 2-core VM the throughput of a 10-second wrk run moves by 15% or more from one run to
the next, more than two code paths differ. A count of executed instructions does not move: the
same path gives the same count to within 0.1%. So the cost of one path against another
(a request with a cursor against a first page, say) is measured here, and what it does to
throughput in `make bench`. Only the API process is counted, PostgreSQL is not; and under
valgrind the API runs some 50 times slower, so requests go one at a time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.client import access_token, bearer, walk_cursors
from bench.config import CURSOR_HOPS, RESULTS_DIR, ROOT, BenchConfig
from bench.procs import Child, spawn, wait_for_http
from bench.run import Run, log, run_directory, stop_on_sigterm
from bench.servers import uvicorn_args
from bench.tools import ensure_tool

REQUESTS = 100  # per path and round
ROUNDS = 2  # alternating, to show the counts repeat
WARMUP_REQUESTS = 20  # untimed: imports, prepared statements, caches
READY_TIMEOUT_S = 600.0  # the API starts slowly under valgrind

_TOTALS = re.compile(r"^(?:totals|summary): (\d+)", re.MULTILINE)


def dump_totals(dump: str) -> int:
    """The instruction count in one callgrind dump."""
    match = _TOTALS.search(dump)
    if match is None:
        raise ValueError("no totals line in the callgrind dump")
    return int(match.group(1))


class Counter:
    """Switches callgrind's counting on around a batch of requests and reads the dump."""

    def __init__(self, control: str, api: Child, dump_file: Path) -> None:
        self.control = control
        self.api = api
        self.dump_file = dump_file

    def _control(self, *args: str) -> None:
        subprocess.run([self.control, *args, str(self.api.pid)], check=True, capture_output=True)

    def per_request(self, http: httpx.Client, path: str) -> float:
        for _ in range(WARMUP_REQUESTS):
            http.get(path).raise_for_status()
        before = set(self.dump_file.parent.glob(self.dump_file.name + ".*"))
        self._control("--zero")
        self._control("--instr=on")
        for _ in range(REQUESTS):
            http.get(path).raise_for_status()
        self._control("--dump")
        self._control("--instr=off")
        (dump,) = set(self.dump_file.parent.glob(self.dump_file.name + ".*")) - before
        return dump_totals(dump.read_text()) / REQUESTS


def main() -> int:
    os.chdir(ROOT)
    os.environ.setdefault("BENCH_SCALE_TASKS", "20000")
    config = BenchConfig.from_env()
    valgrind = ensure_tool("valgrind", "valgrind")
    control = ensure_tool("callgrind_control", "valgrind")
    stop_on_sigterm()
    with ExitStack() as stack:
        run_dir = run_directory(stack, config, "instructions")
        bench_run = Run.start(config, run_dir, stack)
        data = bench_run.seed()
        from app.embedded import free_port

        port, dump_file = free_port(), run_dir / "callgrind.out"
        args = [
            valgrind,
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={dump_file}",
            *uvicorn_args("app.main:app", port),
        ]
        api = spawn(stack, "api-callgrind", args, bench_run.env, run_dir)
        base_url = f"http://127.0.0.1:{port}"
        log("starting the API under valgrind")
        wait_for_http(api, base_url + "/health", timeout=READY_TIMEOUT_S)
        headers = bearer(access_token(base_url, data.scale.username))
        hop_page = CURSOR_HOPS + 1
        walk = walk_cursors(base_url, headers, keep={1, hop_page}, depth=hop_page, repeats=1)
        paths = {
            "first page": walk.paths[1],
            f"page after {CURSOR_HOPS} hops": walk.paths[hop_page],
            **{path: path for path in sys.argv[1:]},
        }
        counter = Counter(control, api, dump_file)
        counts: dict[str, list[float]] = {label: [] for label in paths}
        with httpx.Client(base_url=base_url, headers=headers, timeout=60.0) as http:
            for round_index in range(ROUNDS):
                for label, path in paths.items():
                    counts[label].append(counter.per_request(http, path))
                    log(f"round {round_index + 1} {label}: {counts[label][-1]:,.0f} instructions")
    first = sum(counts["first page"]) / ROUNDS
    lines = [f"API instructions per request (callgrind, {REQUESTS} requests x {ROUNDS} rounds)"]
    for label, values in counts.items():
        mean = sum(values) / len(values)
        rounds = ", ".join(f"{value:,.0f}" for value in values)
        lines.append(f"  {label:<40} {mean:>12,.0f}  {mean / first:.3f}x first page  ({rounds})")
    (RESULTS_DIR / "instructions.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    log(f"wrote {RESULTS_DIR / 'instructions.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
