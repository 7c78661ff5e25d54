"""One benchmark run's servers and phases: start (embedded services, migrate), seed, the HTTP
cases, the job throughput, and the versions of what ran."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bench import environment, servers
from bench.cases import Tokens, build_cases
from bench.config import RESULTS_DIR, STATE_DIR, BenchConfig
from bench.data import (
    Dataset,
    delete_bench_rows,
    seed_dataset,
    server_version,
    vacuum_analyze,
)
from bench.depth import DepthProfile, depth_profile
from bench.jobs import JobProcesses, JobResults, run_job_benchmarks
from bench.load import LoadRunner, SessionCounter
from bench.measures import CaseResult
from bench.wrk import wrk_version


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _raise_system_exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)


def stop_on_sigterm() -> None:
    """Make SIGTERM unwind the ExitStack the way Ctrl-C does, so everything started stops."""
    signal.signal(signal.SIGTERM, _raise_system_exit)


def run_directory(stack: ExitStack, config: BenchConfig, name: str) -> Path:
    """A fresh directory under .taskhub/bench/ for data, logs and scripts; removed when `stack`
    closes unless BENCH_KEEP is set."""
    path = STATE_DIR / f"{name}-{os.getpid()}"
    path.mkdir(parents=True)
    if not config.keep:
        stack.callback(shutil.rmtree, path, ignore_errors=True)
    log(f"run directory {path}")
    return path


@dataclass(frozen=True, slots=True)
class Run:
    """One benchmark run: its settings, servers and environment; each phase is a method."""

    config: BenchConfig
    run_dir: Path
    stack: ExitStack  # everything started is stopped when it closes
    services: servers.Services
    env: dict[str, str]  # production settings shared by every TaskHub process
    prefix: str  # every username of this run starts with it

    @classmethod
    def start(cls, config: BenchConfig, run_dir: Path, stack: ExitStack) -> Run:
        services = servers.start_services(config, run_dir, stack)
        env = servers.app_env(services)
        os.environ.update(env)  # app.seed and the relay run in this process too
        servers.migrate(env, run_dir)
        prefix = f"bench{secrets.token_hex(3)}"
        if config.database_url:
            stack.callback(delete_bench_rows, services.dsn, prefix)
        return cls(config, run_dir, stack, services, env, prefix)

    def seed(self) -> Dataset:
        log(f"seeding (scale user: {self.config.scale_tasks:,} tasks)")
        data = seed_dataset(self.prefix, self.config.scale_tasks)
        log("seeded in " + ", ".join(f"{k} {v:.1f}s" for k, v in data.seed_seconds.items()))
        log(f"vacuumed in {vacuum_analyze(self.services.dsn):.1f}s")
        return data

    def http(self, data: Dataset, wrk: str) -> tuple[list[CaseResult], DepthProfile]:
        start_http = servers.start_http
        api = start_http(self.stack, "api", "app.main:app", "/health", self.env, self.run_dir)
        floor = start_http(self.stack, "floor", "bench.floor:app", "/ready", self.env, self.run_dir)
        ceiling = start_http(
            self.stack, "ceiling", "bench.ceiling:app", "/ping", self.env, self.run_dir
        )
        tokens = Tokens(api.base_url)
        log("walking cursors and timing page depths")
        scale = data.scale
        depth = depth_profile(
            api.base_url,
            tokens.headers(scale.username),
            self.services.dsn,
            scale.id,
            scale.tasks,
            self.config.walk_depth,
        )
        cases = build_cases(self.config, data, tokens, self.services.dsn, depth.hop_path)
        sessions = SessionCounter(self.services.dsn)
        self.stack.callback(sessions.close)
        scripts = self.run_dir / "lua"
        scripts.mkdir()
        runner = LoadRunner(
            wrk,
            self.config,
            api,
            floor,
            ceiling,
            self.services.postmaster_pid,
            sessions,
            lambda: vacuum_analyze(self.services.dsn),
            scripts,
            log,
        )
        results = runner.run(cases)
        (RESULTS_DIR / "latest.raw").write_text("\n".join(runner.raw))
        return results, depth

    def jobs(self) -> JobResults:
        log("job throughput: welcome jobs against a bare Celery no-op")
        smtp_sink, smtp_port = servers.start_smtp_sink(self.stack, self.env, self.run_dir)
        os.environ["SMTP_PORT"] = str(smtp_port)
        job_env = {**self.env, "SMTP_PORT": str(smtp_port)}
        taskhub_worker = servers.start_taskhub_worker(self.stack, job_env, self.run_dir)
        noop_worker = servers.start_noop_worker(self.stack, job_env, self.run_dir)
        processes = JobProcesses(
            noop_worker=noop_worker.pid,
            taskhub_worker=taskhub_worker.pid,
            postmaster=self.services.postmaster_pid,
            redis=self.services.redis_pid,
            smtp_sink=smtp_sink.pid,
        )
        return run_job_benchmarks(
            self.services.dsn,
            self.services.redis_url,
            processes,
            f"{self.prefix}_jobs",
            self.config.jobs,
            self.config.job_rounds,
            log,
        )

    def versions(self, wrk: str) -> dict[str, str]:
        return environment.versions(
            postgres=server_version(self.services.dsn),
            wrk=wrk_version(wrk),
            redis_url=self.services.redis_url,
        )
