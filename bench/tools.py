"""The Debian tools the harness runs (wrk, valgrind, smtp-sink): found on PATH or in /usr/sbin,
or installed with apt-get when missing and running as root."""

from __future__ import annotations

import os
import shutil
import subprocess


class ToolMissing(SystemExit):
    """A tool is not installed and cannot be installed from here."""


def _which(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin")  # not on a user's PATH


def ensure_tool(binary: str, package: str) -> str:
    """The path of `binary`, installing Debian's `package` first if it is missing."""
    found = _which(binary)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ToolMissing(
            f"{binary} is not installed. Install it (Debian/Ubuntu: `sudo apt-get install -y"
            f" {package}`) and run the benchmark again."
        )
    print(f"bench: {binary} not found; installing {package} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        subprocess.run(install, env=env, check=False)
    found = _which(binary)
    if not found:
        raise ToolMissing(f"apt-get could not install {package}; install it by hand and run again.")
    return found
