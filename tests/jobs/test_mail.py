"""Outgoing mail: what a message carries, and SMTP connection reuse in a worker process (no NOOP
round trip while the connection is busy, a NOOP after it sat idle, and a new connection when the
server has closed the old one)."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from app.config import Settings
from app.embedded import free_port
from app.jobs import mail, smtp
from app.mailsink import SaveToDirectory, saved_messages


class CountingSink(SaveToDirectory):
    """The dev sink, also counting client connections and NOOPs."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.peers: set[Any] = set()
        self.servers: list[Any] = []
        self.noops = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.add(session.peer)
        self.servers.append(server)
        return await super().handle_DATA(server, session, envelope)

    async def handle_NOOP(self, _server: Any, _session: Any, _envelope: Any, _arg: str) -> str:
        self.noops += 1
        return "250 OK"


@pytest.fixture
def sink(tmp_path: Path, smtp_connections: None) -> Iterator[tuple[Controller, CountingSink]]:
    handler = CountingSink(tmp_path)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def _send(settings: Settings, controller: Controller, number: int) -> None:
    served = settings.model_copy(update={"smtp_port": controller.port, "smtp_starttls": False})
    mail.send_mail(
        served, to="person@example.com", subject="hi", body="hello\n", job_id=f"t:{number}"
    )


def test_a_message_carries_the_required_headers_and_its_job_id(
    settings: Settings, sink: tuple[Controller, CountingSink]
) -> None:
    controller, handler = sink
    served = settings.model_copy(
        update={"smtp_port": controller.port, "smtp_from": "TaskHub <no-reply@example.com>"}
    )
    mid = mail.send_mail(
        served,
        to="person@example.com",
        subject="Café ☕ due",
        body="Naïve\n",
        job_id="reminder:7:9",
    )

    [saved] = saved_messages(handler.directory)
    received = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert mid == received["Message-ID"] == "<reminder.7.9@taskhub>"
    assert received["From"] == "TaskHub <no-reply@example.com>"
    assert received["To"] == "person@example.com"
    assert received["Subject"] == "Café ☕ due"  # RFC 2047-encoded on the wire, decoded here
    assert abs(received["Date"].datetime - datetime.now(UTC)) < timedelta(minutes=1)
    assert received.get_content().splitlines() == ["Naïve"]  # saved as sent: CRLF line ends


def test_messages_share_header_classes_and_repeated_headers(settings: Settings) -> None:
    """The stdlib would build a new class per header and parse every value again; ours builds
    each class once and parses a repeated value once."""
    first, second = (
        mail.compose(settings, to=f"p{n}@example.com", subject="s", body="b\n", job_id=f"t:{n}")
        for n in range(2)
    )
    for name in ("From", "To", "Date", "Message-ID", "Content-Type"):
        assert type(first[name]) is type(second[name])
    for name in ("From", "Subject", "Content-Type", "MIME-Version"):
        assert first[name] is second[name]
    assert (first["To"], second["To"]) == ("p0@example.com", "p1@example.com")
    assert (first["Message-ID"], second["Message-ID"]) == ("<t.0@taskhub>", "<t.1@taskhub>")


def test_a_shared_header_folds_as_each_policy_asks(settings: Settings) -> None:
    """A header shared by messages keeps its last folding; another line length or line separator
    folds it afresh."""
    subject = "A subject long enough to fold, with Café ☕ in the middle of it, and more words"
    first, second = (
        mail.compose(settings, to="p@example.com", subject=subject, body="b\n", job_id=f"t:{n}")
        for n in range(2)
    )
    assert first["Subject"] is second["Subject"]
    wire = policy.SMTP.clone(header_factory=first.policy.header_factory)
    narrow = wire.clone(max_line_length=40)
    folded = first["Subject"].fold(policy=wire)
    assert second["Subject"].fold(policy=wire) == folded
    assert "\r\n " in folded  # folded once, with CRLF line ends
    assert folded.endswith("\r\n")
    assert first["Subject"].fold(policy=policy.default).endswith("words\n")
    narrowly_folded = second["Subject"].fold(policy=narrow)
    assert all(len(line) <= 40 for line in narrowly_folded.split("\r\n"))
    assert narrowly_folded != folded
    for folding in (folded, narrowly_folded):
        parsed = message_from_bytes(folding.encode() + b"\r\n", policy=policy.default)
        assert parsed["Subject"] == subject


def test_a_header_value_that_is_not_a_string_bypasses_the_cache(settings: Settings) -> None:
    """An Address is unhashable, so it could not be a cache key; a datetime is not a string."""
    message = mail.compose(settings, to="p@example.com", subject="s", body="b\n", job_id="t:0")
    sent = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    del message["To"], message["Date"]
    message["To"] = Address("Bob", "bob", "example.com")
    message["Date"] = sent
    assert message["To"] == "Bob <bob@example.com>"
    assert message["Date"].datetime == sent


DATE = "Tue, 08 Dec 2026 01:11:26 +0000"
PLAIN = {
    "a welcome": ("p@example.com", "Welcome to TaskHub", "Hello bob,\n\nyour account is ready.\n"),
    "a reminder": ("first.last+x@sub.example.org", 'Reminder: "Pay rent" #2', "Due at 9.\n"),
    "an empty body": ("p@example.com", "s", ""),
    "no final line end": ("p@example.com", "s", "one\ntwo"),
    "CR and CRLF line ends": ("p@example.com", "s", "one\rtwo\r\nthree\n"),
    "a 78-character line": ("p@example.com", "s", "x" * 78 + "\n"),
    "a 78-character subject line": ("p@example.com", "y" * 69, "b\n"),
    "a line starting with a dot": ("p@example.com", "s", ".\n.. and From here\n"),
}


