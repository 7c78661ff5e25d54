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


def compose(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    job_id: str,
    date: str | None = None,
) -> EmailMessage:
    """A plain-text message with the headers RFC 5322 requires and a job-derived Message-ID.
    `date` is an RFC 5322 date (default: now)."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = date or format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(job_id)
    message.set_content(body)
    return message


_WIRE_POLICY = _POLICY.clone(linesep="\r\n")
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
_MAX_LINE = 78  # policy.default's max_line_length: longer lines get folded or encoded
_PLAIN_PHRASE = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces between


def plain_message(
    settings: Settings, *, to: str, subject: str, body: str, job_id: str, date: str
) -> bytes | None:
    """The bytes `compose` gives on the wire, for a message that needs none of the email
    package's encoding or folding; None for any other, which `compose` handles.

    That is most messages: an ASCII dot-atom address, an ASCII subject and body, every line
    within 78 characters. For them `compose` parses and folds every header and walks the body
    to come back to the text it was given, and in a worker that cost about a fifth of a
    welcome job's CPU (docs/SCALING.md). The From line is the email package's own rendering,
    made once per sender. tests/jobs/test_mail.py holds this to `compose`, byte for byte."""
    if not body.isascii():
        return None
    lines = body.encode("ascii").splitlines()  # the line ends set_content honours
    mid = message_id(job_id)
    fields = [
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: {mid}",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 7bit",
        "MIME-Version: 1.0",
    ]
    plain = (
        _PLAIN_ADDRESS.fullmatch(to)
        and _PLAIN_ADDRESS.fullmatch(mid[1:-1])
        and _PLAIN_PHRASE.fullmatch(subject)
        and "=?" not in subject  # an encoded word would be decoded and encoded again
        and all(len(line) <= _MAX_LINE for line in lines)
        and all(len(field) <= _MAX_LINE for field in fields)
    )
    if not plain:
        return None
    head = _from_line(settings.smtp_from) + "\r\n".join(fields) + "\r\n\r\n"
    return head.encode() + (b"".join(line + b"\r\n" for line in lines) or b"\r\n")


@lru_cache(maxsize=8)
def _from_line(smtp_from: str) -> str:
    return str(_POLICY.header_factory("From", smtp_from).fold(policy=_WIRE_POLICY))


def send_mail(settings: Settings, *, to: str, subject: str, body: str, job_id: str) -> str:
    """Send one plain-text message; returns its Message-ID."""
    date = format_datetime(datetime.now(UTC))
    message: EmailMessage | bytes | None
    message = plain_message(settings, to=to, subject=subject, body=body, job_id=job_id, date=date)
    if message is None:
        message = compose(settings, to=to, subject=subject, body=body, job_id=job_id, date=date)
    # parsed once for every message from this sender
    sender = _POLICY.header_factory("From", settings.smtp_from).addresses[0].addr_spec
    connection = smtp.connection(settings)
    try:
        smtp.send(connection, message, sender=sender, recipient=to)
    except (smtplib.SMTPServerDisconnected, OSError):
        smtp.forget(connection)
        raise
    return message_id(job_id) if isinstance(message, bytes) else str(message["Message-ID"])
