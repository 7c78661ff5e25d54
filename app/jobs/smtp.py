"""The SMTP client: one reused connection per worker process, and one mail transaction per message
with PIPELINING (RFC 2920) when the server offers it.

smtplib waits for the reply to MAIL before it sends RCPT, and for the reply to RCPT before DATA:
four round trips per message. Pipelined, MAIL, RCPT and DATA go in one write and their three
replies are read together, then the content goes and its reply comes: two round trips. Over a
network to a mail relay that is two round trips saved per message; on the benchmark's machine it
cut an eighth of the CPU a welcome job costs across its processes (docs/SCALING.md).
"""

from __future__ import annotations

import os
import re
import select
import smtplib
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from email.message import EmailMessage

from app.config import Settings

# Idle longer than this, a connection is checked with a NOOP before use: a server or NAT may have
# dropped it silently. A busy worker's connection skips that round trip.
_CHECK_AFTER_IDLE_SECONDS = 5.0


@dataclass(slots=True)
class _Connection:
    smtp: smtplib.SMTP
    last_used: float

    def usable(self) -> bool:
        """Recently used with nothing to read (a server that closed the connection or sent a 421
        leaves something: checked locally, no round trip), or answering a NOOP."""
        sock = self.smtp.sock
        if sock is None:
            return False
        try:
            recent = time.monotonic() - self.last_used < _CHECK_AFTER_IDLE_SECONDS
            if recent and not select.select([sock], [], [], 0)[0]:
                return True
            return self.smtp.noop()[0] == 250
        except (smtplib.SMTPException, OSError, ValueError):
            return False


_connections: dict[int, _Connection] = {}  # one per worker process (never shared across fork)


def connection(settings: Settings) -> smtplib.SMTP:
    """This process's SMTP connection, reused while usable, so a busy worker does not pay a
    connect, EHLO, STARTTLS and login per message."""
    pid = os.getpid()
    reused = _connections.pop(pid, None)
    if reused is not None and reused.usable():
        reused.last_used = time.monotonic()
        _connections[pid] = reused
        return reused.smtp
    if reused is not None:
        reused.smtp.close()
    smtp = smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    )
    smtp.ehlo_or_helo_if_needed()  # learns the extensions, PIPELINING among them
    if settings.smtp_starttls:
        smtp.starttls(context=ssl.create_default_context())
        smtp.ehlo_or_helo_if_needed()  # what was offered before TLS does not count (RFC 3207)
    if settings.smtp_user and settings.smtp_password:
        smtp.login(settings.smtp_user, settings.smtp_password)
    _connections[pid] = _Connection(smtp, time.monotonic())
    return smtp


def forget(smtp: smtplib.SMTP) -> None:
    """Close a connection that failed, so the next message opens a new one."""
    _connections.pop(os.getpid(), None)
    smtp.close()


_LINE_STARTING_WITH_DOT = re.compile(rb"(?m)^\.")


def _content(message: bytes) -> bytes:
    """The DATA content on the wire: dot-stuffed, ended by CRLF "." CRLF (RFC 5321 4.5.2)."""
    stuffed = _LINE_STARTING_WITH_DOT.sub(b"..", message)
    return stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n")


def _refusal(
    replies: list[tuple[int, bytes]], sender: str, recipient: str
) -> smtplib.SMTPException | None:
    """The error of the first command the server refused, as smtplib would raise it, or None."""
    (mail_code, mail_text), (rcpt_code, rcpt_text), (data_code, data_text) = replies
    if mail_code != 250:
        return smtplib.SMTPSenderRefused(mail_code, mail_text, sender)
    if rcpt_code not in (250, 251):
        return smtplib.SMTPRecipientsRefused({recipient: (rcpt_code, rcpt_text)})
    if data_code != 354:
        return smtplib.SMTPDataError(data_code, data_text)
    return None


def send(smtp: smtplib.SMTP, message: EmailMessage | bytes, *, sender: str, recipient: str) -> None:
    """Send `message` to one recipient in one mail transaction, pipelined when the server offers
    PIPELINING. `message` is an EmailMessage, or the bytes of one as they go on the wire (CRLF
    line ends; ASCII addresses only). An EmailMessage to an address that is not ASCII (SMTPUTF8)
    goes through smtplib's own dialogue. A refusal raises what smtplib raises, after a RSET (or
    closing, on a 421), so the connection stays usable for the next message."""
    if not (sender + recipient).isprintable():  # a line break would smuggle in a command
        raise ValueError(f"refusing an address with a control character: {sender!r}, {recipient!r}")
    ascii_addresses = (sender + recipient).isascii()
    if isinstance(message, bytes):
        if not ascii_addresses:
            raise ValueError("wire bytes need ASCII addresses; pass the EmailMessage for SMTPUTF8")
        content = message
    elif ascii_addresses and smtp.has_extn("pipelining"):
        content = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    else:
        smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
        return
    body_option = ["BODY=8BITMIME"] if not content.isascii() and smtp.has_extn("8bitmime") else []
    if not smtp.has_extn("pipelining"):  # smtplib's dialogue (it adds SIZE itself)
        smtp.sendmail(sender, [recipient], content, mail_options=body_option)
        return
    size_option = [f"SIZE={len(content)}"] if smtp.has_extn("size") else []
    options = "".join(f" {option}" for option in size_option + body_option)  # 8bit: RFC 6152
    smtp.send(f"MAIL FROM:<{sender}>{options}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
    replies = [smtp.getreply() for _ in range(3)]
    refusal = _refusal(replies, sender, recipient)
    if refusal is None:
        smtp.send(_content(content))
        replies.append(smtp.getreply())
        code, text = replies[-1]
        if code == 250:
            return
        refusal = smtplib.SMTPDataError(code, text)
    elif replies[2][0] == 354:
        # A server may accept DATA although it refused the sender or the recipient; the client
        # then ends the empty message with a single dot (RFC 2920 3.1).
        smtp.send(b".\r\n")
        replies.append(smtp.getreply())
    if any(code == 421 for code, _ in replies):  # the server is closing the connection
        smtp.close()
    else:
        with suppress(smtplib.SMTPServerDisconnected):  # closed: the next message reconnects
            smtp.rset()
    raise refusal