def _composed(settings: Settings, to: str, subject: str, body: str, job_id: str) -> bytes:
    message = mail.compose(settings, to=to, subject=subject, body=body, job_id=job_id, date=DATE)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


@pytest.mark.parametrize(("to", "subject", "body"), PLAIN.values(), ids=PLAIN.keys())
def test_a_plain_message_is_what_compose_puts_on_the_wire(
    settings: Settings, to: str, subject: str, body: str
) -> None:
    sender = settings.model_copy(update={"smtp_from": '"TaskHub, Inc." <no-reply@example.com>'})
    for served in (settings, sender):
        plain = mail.plain_message(
            served, to=to, subject=subject, body=body, job_id="welcome_email:42", date=DATE
        )
        assert plain == _composed(served, to, subject, body, "welcome_email:42")


def test_plain_messages_match_compose_on_random_text(settings: Settings) -> None:
    """Whatever plain_message accepts, it renders as compose does, byte for byte."""
    rng = random.Random(5)

    def text(size: int) -> str:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, size)))

    accepted = 0
    for _ in range(3000):
        to = rng.choice(["p@example.com", "a.b+c@x.example", "a..b@example.com", text(12) + "@x"])
        subject = rng.choice([text(80), "Reminder: " + text(40).replace("\n", " ")])
        body = rng.choice([text(200), rng.choice(["word ", "\n", "x" * 40]) * rng.randint(0, 9)])
        job_id = rng.choice(["welcome_email:" + text(30), "reminder:7:9"])
        plain = mail.plain_message(
            settings, to=to, subject=subject, body=body, job_id=job_id, date=DATE
        )
        if plain is not None:
            accepted += 1
            assert plain == _composed(settings, to, subject, body, job_id)
    assert accepted > 300  # the comparison ran, on a fair share of the cases


NEEDS_COMPOSE = {
    "a non-ASCII subject": ("p@example.com", "Café", "b\n"),
    "a non-ASCII body": ("p@example.com", "s", "Naïve\n"),
    "an SMTPUTF8 address": ("josé@example.com", "s", "b\n"),
    "a quoted local part": ('"a b"@example.com', "s", "b\n"),
    "a subject line to fold": ("p@example.com", "y" * 70, "b\n"),
    "a body line over 78 characters": ("p@example.com", "s", "x" * 79 + "\n"),
    "a line break in the subject": ("p@example.com", "s\r\nBcc: x@example.com", "b\n"),
    "an encoded word in the subject": ("p@example.com", "=?utf-8?q?caf=C3=A9?=", "b\n"),
    "two spaces in the subject": ("p@example.com", "a  b", "b\n"),
}


@pytest.mark.parametrize(
    ("to", "subject", "body"), NEEDS_COMPOSE.values(), ids=NEEDS_COMPOSE.keys()
)
def test_what_needs_encoding_or_folding_is_left_to_compose(
    settings: Settings, to: str, subject: str, body: str
) -> None:
    assert (
        mail.plain_message(settings, to=to, subject=subject, body=body, job_id="t:1", date=DATE)
        is None
    )


def test_a_plain_message_reaches_the_server_as_composed(
    settings: Settings, sink: tuple[Controller, CountingSink]
) -> None:
    controller, handler = sink
    served = settings.model_copy(update={"smtp_port": controller.port})
    mid = mail.send_mail(
        served, to="p@example.com", subject="Welcome", body="Hello.\n", job_id="welcome_email:7"
    )

    [saved] = saved_messages(handler.directory)
    received = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert mid == received["Message-ID"] == "<welcome_email.7@taskhub>"
    sent_date = received["Date"]
    assert saved.read_bytes() == _composed(
        served, "p@example.com", "Welcome", "Hello.\n", "welcome_email:7"
    ).replace(DATE.encode(), str(sent_date).encode())


def test_busy_connection_is_reused_without_a_noop(
    settings: Settings, sink: tuple[Controller, CountingSink]
) -> None:
    controller, handler = sink
    for number in range(3):
        _send(settings, controller, number)
    assert len(saved_messages(handler.directory)) == 3
    assert len(handler.peers) == 1
    assert handler.noops == 0


def test_idle_connection_is_checked_with_a_noop(
    settings: Settings, sink: tuple[Controller, CountingSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, handler = sink
    monkeypatch.setattr(smtp, "_CHECK_AFTER_IDLE_SECONDS", 0.0)
    _send(settings, controller, 1)
    _send(settings, controller, 2)
    assert len(handler.peers) == 1
    assert handler.noops == 1


def test_connection_closed_by_the_server_is_replaced(
    settings: Settings, sink: tuple[Controller, CountingSink]
) -> None:
    controller, handler = sink
    _send(settings, controller, 1)
    controller.loop.call_soon_threadsafe(handler.servers[-1].transport.close)
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0.1), controller.loop).result(timeout=5)
    _send(settings, controller, 2)  # a recently used connection, but the server closed it
    assert len(saved_messages(handler.directory)) == 2
    assert len(handler.peers) == 2
