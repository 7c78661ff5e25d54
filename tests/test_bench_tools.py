"""Finding the Debian tools the harness runs (bench/tools.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import tools


def test_a_tool_in_usr_sbin_is_found_without_it_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """smtp-sink lives in /usr/sbin, which a user's PATH often lacks; ldconfig is there too."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tools.ensure_tool("ldconfig", "libc-bin") == "/usr/sbin/ldconfig"


def test_a_missing_tool_that_cannot_be_installed_says_how(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(tools.ToolMissing, match="apt-get install -y no-such-package"):
        tools.ensure_tool("no-such-tool-here", "no-such-package")
