"""What the numbers were measured on: machine, load, and software versions."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from redis import Redis

from bench.config import ROOT

PACKAGES = (
    *("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "sqlalchemy"),
    *("asyncpg", "psycopg", "celery", "redis", "argon2-cffi", "orjson"),
)


def _cpuinfo(field: str) -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(field):
            return line.split(":", 1)[1].strip()
    return "unknown"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> dict[str, str]:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "CPU": _cpuinfo("model name"),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
    }


def versions(*, postgres: str, wrk: str, redis_url: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["PostgreSQL server"] = postgres
    redis = Redis.from_url(redis_url)
    try:
        found["Redis server"] = str(redis.info("server")["redis_version"])
    finally:
        redis.close()
    found["wrk"] = wrk
    return found


def _git(*args: str) -> str:
    # --no-optional-locks: read-only, never refreshes the index of a checkout others work in
    result = subprocess.run(
        ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def code_identity() -> str:
    """Which code was measured: the commit, uncommitted app/ changes, and a digest of app/."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "app").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in _git("status", "--porcelain", "--", "app").splitlines() if line]
    dirty = f", {len(changed)} uncommitted change(s) in app/" if changed else ""
    return f"commit {commit}{dirty}, app/*.py sha256 {digest.hexdigest()[:12]}"
