"""Running wrk: install check, one or several concurrent runs, and reading their results."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.lua import RESULT_MARKER
from bench.tools import ensure_tool


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx responses
    stale: int  # PATCH only: 412 responses
    output: str

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_share(self) -> float:
        return self.errors / self.requests if self.requests else 1.0


@dataclass(frozen=True, slots=True)
class WrkSpec:
    url: str
    script: Path
    threads: int
    connections: int
    duration_s: int

    def args(self, wrk: str) -> list[str]:
        return [
            wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            "--timeout=10s",  # argon2 logins queue up; do not count slow answers as errors
            "--latency",
            f"--script={self.script}",
            self.url,
        ]


def ensure_wrk() -> str:
    return ensure_tool("wrk", "wrk")


def wrk_version(wrk: str) -> str:
    output = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (output.stdout or output.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def run_concurrently(wrk: str, specs: list[WrkSpec]) -> list[WrkResult]:
    """Start every spec at once (separate wrk processes) and wait for all of them."""
    processes = [
        subprocess.Popen(spec.args(wrk), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for spec in specs
    ]
    try:
        outputs = [process.communicate()[0].decode(errors="replace") for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, output in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    return [parse(output) for output in outputs]


def run(wrk: str, spec: WrkSpec) -> WrkResult:
    return run_concurrently(wrk, [spec])[0]


def parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line.removeprefix(RESULT_MARKER))
            break
    else:
        raise RuntimeError(f"no {RESULT_MARKER} line in wrk output:\n{output}")
    errors = sum(
        data[key]
        for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=int(errors),
        stale=int(data["stale"]),
        output=output,
    )
