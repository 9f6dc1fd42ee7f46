"""E-mail digests through smtplib: one SMTP connection for the whole fan-out.

smtplib is synchronous, so every exchange runs in a worker thread. The connection opened
in ``open`` is reused for every message and closed in ``close``; if the server dropped it
between two messages, the channel reconnects once. The outcome of each message follows
what the server said, at the step it said it:

- 2xx after the data: ``sent``;
- 4xx anywhere: ``retry`` (greylisting, a full mailbox, throttling);
- 5xx to RCPT: ``failed`` and ``bounced`` (the address is skipped from then on); 5xx to
  MAIL or to the data: ``failed`` only (a sender or content problem is not the address's);
- the connection lost or timed out after the data went out: ``unknown`` (the server may
  have accepted it; never re-sent blindly); lost before that: reconnect and try once more.

E-mail takes no ordinary posts: it is left out of publishing (``takes_posts``), and a post
handed to it anyway fails with a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import getaddresses
from typing import TYPE_CHECKING, ClassVar, Literal
from urllib.parse import quote

from commsbot.channels.base import (
    Channel,
    ChannelSettings,
    Delivery,
    DirectMessage,
    Rendered,
    read_secret,
)
from commsbot.deadline import current, open_socket, within
from commsbot.errors import ChannelError, ConfigError, ContentError

if TYPE_CHECKING:
    import smtplib
    import socket

ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class EmailSettings(ChannelSettings):
    smtp_host: str = "localhost"
    smtp_port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: str | None = None
    password_env: str | None = None
    from_: str = ""
    # Seconds for each exchange with the server; a whole message (a reconnection
    # included) ends within total_timeout, whatever the server does.
    timeout: float = 30.0
    total_timeout: float = 120.0
    # Where a subscriber leaves in one step; {token} is replaced by their token.
    unsubscribe_url: str = ""
    # Or an address that takes "unsubscribe TOKEN" mails; both may be given.
    unsubscribe_mailto: str = ""
    # Messages per second; 0 means as fast as the server answers.
    max_per_second: float = 10.0


@dataclass(frozen=True)
class Unsubscribe:
    """How one subscriber leaves: the link shown in the message, and the headers."""

    url: str
    headers: dict[str, str]


class _Dropped(Exception):
    """The connection went away before any message data was sent: safe to try again."""


class EmailChannel(Channel):
    kind = "email"
    sends_direct = True
    account_keys = ("smtp_host", "smtp_port", "username_env", "from_")
    max_length = 1_000_000
    rate_per_second = 10.0
    # Two in flight: one message is built while the other is on the wire. The connection
    # itself carries one transaction at a time (a lock), so it is still one connection.
    concurrency = 2
    takes_posts = False
    Settings: ClassVar[type[ChannelSettings]] = EmailSettings

    def __init__(self, settings: ChannelSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        assert isinstance(settings, EmailSettings)
        self.config = settings
        self._smtp: smtplib.SMTP | None = None
        self._login: tuple[str, str] | None = None
        self._wire = threading.Lock()

    def rate(self) -> float:
        per_second = self.config.max_per_second
        return math.inf if per_second <= 0 else per_second

    # -- settings ------------------------------------------------------------

    def sender(self) -> str:
        """The From address, checked: one address, no header tricks."""
        from commsbot.text.addresses import normalize_email

        raw = self.config.from_
        if not raw:
            raise ChannelError(
                f'{self.key}.from: set the sender, e.g. "Network <news@example.org>"'
            )
        found = getaddresses([raw])
        address = found[0][1] if len(found) == 1 else ""
        try:
            if "\r" in raw or "\n" in raw:
                raise ContentError("it contains a line break")
            if not address:
                raise ContentError("give one address, optionally with a name")
            normalize_email(address)
        except ContentError as exc:
            raise ChannelError(
                f"{self.key}.from: {raw!r} is not one sender address: {exc}"
            ) from None
        return address

    def unsubscribe(self, token: str) -> Unsubscribe:
        """The unsubscribe link for a token, and the List-Unsubscribe headers (RFC 2369/8058)."""
        links = []
        if self.config.unsubscribe_url:
            links.append(self.config.unsubscribe_url.replace("{token}", quote(token, safe="")))
        if self.config.unsubscribe_mailto:
            subject = quote(f"unsubscribe {token}")
            links.append(f"mailto:{self.config.unsubscribe_mailto}?subject={subject}")
        if not links:
            return Unsubscribe(f"(no unsubscribe link: set {self.key}.unsubscribe_url)", {})
        headers = {"List-Unsubscribe": ", ".join(f"<{link}>" for link in links)}
        # One-click (RFC 8058) is only defined for an HTTPS link.
        if links[0].startswith("https://"):
            headers["List-Unsubscribe-Post"] = ONE_CLICK
        return Unsubscribe(links[0], headers)

    def check(self) -> None:
        """Refuse settings that would send a message nobody can leave, or from nowhere."""
        from commsbot.text.addresses import normalize_email

        self.sender()
        for key in ("timeout", "total_timeout"):
            if getattr(self.config, key) <= 0:
                raise ChannelError(f"{self.key}.{key}: must be more than 0")
        url = self.config.unsubscribe_url
        if not url and not self.config.unsubscribe_mailto:
            raise ChannelError(
                f"{self.key}: set unsubscribe_url or unsubscribe_mailto; every digest must say "
                "how to leave it"
            )
        if url and (not url.startswith(("https://", "http://")) or "{token}" not in url):
            raise ChannelError(
                f"{self.key}.unsubscribe_url: {url!r} must be an http(s) link holding {{token}}"
            )
        if self.config.unsubscribe_mailto:
            try:
                normalize_email(self.config.unsubscribe_mailto)
            except ContentError as exc:
                raise ChannelError(f"{self.key}.unsubscribe_mailto: {exc}") from None

    # -- connection ----------------------------------------------------------

    async def open(self) -> None:
        self.check()
        user_env, password_env = self.config.username_env, self.config.password_env
        if user_env or password_env:
            if not (user_env and password_env):
                raise ChannelError(
                    f"{self.key}: set both username_env and password_env, or neither"
                )
            try:
                self._login = (
                    read_secret(user_env, f"{self.key}.username_env"),
                    read_secret(password_env, f"{self.key}.password_env"),
                )
            except ConfigError as exc:  # said as the channel's problem: it is left out
                raise ChannelError(str(exc)) from None
        await asyncio.to_thread(within, self.config.total_timeout, self._connect)

    async def close(self) -> None:
        def quit_politely() -> None:
            with self._wire:
                self._watch()
                self._disconnect(polite=True)

        await asyncio.to_thread(within, self.config.total_timeout, quit_politely)

    def _why(self, exc: Exception) -> str:
        """What ended an exchange: the call's total time, or what the socket said."""
        deadline = current()
        if deadline is not None and deadline.expired:
            seconds = self.config.total_timeout
            return f"no complete answer within {seconds:g} s ({self.key}.total_timeout)"
        return str(exc)

    def _watch(self) -> None:
        """Let the current call's deadline end the open connection too."""
        deadline = current()
        if deadline is not None and self._smtp is not None and self._smtp.sock is not None:
            deadline.watch(self._smtp.sock)

    def _where(self) -> str:
        return f"{self.key}: {self.config.smtp_host}:{self.config.smtp_port}"

    def _connect(self) -> smtplib.SMTP:
        import smtplib
        import ssl

        cfg = self.config
        smtp: smtplib.SMTP | None = None
        try:
            if cfg.security == "ssl":
                smtp = _smtp_classes()[1](
                    cfg.smtp_host,
                    cfg.smtp_port,
                    timeout=cfg.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = _smtp_classes()[0](cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout)
            smtp.ehlo()
            if cfg.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ChannelError(
                        f'{self._where()} does not offer STARTTLS; use security = "ssl", or '
                        '"none" only for a relay on this machine'
                    )
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self._login is not None:
                smtp.login(*self._login)
        except smtplib.SMTPAuthenticationError as exc:
            self._abandon(smtp)
            raise ChannelError(
                f"{self._where()} refused the login from {cfg.username_env}/{cfg.password_env}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except ChannelError:
            self._abandon(smtp)
            raise
        except (OSError, smtplib.SMTPException) as exc:
            self._abandon(smtp)
            raise ChannelError(
                f"{self._where()}: cannot connect: {self._why(exc)}", retryable=True
            ) from None
        self._smtp = smtp
        return smtp

    @staticmethod
    def _abandon(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.close()

    def _disconnect(self, polite: bool = False) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if polite:
            with contextlib.suppress(Exception):
                smtp.quit()
        self._abandon(smtp)

    # -- sending -------------------------------------------------------------

    async def send(self, post: Rendered) -> Delivery:
        return Delivery.failed(
            post.post_id, "the email channel sends digests only; it takes no posts"
        )

    async def send_direct(self, message: DirectMessage) -> Delivery:
        return await asyncio.to_thread(within, self.config.total_timeout, self._send_sync, message)

    def build(self, message: DirectMessage) -> bytes:
        """The message as it goes on the wire: multipart text + HTML, with its headers."""
        from email.message import EmailMessage
        from email.policy import SMTP
        from email.utils import formatdate, make_msgid

        sender = self.sender()
        headers = {
            "From": self.config.from_,
            "To": message.recipient,
            "Subject": message.subject or "",
            **message.headers,
        }
        for key, value in headers.items():
            if any(c in value for c in "\r\n") or any(c in key for c in "\r\n:"):
                raise ChannelError(f"header {key!r} of message {message.ref} holds a line break")
        # Bodies are encoded 7-bit safe (quoted-printable or base64, 76-character lines),
        # so no server needs 8BITMIME.
        msg = EmailMessage(policy=SMTP.clone(cte_type="7bit"))
        # Content-* headers (Content-Language) go on after the body: set_content drops them.
        content = {k: v for k, v in headers.items() if k.lower().startswith("content-")}
        for key, value in headers.items():
            if key not in content:
                msg[key] = value
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(
            idstring=f"digest-{message.ref}", domain=sender.rpartition("@")[2]
        )
        msg.set_content(message.text)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
        for key, value in content.items():
            msg[key] = value
        # Headers are written up to RFC 5322's 998 characters a line: folded at 78, a long
        # unsubscribe link would be turned into encoded-words no mail client can use.
        return msg.as_bytes(policy=SMTP.clone(cte_type="7bit", max_line_length=998))

    def _send_sync(self, message: DirectMessage) -> Delivery:
        ref = message.ref
        try:
            payload = self.build(message)
        except ChannelError as exc:
            return Delivery.failed(ref, str(exc))
        with self._wire:
            self._watch()
            for attempt in (1, 2):
                try:
                    smtp = self._smtp or self._connect()
                except ChannelError as exc:
                    return Delivery.channel_down(ref, str(exc))
                try:
                    return self._transact(smtp, message.recipient, payload, ref)
                except _Dropped as exc:
                    self._disconnect()
                    if attempt == 2:
                        return Delivery.channel_down(ref, str(exc))
        raise AssertionError("unreachable")  # pragma: no cover

    def _transact(self, smtp: smtplib.SMTP, recipient: str, payload: bytes, ref: int) -> Delivery:
        """One MAIL/RCPT/DATA exchange; raises _Dropped when nothing was sent yet."""
        import smtplib

        def step(name: str, call: Callable[[], tuple[int, bytes]]) -> tuple[int, str]:
            try:
                code, text = call()
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                raise _Dropped(
                    f"{self._where()}: connection lost at {name}: {self._why(exc)}"
                ) from None
            if code == 421:  # the server is closing the connection: nothing was accepted
                raise _Dropped(f"{self._where()}: {name}: 421 {_text(text)}")
            return code, _text(text)

        code, text = step("MAIL", lambda: smtp.mail(self.sender()))
        if code >= 300:
            self._reset(smtp)
            # The sender is refused: no other address will do better, so stop the channel.
            return _rejected(ref, "MAIL", code, text, channel_down=code >= 500)
        code, text = step("RCPT", lambda: smtp.rcpt(recipient))
        if code >= 300:
            self._reset(smtp)
            return _rejected(ref, "RCPT", code, text, bounced=code >= 500)
        try:
            code, raw = smtp.data(payload)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing went out
            self._reset(smtp)
            return _rejected(ref, "DATA", exc.smtp_code, _text(exc.smtp_error))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._disconnect()
            return Delivery.unknown(
                ref,
                f"{self._where()}: connection lost after the message data was sent "
                f"({self._why(exc)}); it may have been delivered, so it is not sent again",
            )
        if 200 <= code < 300:
            return Delivery.sent(ref, _text(raw)[:200] or None)
        self._reset(smtp)
        return _rejected(ref, "end of data", code, _text(raw))

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """RSET after a refusal so the next message starts clean; a dead link is dropped."""
        try:
            smtp.rset()
        except Exception:
            self._disconnect()


def _smtp_classes() -> tuple[type[smtplib.SMTP], type[smtplib.SMTP_SSL]]:
    """smtplib's clients, connecting through ``commsbot.deadline``: the name resolved and
    the socket watched by the current call's deadline (TLS handshake included)."""
    import smtplib

    class Bounded(smtplib.SMTP):
        def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
            return open_socket(host, port, timeout, current())

    class BoundedSSL(smtplib.SMTP_SSL):
        def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
            sock = open_socket(host, port, timeout, current())
            return self.context.wrap_socket(sock, server_hostname=host)

    return Bounded, BoundedSSL


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _rejected(
    ref: int,
    step: str,
    code: int,
    text: str,
    *,
    bounced: bool = False,
    channel_down: bool = False,
) -> Delivery:
    error = f"SMTP {step}: {code} {text}".strip()
    if 400 <= code < 500:
        return Delivery.retry_later(ref, error)
    if channel_down:
        return Delivery.channel_down(ref, error)
    if bounced:
        return Delivery.bounced(ref, error)
    return Delivery.failed(ref, error)
