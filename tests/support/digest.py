"""Test support for digests: a real SMTP server (aiosmtpd) on loopback, a test-only
Telegram channel speaking real HTTP to FakeTelegram through PTB, and data helpers.

The SMTP handler records every message it accepts and can, per recipient address,
answer RCPT or the end of data with a chosen reply, or take the message and then drop
the connection, or never answer; it can also drop the connection at the next MAIL
commands (a server that closed an idle connection).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from commsbot.content.items import add_items
from commsbot.content.types import TYPES
from commsbot.store import Store, audience, iso

EMAIL_SETTINGS = """
[channels.email]
enabled = true
smtp_host = "127.0.0.1"
smtp_port = {port}
security = "none"
from = "Cross-Innovation <news@cross-innovation.example>"
unsubscribe_url = "https://cross-innovation.example/unsubscribe?token={{token}}"
max_per_second = 0
timeout = 5
"""


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        """The decoded text of the plain or html part."""
        found = self.message.get_body((subtype,))
        assert found is not None, f"no text/{subtype} part"
        return str(found.get_content())


@dataclass
class Recorder:
    """An aiosmtpd handler: records what it accepts, answers as told."""

    messages: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    drop_after_data: set[str] = field(default_factory=set)
    # Taken, and then no answer at all (bounded: the server's stop cancels the wait).
    silent_after_data: set[str] = field(default_factory=set)
    drop_at_mail: int = 0
    connections: int = 0

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.drop_at_mail:
            self.drop_at_mail -= 1
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "421 4.4.2 closing (test)"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = envelope.rcpt_tos[0]
        reply = self.data_replies.get(rcpt)
        if reply:
            return reply
        content = envelope.original_content or b""
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        if rcpt in self.drop_after_data:
            # Taken, but the answer never arrives: the client cannot know it was delivered.
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
        if rcpt in self.silent_after_data:
            await asyncio.sleep(120)
        return "250 2.0.0 queued as test-" + str(len(self.messages))


class _CountingSMTP(SMTP):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.event_handler.connections += 1
        super().connection_made(transport)


class SmtpServer(Controller):
    """aiosmtpd on 127.0.0.1, on a free port chosen by the system."""

    def __init__(self, handler: Recorder, **smtp_kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **smtp_kwargs)
        self.recorder = handler

    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]
        self.recorder.connections = 0  # the controller's own start-up probe


@contextmanager
def smtp_server(**smtp_kwargs: Any) -> Iterator[SmtpServer]:
    """A recording SMTP server, stopped when the block ends."""
    server = SmtpServer(Recorder(), **smtp_kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def login_authenticator(user: str, password: str) -> Any:
    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == user
            and data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


def write_config(path: Path, port: int, extra: str = "") -> Path:
    path.write_text(
        '[store]\npath = "commsbot.db"\n\n[channels.outbox]\nenabled = true\npath = "outbox"\n'
        + EMAIL_SETTINGS.format(port=port)
        + extra,
        encoding="utf-8",
    )
    return path


# -- data ------------------------------------------------------------------------------

_SLUGS = itertools.count(1)


def add_practice(
    store: Store, city: str, theme: str, at: datetime, title: str | None = None
) -> str:
    """A published practice added at ``at``; returns its slug."""
    n = next(_SLUGS)
    slug = f"test-practice-{n}"
    row = {
        "slug": slug,
        "title": title or f"Test practice {n} in {city}",
        "city": city,
        "theme": theme,
        "summary": f"Summary of practice {n}.",
        "url": f"https://cross-innovation.example/practices/{slug}",
    }
    added, problems = add_items(store, TYPES["practice"], [(f"test {slug}", row)], at)
    assert added == 1 and not problems, problems
    return slug


def subscribe(
    store: Store,
    channel: str,
    address: str,
    frequency: str,
    at: datetime,
    cities: tuple[str, ...] = (),
    themes: tuple[str, ...] = (),
) -> dict[str, Any]:
    return audience.upsert_subscriber(store, channel, address, frequency, cities, themes, at)


def delivery_rows(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT * FROM digest_deliveries ORDER BY id")


def at(day: str, hour: int = 12) -> datetime:
    """A UTC moment on an ISO date."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def later(moment: datetime, **delta: float) -> datetime:
    return moment + timedelta(**delta)


def stamp(moment: datetime) -> str:
    return iso(moment)


# -- a test-only Telegram channel ----------------------------------------------------------
