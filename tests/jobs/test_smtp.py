"""The SMTP client against a real SMTP server (aiosmtpd): a pipelined mail transaction takes two
round trips, also after STARTTLS and login, a server without PIPELINING and an SMTPUTF8 address get smtplib's dialogue, and every
refusal raises smtplib's error and leaves the connection usable (or closed, when the server
closes it)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult

from app.config import Settings
from app.embedded import free_port
from app.jobs import mail, smtp
from app.mailsink import SaveToDirectory

SENDER = "no-reply@taskhub.local"
pytestmark = pytest.mark.usefixtures("smtp_connections")


class ScriptedSink(SaveToDirectory):
    """The dev sink, with a reply script: each entry answers the next such command instead of
    the sink (then is used up). It records connections, MAIL options and what DATA carried."""

    def __init__(self, directory: Path, script: dict[str, str], *, pipelining: bool) -> None:
        super().__init__(directory)
        self.script = script
        self.pipelining = pipelining
        self.peers: list[Any] = []
        self.mail_options: list[list[str]] = []
        self.contents: list[bytes] = []

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.peers.append(session.peer)
        if self.pipelining:
            return await super().handle_EHLO(server, session, envelope, hostname, responses)
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, _server: Any, _session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if reply := self.script.pop("MAIL", None):
            return reply
        envelope.mail_from = address
        self.mail_options.append(options)
        return "250 OK"

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        if reply := self.script.pop("RCPT", None):
            return reply
        envelope.rcpt_tos.append(address)  # also before a scripted refusal: DATA then gets 354
        return self.script.pop("RCPT refused, DATA accepted", "250 OK")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.contents.append(envelope.content)
        if reply := self.script.pop("content", None):
            return reply
        return await super().handle_DATA(server, session, envelope)


class ScriptedServer(SMTPServer):
    """aiosmtpd answering the DATA command from the script: no handler hook sees DATA before
    the content. "hang up" closes the connection after that reply."""

    async def smtp_DATA(self, arg: str) -> None:
        script = self.event_handler.script
        if reply := script.pop("DATA", None):
            await self.push(reply)
            if script.pop("hang up", None) and self.transport is not None:
                self.transport.close()
            return
        await super().smtp_DATA(arg)


class ScriptedController(Controller):
    def factory(self) -> SMTPServer:
        return ScriptedServer(self.handler, **self.SMTP_kwargs)


@contextmanager
def sink(
    settings: Settings,
    directory: Path,
    script: dict[str, str] | None = None,
    *,
    pipelining: bool = True,
    **server_options: Any,
) -> Iterator[tuple[Settings, ScriptedSink]]:
    handler = ScriptedSink(directory, dict(script or {}), pipelining=pipelining)
    controller = ScriptedController(
        handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True, **server_options
    )
    controller.start()
    try:
        yield settings.model_copy(update={"smtp_port": controller.port}), handler
    finally:
        controller.stop()


def _trace(connection: smtplib.SMTP, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the client does on the connection, in order: each write, each reply read."""
    events: list[str] = []
    send, getreply = connection.send, connection.getreply

    def traced_send(data: Any) -> None:
        events.append("send")
        send(data)

    def traced_getreply() -> tuple[int, bytes]:
        reply = getreply()
        events.append(f"reply {reply[0]}")
        return reply

    monkeypatch.setattr(connection, "send", traced_send)
    monkeypatch.setattr(connection, "getreply", traced_getreply)
    return events


def _message(settings: Settings, to: str = "person@example.com", number: int = 1) -> EmailMessage:
    body = "Naïve line\n.a line that starts with a dot\n"
    return mail.compose(settings, to=to, subject="s", body=body, job_id=f"t:{number}")


def _reply_code(error: smtplib.SMTPException) -> int:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        [(code, _text)] = error.recipients.values()
        return int(code)
    assert isinstance(error, smtplib.SMTPResponseException)
    return error.smtp_code


def _wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


@pytest.mark.parametrize("wire", [False, True], ids=["EmailMessage", "its wire bytes"])
def test_a_pipelined_message_takes_two_round_trips(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wire: bool
) -> None:
    """Also when the message comes as the bytes it has on the wire (mail.plain_message)."""
    with sink(settings, tmp_path) as (served, handler):
        connection = smtp.connection(served)
        events = _trace(connection, monkeypatch)
        message = _message(served)
        smtp.send(
            connection,
            _wire(message) if wire else message,
            sender=SENDER,
            recipient="person@example.com",
        )

    assert events == ["send", "reply 250", "reply 250", "reply 354", "send", "reply 250"]
    assert handler.contents == [_wire(message)]  # dot-stuffed on the wire, unstuffed by the server
    [options] = handler.mail_options
    assert options == [f"SIZE={len(_wire(message))}", "BODY=8BITMIME"]


