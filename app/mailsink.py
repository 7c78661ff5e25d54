"""A local SMTP server for development and tests (aiosmtpd): every message it accepts is saved as
`<directory>/<time>-<message id>.eml`, so a developer can read the mail TaskHub sends."""

from __future__ import annotations

import re
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


class SaveToDirectory:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_EHLO(
        self, _server: Any, session: Any, _envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920), so TaskHub's client takes the same path as against a
        production relay. aiosmtpd reads each command from its buffered stream in order and
        answers it in order, which is all pipelining asks of a server; it only does not say so."""
        session.host_name = hostname  # this hook replaces aiosmtpd's own EHLO bookkeeping
        *extensions, last = responses
        return [*extensions, "250-PIPELINING", last]

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content: bytes = (
            envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        )
        message_id = message_from_bytes(content).get("Message-ID", "no-id")
        name = f"{time.time_ns()}-{_UNSAFE_FILENAME.sub('_', message_id.strip('<>'))}.eml"
        (self.directory / name).write_bytes(content)
        return "250 Message accepted for delivery"


def start_mail_sink(directory: Path, *, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the sink in a background thread; call `.stop()` on the result to end it."""
    controller = Controller(SaveToDirectory(directory), hostname=host, port=port)
    controller.start()
    return controller


def saved_messages(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))
