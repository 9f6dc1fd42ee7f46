"""The e-mail channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from commsbot.channels.base import DirectMessage, Outcome, Rendered
from commsbot.channels.email import EmailChannel, EmailSettings
from commsbot.config import load_config
from commsbot.errors import ChannelError
from tests.support.digest import SmtpServer, login_authenticator, smtp_server, write_config

T = TypeVar("T")
TEXT = "Nowe praktyki w Plzeň & Vilnius: <co>lab 🎉"
HTML = "<p>Nowe praktyki w Plzeň &amp; Vilnius: &lt;co&gt;lab 🎉</p>"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 20))


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


def settings(port: int, **changes: Any) -> EmailSettings:
    base: dict[str, Any] = {
        "enabled": True,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from_": "Cross-Innovation <news@cross-innovation.example>",
        "unsubscribe_url": "https://cross-innovation.example/unsubscribe?token={token}",
        "timeout": 5.0,
    }
    return EmailSettings(**(base | changes))


def message(ref: int, recipient: str, token: str = "tok-1") -> DirectMessage:
    channel = EmailChannel(settings(1))
    return DirectMessage(
        ref=ref,
        recipient=recipient,
        text=TEXT,
        html=HTML,
        subject="Cross-Innovation digest, Week 48: 3 new items",
        headers=channel.unsubscribe(token).headers,
    )


async def send_all(channel: EmailChannel, messages: list[DirectMessage]) -> list[Any]:
    await channel.open()
    try:
        return [await channel.send_direct(m) for m in messages]
    finally:
        await channel.close()


def test_multipart_message_with_unsubscribe_headers(server: SmtpServer) -> None:
    channel = EmailChannel(settings(server.port))
    [delivery] = run(send_all(channel, [message(7, "anna@example.org", "tok-anna")]))
    assert delivery.outcome is Outcome.SENT
    assert delivery.post_id == 7
    [got] = server.recorder.messages
    assert got.mail_from == "news@cross-innovation.example"
    assert got.rcpt_tos == ["anna@example.org"]
    msg = got.message
    assert msg["From"] == "Cross-Innovation <news@cross-innovation.example>"
    assert msg["To"] == "anna@example.org"
    assert msg["Subject"] == "Cross-Innovation digest, Week 48: 3 new items"
    assert msg["List-Unsubscribe"] == (
        "<https://cross-innovation.example/unsubscribe?token=tok-anna>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"].startswith("<") and "@cross-innovation.example>" in msg["Message-ID"]
    assert msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    # 7-bit safe on the wire, with body lines of at most 76 characters (RFC 2045).
    assert got.data.isascii()
    body = got.data.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    # Text travels in canonical form (CRLF line ends).
    assert parts[0].get_content() == TEXT + "\r\n"
    assert parts[1].get_content() == HTML + "\r\n"


def test_mailto_only_has_no_one_click_header() -> None:
    channel = EmailChannel(
        settings(1, unsubscribe_url="", unsubscribe_mailto="leave@cross-innovation.example")
    )
    leave = channel.unsubscribe("a b/c")
    assert leave.url == "mailto:leave@cross-innovation.example?subject=unsubscribe%20a%20b/c"
    assert leave.headers == {"List-Unsubscribe": f"<{leave.url}>"}


def test_one_connection_for_many_messages(server: SmtpServer) -> None:
    channel = EmailChannel(settings(server.port))
    messages = [message(i, f"p{i}@example.org") for i in range(1, 21)]
    deliveries = run(send_all(channel, messages))
    assert [d.outcome for d in deliveries] == [Outcome.SENT] * 20
    assert server.recorder.connections == 1
    assert [m.rcpt_tos[0] for m in server.recorder.messages] == [
        f"p{i}@example.org" for i in range(1, 21)
    ]


def test_reconnects_once_when_the_server_dropped_the_connection(server: SmtpServer) -> None:
    channel = EmailChannel(settings(server.port))

    async def scenario() -> list[Any]:
        await channel.open()
        try:
            first = await channel.send_direct(message(1, "a@example.org"))
            server.recorder.drop_at_mail = 1  # an idle connection closed by the server
            second = await channel.send_direct(message(2, "b@example.org"))
            return [first, second]
        finally:
            await channel.close()

    deliveries = run(scenario())
    assert [d.outcome for d in deliveries] == [Outcome.SENT, Outcome.SENT]
    assert server.recorder.connections == 2
    assert [m.rcpt_tos for m in server.recorder.messages] == [["a@example.org"], ["b@example.org"]]


def test_gives_up_after_one_reconnect_and_stops_the_channel(server: SmtpServer) -> None:
    channel = EmailChannel(settings(server.port))

    async def scenario() -> Any:
        await channel.open()
        try:
            server.recorder.drop_at_mail = 2
            return await channel.send_direct(message(3, "c@example.org"))
        finally:
            await channel.close()

    delivery = run(scenario())
    assert delivery.outcome is Outcome.CHANNEL_DOWN
    assert "connection lost at MAIL" in (delivery.error or "")
    assert server.recorder.messages == []


@pytest.mark.parametrize(
    ("where", "reply", "outcome"),
    [
        ("rcpt", "550 5.1.1 No such user here", Outcome.BOUNCED),
        ("rcpt", "452 4.2.2 Mailbox full, try later", Outcome.RETRY_LATER),
        ("data", "554 5.7.1 Message refused as spam", Outcome.FAILED),
        ("data", "451 4.7.1 Greylisted, try again", Outcome.RETRY_LATER),
    ],
)
def test_server_answers_become_outcomes(
    server: SmtpServer, where: str, reply: str, outcome: Outcome
) -> None:
    target = "gone@example.org"
    replies = server.recorder.rcpt_replies if where == "rcpt" else server.recorder.data_replies
    replies[target] = reply
    channel = EmailChannel(settings(server.port))
    messages = [message(1, target), message(2, "fine@example.org")]
    first, second = run(send_all(channel, messages))
    assert first.outcome is outcome
    step = "RCPT" if where == "rcpt" else "end of data"
    assert first.error == f"SMTP {step}: {reply}"
    assert second.outcome is Outcome.SENT  # the connection was reset and reused
    assert server.recorder.connections == 1
    assert [m.rcpt_tos for m in server.recorder.messages] == [["fine@example.org"]]


def test_connection_lost_after_data_is_unknown(server: SmtpServer) -> None:
    server.recorder.drop_after_data.add("late@example.org")
    channel = EmailChannel(settings(server.port))
    messages = [message(1, "late@example.org"), message(2, "next@example.org")]
    first, second = run(send_all(channel, messages))
    assert first.outcome is Outcome.UNKNOWN
    assert "may have been delivered" in (first.error or "")
    assert second.outcome is Outcome.SENT
    # The server did take it: unknown was the honest answer, and it went out once.
    assert [m.rcpt_tos for m in server.recorder.messages] == [
        ["late@example.org"],
        ["next@example.org"],
    ]
    assert server.recorder.connections == 2


def test_header_tricks_are_refused_before_sending(server: SmtpServer) -> None:
    channel = EmailChannel(settings(server.port))
    bad = DirectMessage(1, "a@example.org", "x", subject="Hi\r\nBcc: all@example.org")
    [delivery] = run(send_all(channel, [bad]))
    assert delivery.outcome is Outcome.FAILED
    assert delivery.error == "header 'Subject' of message 1 holds a line break"
    assert server.recorder.messages == []


def test_starttls_required_but_not_offered(server: SmtpServer) -> None:
    channel = EmailChannel(settings(server.port, security="starttls"))
    with pytest.raises(ChannelError) as caught:
        run(channel.open())
    assert str(caught.value) == (
        f"channels.email: 127.0.0.1:{server.port} does not offer STARTTLS; use security = "
        '"ssl", or "none" only for a relay on this machine'
    )


def test_nothing_listening_is_a_clear_error() -> None:
    with smtp_server() as stopped:
        port = stopped.port
    # The server is stopped: nothing listens on that port any more.
    channel = EmailChannel(settings(port))
    with pytest.raises(ChannelError) as caught:
        run(channel.open())
    assert str(caught.value).startswith(f"channels.email: 127.0.0.1:{port}: cannot connect:")
    assert caught.value.retryable is True


def test_login_with_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_SMTP_USER", "relay-user")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-pw")
    with smtp_server(
        authenticator=login_authenticator("relay-user", "s3cret-pw"),
        auth_require_tls=False,  # loopback only
        auth_exclude_mechanism=["LOGIN"],
    ) as server:
        good = EmailChannel(
            settings(server.port, username_env="TEST_SMTP_USER", password_env="TEST_SMTP_PASSWORD")
        )
        [delivery] = run(send_all(good, [message(1, "a@example.org")]))
        assert delivery.outcome is Outcome.SENT
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong-pw")
        bad = EmailChannel(
            settings(server.port, username_env="TEST_SMTP_USER", password_env="TEST_SMTP_PASSWORD")
        )
        with pytest.raises(ChannelError) as caught:
            run(bad.open())
        text = str(caught.value)
        assert text.startswith(
            f"channels.email: 127.0.0.1:{server.port} refused the login from "
            "TEST_SMTP_USER/TEST_SMTP_PASSWORD: 535"
        )
        assert "wrong-pw" not in text and "relay-user" not in text
        monkeypatch.delenv("TEST_SMTP_PASSWORD")
        with pytest.raises(ChannelError) as missing:
            run(bad.open())
        assert str(missing.value) == (
            "channels.email.password_env names the environment variable TEST_SMTP_PASSWORD, "
            "which is not set"
        )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"unsubscribe_url": ""},
            "channels.email: set unsubscribe_url or unsubscribe_mailto; every digest must say "
            "how to leave it",
        ),
        (
            {"unsubscribe_url": "https://example.org/leave"},
            "channels.email.unsubscribe_url: 'https://example.org/leave' must be an http(s) "
            "link holding {token}",
        ),
        (
            {"from_": ""},
            'channels.email.from: set the sender, e.g. "Network <news@example.org>"',
        ),
        (
            {"from_": "a@example.org, b@example.org"},
            "channels.email.from: 'a@example.org, b@example.org' is not one sender address: "
            "give one address, optionally with a name",
        ),
        (
            {"from_": "News <news@example.org>\nBcc: all@example.org"},
            "channels.email.from: 'News <news@example.org>\\nBcc: all@example.org' is not one "
            "sender address: it contains a line break",
        ),
    ],
)
def test_settings_are_checked_before_connecting(changes: dict[str, Any], error: str) -> None:
    channel = EmailChannel(settings(1, **changes))
    with pytest.raises(ChannelError) as caught:
        run(channel.open())
    assert str(caught.value) == error


def test_posts_are_refused_and_publishing_leaves_email_out(
    tmp_path: Path, server: SmtpServer
) -> None:
    channel = EmailChannel(settings(server.port))
    post = Rendered(1, "email", "practice", "p", "text", "key-1")
    delivery = run(channel.send(post))
    assert delivery.outcome is Outcome.FAILED
    assert delivery.error == "the email channel sends digests only; it takes no posts"

    from commsbot.content.items import load_sample
    from commsbot.service.runs import run_once
    from commsbot.store import Store
    from tests.support.base import NOW

    config = load_config(write_config(tmp_path / "commsbot.toml", server.port))
    with Store(config.store.path) as store:
        load_sample(store, NOW)
        summary, jobs = run(run_once(store, config, clock=lambda: NOW))
        by_channel = dict(store.conn.execute("SELECT channel, count(*) FROM posts GROUP BY 1"))
    assert by_channel == {"outbox": 58}
    assert "email" not in summary.outcomes
    assert jobs["send-digests"] == {"2026-W47": "nobody due", "2026-10": "nobody due"}
    assert server.recorder.messages == []


def test_a_server_that_never_answers_the_data_ends_at_the_total_time(
    server: SmtpServer,
) -> None:
    """The message went out and the server is silent (#13): each read waits within
    ``timeout``, the whole within ``total_timeout``; it may have been delivered, so the
    outcome is unknown and it is never sent again blindly."""
    server.recorder.silent_after_data.add("anna@example.org")
    channel = EmailChannel(settings(server.port, timeout=60.0, total_timeout=2.0))
    started = time.monotonic()
    [delivery] = run(send_all(channel, [message(7, "anna@example.org")]))
    took = time.monotonic() - started

    assert delivery.outcome is Outcome.UNKNOWN
    assert "no complete answer within 2 s (channels.email.total_timeout)" in (delivery.error or "")
    assert took < 15, f"took {took:.1f} s"  # not the 60 s of timeout
    assert len(server.recorder.messages) == 1
