"""Outgoing mail over SMTP, with a Message-ID derived from the job id.

The Message-ID is deterministic so that the one repeat the exactly-once design cannot exclude
(a crash after the SMTP server accepted a message but before the job's success committed) carries
the same Message-ID as the first copy, and receivers can drop it (docs/FAILURE_MODES.md).
"""

from __future__ import annotations

import re
import smtplib
from datetime import UTC, datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from app.config import Settings
from app.jobs import smtp

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def message_id(job_id: str) -> str:
    """`welcome_email:42` → `<welcome_email.42@taskhub>` (RFC 5322 dot-atom: no colons)."""
    local = _UNSAFE_ID_CHARS.sub(".", job_id.replace(":", "."))
    return f"<{local}@taskhub>"


_PARSED_HEADERS = 1024


class _FoldedOnce(BaseHeader):
    """A header folds to the same text every time under the same line length, line separator and
    UTF-8 setting, yet the stdlib walks its parse tree again on every flatten. It keeps its last
    folding, so a header shared by many messages (below) is folded once, not once per message."""

    def fold(self, *, policy: Policy) -> str:
        settings = (policy.linesep, policy.max_line_length, getattr(policy, "utf8", False))
        last: tuple[tuple[str, int | None, bool], str] | None = self.__dict__.get("_folded")
        if last is not None and last[0] == settings:
            return last[1]
        folded = super().fold(policy=policy)
        self.__dict__["_folded"] = (settings, folded)
        return folded


class _ParsedHeaders(HeaderRegistry):
    """The stdlib registry builds a new class with `type()` for every header it parses, and parses
    every value anew, although most of a message's headers (From, Subject, the MIME headers) repeat
    from one message to the next. Both were most of the cost of composing a message. Header objects
    are immutable strings, so each class is built once and each (name, value) parsed once, for the
    last _PARSED_HEADERS distinct pairs."""

    def __init__(self) -> None:
        super().__init__(base_class=_FoldedOnce)
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parse = lru_cache(maxsize=_PARSED_HEADERS)(super().__call__)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(key)
        return cls

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if isinstance(value, str):
            return self._parse(name, value)
        return super().__call__(name, value)  # e.g. an Address or a datetime: not cached


_POLICY = policy.default.clone(header_factory=_ParsedHeaders())


def compose(settings: Settings, *, to: str, subject: str, body: str, job_id: str) -> EmailMessage:
    """A plain-text message with the headers RFC 5322 requires and a job-derived Message-ID."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(job_id)
    message.set_content(body)
    return message


def send_mail(settings: Settings, *, to: str, subject: str, body: str, job_id: str) -> str:
    """Send one plain-text message; returns its Message-ID."""
    message = compose(settings, to=to, subject=subject, body=body, job_id=job_id)
    sender = message["From"].addresses[0].addr_spec  # already parsed: no second parse in smtplib
    connection = smtp.connection(settings)
    try:
        smtp.send(connection, message, sender=sender, recipient=to)
    except (smtplib.SMTPServerDisconnected, OSError):
        smtp.forget(connection)
        raise
    return str(message["Message-ID"])
