"""Child processes that always stop: each runs in its own process group (so SIGTERM reaches
everything it forked, e.g. Celery's pool) and is registered on an ExitStack when it starts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.config import ROOT


class ChildFailed(RuntimeError):
    """A child process exited or never became ready; the message ends with its log's tail."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise ChildFailed(
                f"{self.name} exited with {self.process.returncode}; log {self.log_path}:\n"
                + self.log_tail()
            )

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Anything the child forked and left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def spawn(
    stack: ExitStack, name: str, args: list[str], env: dict[str, str], log_dir: Path
) -> Child:
    """Start `args` in a new process group with its output in `log_dir/name.log`; it is stopped
    when `stack` closes (normal end, error or Ctrl-C)."""
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    child = Child(name, process, log_path)
    stack.callback(child.stop)
    return child


def wait_for_http(child: Child, url: str, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200, failing early if the child exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise ChildFailed(f"{child.name} not ready at {url} after {timeout:.0f}s:\n{child.log_tail()}")


def wait_for_port(child: Child, port: int, timeout: float = 30.0) -> None:
    """Wait until something listens on 127.0.0.1:`port`, failing early if the child exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ChildFailed(f"{child.name} not listening on {port} after {timeout:.0f}s")