@pytest.mark.parametrize("login", [False, True], ids=["STARTTLS", "STARTTLS and login"])
def test_after_starttls_a_message_is_still_pipelined(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, login: bool
) -> None:
    """The extensions a server offers before STARTTLS do not count after it (RFC 3207): the
    client asks again, and still finds PIPELINING. The server refuses MAIL without TLS (and
    without a login, when it asks for one)."""
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    authority.cert_pem.write_to_path(tmp_path / "ca.pem")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # trusted by the client
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(_s: Any, _session: Any, _e: Any, _mechanism: str, login: Any) -> AuthResult:
        logins.append((login.login, login.password))
        return AuthResult(success=login.password == b"secret")

    with sink(
        settings,
        tmp_path / "mail",
        tls_context=server_tls,
        require_starttls=True,
        auth_required=login,
        authenticator=authenticate,
    ) as (served, handler):
        credentials = {"smtp_user": "taskhub", "smtp_password": "secret"} if login else {}
        secure = served.model_copy(update={"smtp_starttls": True, **credentials})
        connection = smtp.connection(secure)
        events = _trace(connection, monkeypatch)
        message = _message(secure)
        smtp.send(connection, message, sender=SENDER, recipient="person@example.com")
        assert isinstance(connection.sock, ssl.SSLSocket)

    assert logins == ([(b"taskhub", b"secret")] if login else [])
    assert events == ["send", "reply 250", "reply 250", "reply 354", "send", "reply 250"]
    assert handler.contents == [_wire(message)]


@pytest.mark.parametrize(
    ("pipelining", "recipient", "wire"),
    [
        (False, "person@example.com", False),
        (False, "person@example.com", True),
        (True, "josé@example.com", False),
    ],
    ids=["server without PIPELINING", "its wire bytes without PIPELINING", "SMTPUTF8 recipient"],
)
def test_smtplib_dialogue_serves_what_pipelining_does_not(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pipelining: bool,
    recipient: str,
    wire: bool,
) -> None:
    with sink(settings, tmp_path, pipelining=pipelining) as (served, handler):
        connection = smtp.connection(served)
        events = _trace(connection, monkeypatch)
        message = _message(served, recipient)
        smtp.send(
            connection, _wire(message) if wire else message, sender=SENDER, recipient=recipient
        )

    assert events == [
        *("send", "reply 250", "send", "reply 250"),  # MAIL, RCPT: each waits for its reply
        *("send", "reply 354", "send", "reply 250"),  # DATA, content
    ]
    [content] = handler.contents
    assert message_from_bytes(content, policy=policy.default)["To"] == recipient


@pytest.mark.parametrize(
    ("recipient", "wire", "refusal"),
    [
        ("person@example.com\r\nRSET", False, "control character"),
        ("person@example.com\n", False, "control character"),
        ("josé@example.com", True, "ASCII addresses"),  # SMTPUTF8 needs the EmailMessage
    ],
    ids=["CRLF", "LF", "wire bytes to an SMTPUTF8 address"],
)
def test_an_address_smtp_cannot_carry_is_refused_before_anything_is_sent(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recipient: str,
    wire: bool,
    refusal: str,
) -> None:
    with sink(settings, tmp_path) as (served, handler):
        connection = smtp.connection(served)
        events = _trace(connection, monkeypatch)
        message = _message(served)
        with pytest.raises(ValueError, match=refusal):
            smtp.send(
                connection, _wire(message) if wire else message, sender=SENDER, recipient=recipient
            )

    assert events == []
    assert handler.contents == []


@pytest.mark.parametrize(
    ("script", "error", "code"),
    [
        ({"MAIL": "550 5.7.1 sender refused"}, smtplib.SMTPSenderRefused, 550),
        ({"RCPT": "550 5.1.1 no such user"}, smtplib.SMTPRecipientsRefused, 550),
        (
            {"RCPT refused, DATA accepted": "550 5.1.1 no such user"},
            smtplib.SMTPRecipientsRefused,
            550,
        ),
        ({"DATA": "451 4.3.0 try again later"}, smtplib.SMTPDataError, 451),
        ({"content": "554 5.6.0 content refused"}, smtplib.SMTPDataError, 554),
    ],
    ids=["sender", "recipient", "recipient, DATA accepted", "DATA", "content"],
)
def test_a_refusal_raises_and_the_connection_sends_the_next_message(
    settings: Settings,
    tmp_path: Path,
    script: dict[str, str],
    error: type[smtplib.SMTPException],
    code: int,
) -> None:
    with sink(settings, tmp_path, script) as (served, handler):
        connection = smtp.connection(served)
        with pytest.raises(error) as refused:
            smtp.send(connection, _message(served), sender=SENDER, recipient="person@example.com")
        follow_up = _message(served, number=2)
        mail.send_mail(served, to="person@example.com", subject="s", body="b\n", job_id="t:2")

    assert _reply_code(refused.value) == code
    assert not handler.script  # the refusal came from the server, where the script put it
    assert len(handler.peers) == 1  # after a RSET, the same connection carried the next message
    [*refused_contents, delivered] = handler.contents
    if "RCPT refused, DATA accepted" in script:
        assert refused_contents == [b""]  # the client ended the DATA the server accepted
    assert (
        message_from_bytes(delivered, policy=policy.default)["Message-ID"]
        == (follow_up["Message-ID"])
    )


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ({"MAIL": "421 4.3.2 shutting down"}, smtplib.SMTPSenderRefused),
        ({"DATA": "554 5.3.4 no more", "hang up": "yes"}, smtplib.SMTPDataError),
    ],
    ids=["421 closes", "server hangs up after refusing"],
)
def test_a_refusal_on_a_closing_connection_leaves_the_next_message_a_new_one(
    settings: Settings, tmp_path: Path, script: dict[str, str], error: type[smtplib.SMTPException]
) -> None:
    with sink(settings, tmp_path, script) as (served, handler):
        connection = smtp.connection(served)
        with pytest.raises(error):
            smtp.send(connection, _message(served), sender=SENDER, recipient="person@example.com")
        assert connection.sock is None
        mail.send_mail(served, to="person@example.com", subject="s", body="b\n", job_id="t:2")

    assert not handler.script
    assert len(handler.peers) == 2
    assert len(handler.contents) == 1
