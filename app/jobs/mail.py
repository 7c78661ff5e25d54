"""Outgoing mail over SMTP, with a Message-ID derived from the job id.

The Message-ID is deterministic so that the one repeat the exactly-once design cannot exclude
(a crash after the SMTP server accepted a message but before the job's success committed) carries
the same Message-ID as the first copy, and receivers can drop it (docs/FAILURE_MODES.md).
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from email.message import EmailMessage

from app.config import Settings

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def message_id(job_id: str) -> str:
    """`welcome_email:42` → `<welcome_email.42@taskhub>` (RFC 5322 dot-atom: no colons)."""
    local = _UNSAFE_ID_CHARS.sub(".", job_id.replace(":", "."))
    return f"<{local}@taskhub>"


_connections: dict[int, smtplib.SMTP] = {}  # one per worker process (never shared across fork)


def _smtp(settings: Settings) -> smtplib.SMTP:
    """This process's SMTP connection: reused while the server keeps it open (NOOP answers 250),
    so a busy worker does not pay a connect, EHLO, STARTTLS and login per message."""
    pid = os.getpid()
    smtp = _connections.get(pid)
    if smtp is not None:
        try:
            if smtp.noop()[0] == 250:
                return smtp
        except smtplib.SMTPException:
            pass
        _connections.pop(pid, None)
    smtp = smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    )
    if settings.smtp_starttls:
        smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user and settings.smtp_password:
        smtp.login(settings.smtp_user, settings.smtp_password)
    _connections[pid] = smtp
    return smtp


def send_mail(settings: Settings, *, to: str, subject: str, body: str, job_id: str) -> str:
    """Send one plain-text message; returns its Message-ID."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    mid = message_id(job_id)
    message["Message-ID"] = mid
    message.set_content(body)
    smtp = _smtp(settings)
    try:
        smtp.send_message(message)
    except (smtplib.SMTPServerDisconnected, OSError):
        _connections.pop(os.getpid(), None)
        raise
    return mid
