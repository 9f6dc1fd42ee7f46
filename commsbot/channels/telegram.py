"""Telegram: channel posts in HTML parse mode, and messages to one chat (digests).

Built on python-telegram-bot, imported inside functions so ``commsbot --help`` stays fast.
Telegram has no idempotency key: a send whose outcome is unknown (no answer in time, or
the connection lost after the request went out) is recorded ``unknown`` and never re-sent
blindly. The Bot API has no call that reads reactions: Telegram pushes their totals to the
bot as ``message_reaction_count`` updates, and ``commsbot.bot`` stores them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from commsbot.channels.base import (
    Action,
    Channel,
    ChannelSettings,
    Delivery,
    DirectMessage,
    Rendered,
    read_secret,
)
from commsbot.errors import ChannelError, ConfigError
from commsbot.text import (
    is_valid_telegram_html,
    split_thread,
    telegram_length,
    telegram_visible,
    utf16_length,
)

if TYPE_CHECKING:
    from telegram import Bot, InlineKeyboardMarkup
    from telegram.ext import AIORateLimiter, ExtBot
    from telegram.request import HTTPXRequest

    from commsbot.config import Config

MAX_TEXT = 4096
MAX_CAPTION = 1024
# Telegram's flood limits: about 30 messages a second per bot, 20 a minute per group or channel.
MESSAGES_PER_SECOND = 30
MAX_DIRECT_PER_SECOND = 1000
GROUP_MESSAGES_PER_MINUTE = 20.0


@dataclass(frozen=True)
class TelegramSettings(ChannelSettings):
    bot_token_env: str = "COMMSBOT_TELEGRAM_TOKEN"
    # Where posts go: "@username", or a numeric id as Telegram shows it (-1001234567890).
    chat_id: str | int = ""
    # Telegram user ids allowed the admin bot commands.
    admins: tuple[int, ...] = ()
    # A self-hosted or test Bot API server, e.g. "http://127.0.0.1:8081/bot" (the token
    # is appended); unset: api.telegram.org.
    base_url: str | None = None
    base_file_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    write_timeout: float = 20.0
    # Seconds one message sent may take, whatever the server does: one
    # trickling its answer a byte at a time gets past read_timeout, not past this.
    total_timeout: float = 60.0
    # Seconds one long poll for bot updates waits on the server.
    poll_timeout: int = 30
    # Posts to the channel per minute; Telegram allows about 20 in a group or channel.
    posts_per_minute: float = GROUP_MESSAGES_PER_MINUTE
    # The salt for hashing chats in bot statistics, never kept in the store (so never in a
    # backup): the environment variable salt_env names, else the file salt_file names
    # (unset: the store's path with ".salt" added), made with a random salt on first use.
    salt_env: str | None = None
    salt_file: Path | None = None
    # Seconds between the parts of a long message to one person: Telegram asks for at
    # most one message a second in a chat.
    part_interval: float = 1.0
    # Messages per second to single chats (digests): Telegram allows a bot about 30.
    direct_per_second: float = 30.0
    # Each chat's fair share of the bot: this many commands at once, then chat_per_minute;
    # over it, one "slow down" reply, then silence (no reply, no stored row).
    chat_burst: int = 8
    chat_per_minute: float = 20.0
    # New subscriptions by /subscribe per hour, all chats together (a chat changing its
    # choices is no new one); over it, a chat is asked to try again later.
    new_subscriptions_per_hour: int = 60

    def check(self) -> str | None:
        """The fair share, the pacing and the rates must let something through."""
        if self.chat_burst < 1:
            return "chat_burst: must be at least 1"
        chat_rate = self.chat_per_minute
        if not 0 < chat_rate <= 3600:  # NaN fails both comparisons
            return f"chat_per_minute: must be above 0 and at most 3600, not {chat_rate:g}"
        if self.new_subscriptions_per_hour < 1:
            return "new_subscriptions_per_hour: must be at least 1"
        per_minute = self.posts_per_minute
        if not 0 < per_minute <= MESSAGES_PER_SECOND * 60:  # NaN fails both comparisons
            return (
                f"posts_per_minute: must be above 0 and at most {MESSAGES_PER_SECOND * 60} "
                f"(Telegram allows about 30 messages a second), not {per_minute:g}"
            )
        direct = self.direct_per_second
        # Above Telegram's 30 only for a Bot API server of one's own that allows more.
        if not 0 < direct <= MAX_DIRECT_PER_SECOND:
            return (
                f"direct_per_second: must be above 0 and at most {MAX_DIRECT_PER_SECOND}, "
                f"not {direct:g}"
            )
        for key in (
            "connect_timeout",
            "read_timeout",
            "write_timeout",
            "total_timeout",
            "part_interval",
        ):
            if not getattr(self, key) > 0:
                return f"{key}: must be more than 0"
        return None


def _telegram_accounts(config: Config) -> list[str]:
    """The Telegram accounts, ``[channels.telegram]`` first, then enabled ones."""
    accounts = [n for n, s in config.channels.items() if s.kind == "telegram"]
    accounts.sort(key=lambda n: (n != "telegram", not config.channels[n].enabled))
    return accounts


def bot_account(config: Config) -> str:
    """The account the bot answers as (its subscribers, its channel's reactions):
    ``[channels.telegram]``, else the first Telegram account, enabled ones first."""
    accounts = _telegram_accounts(config)
    return accounts[0] if accounts else "telegram"


def bot_accounts(config: Config) -> list[str]:
    """One enabled account per bot (a token on its Bot API server): each runs its own bot
    application, and its chat users subscribe to that account's digests (#16). Accounts
    that share a token are one bot, answering as the first of them."""
    bots: dict[tuple[str, str], str] = {}
    for name in _telegram_accounts(config):
        settings = config.channels[name]
        if settings.enabled and isinstance(settings, TelegramSettings):
            bots.setdefault((settings.bot_token_env, api_base(settings)[0]), name)
    return list(bots.values())


def telegram_account(config: Config, name: str | None = None) -> tuple[str, TelegramSettings]:
    """The bot's account (``name``, else ``bot_account``) and its settings."""
    name = name or bot_account(config)
    settings = config.channel(name)
    assert isinstance(settings, TelegramSettings)
    return name, settings


def bot_token(settings: TelegramSettings, key: str) -> str:
    return read_secret(settings.bot_token_env, f"{key}.bot_token_env")


def make_request(settings: TelegramSettings, pool_size: int = 8) -> HTTPXRequest:
    from telegram.request import HTTPXRequest

    # A Bot API URL holds the bot token: httpx logs every request's URL at INFO, and PTB's
    # bot logs its API URL at DEBUG. Neither may reach a log, even with --verbose.
    for name in ("httpx", "httpcore", "telegram.Bot", "telegram.ext.ExtBot"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return HTTPXRequest(
        connection_pool_size=pool_size,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        write_timeout=settings.write_timeout,
        pool_timeout=settings.connect_timeout,
    )


class _PassedOnRateLimit(logging.Filter):
    """Drops PTB's error log (with a traceback) for a 429 it passes on: the caller handles it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Rate limit hit after maximum")


def make_rate_limiter(
    group_per_minute: float, overall_per_second: float = MESSAGES_PER_SECOND
) -> AIORateLimiter:
    """Telegram's limits enforced before Telegram has to: no retries, a 429 is the caller's."""
    from telegram.ext import AIORateLimiter

    ptb_log = logging.getLogger("telegram.ext.AIORateLimiter")
    if not any(isinstance(f, _PassedOnRateLimit) for f in ptb_log.filters):
        ptb_log.addFilter(_PassedOnRateLimit())
    return AIORateLimiter(
        overall_max_rate=overall_per_second,
        overall_time_period=1,
        group_max_rate=group_per_minute,
        group_time_period=60,
        max_retries=0,
    )


def api_base(settings: TelegramSettings) -> tuple[str, str]:
    """The Bot API's base URL and file base URL (the token is appended to both)."""
    return (
        settings.base_url or "https://api.telegram.org/bot",
        settings.base_file_url or "https://api.telegram.org/file/bot",
    )


def redact(text: str, token: str) -> str:
    """A message with the bot token taken out: PTB puts it in some of its errors, in any
    case (it capitalizes a "Bad Request: ..." answer, lowering the rest)."""
    return re.sub(re.escape(token), "<token>", text, flags=re.IGNORECASE) if token else text


async def connect(bot: Bot, settings: TelegramSettings, token: str) -> None:
    """Initialize a bot (its getMe checks the token); a ChannelError that says what is wrong."""
    from telegram import error as tg

    try:
        await bot.initialize()
    except tg.TelegramError as exc:
        await bot.shutdown()
        if isinstance(exc, tg.InvalidToken):
            raise ChannelError(
                f"Telegram rejected the bot token in ${settings.bot_token_env}"
            ) from None
        raise ChannelError(
            f"cannot reach Telegram at {api_base(settings)[0]}: {redact(exc.message, token)}",
            retryable=True,
        ) from None


def retry_after_seconds(exc: Any) -> float:
    """The wait a RetryAfter asks for, in seconds (PTB 22 warns about its int form)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


def _never_sent(exc: BaseException) -> bool:
    """Whether the request failed before it could reach Telegram."""
    import httpx

    return isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def inline_keyboard(rows: tuple[tuple[Action, ...], ...]) -> InlineKeyboardMarkup | None:
    """A message's buttons as Telegram's inline keyboard (None: no buttons)."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(a.label, callback_data=a.data, url=a.url) for a in row]
            for row in rows
        ]
    )


def delivery_for_error(ref: int, exc: Exception, *, to_channel: bool) -> Delivery:
    """What a Telegram error means for one send; never a blind re-send of what may be out."""
    from telegram import error as tg

    if isinstance(exc, tg.RetryAfter):
        wait = retry_after_seconds(exc)
        return Delivery.retry_in(ref, wait, f"Telegram flood control: retry after {wait:g} s")
    if isinstance(exc, tg.InvalidToken):  # its message may hold the token: not shown
        return Delivery.channel_down(ref, "Telegram rejected the bot token")
    if isinstance(exc, tg.Forbidden):
        # In the channel, a 403 means the bot lost its right to post: every post would fail,
        # so the channel stops and the post waits for it. To one person, it means they
        # blocked the bot: no digest reaches them any more.
        if to_channel:
            return Delivery.channel_down(ref, f"Telegram: {exc.message}")
        return Delivery.bounced(ref, f"Telegram: {exc.message}")
    if isinstance(exc, tg.ChatMigrated):
        return Delivery.failed(
            ref, f"Telegram: the group is now chat {exc.new_chat_id}; use that id instead"
        )
    if isinstance(exc, tg.BadRequest):
        return Delivery.failed(ref, f"Telegram: {exc.message}")
    if isinstance(exc, tg.NetworkError):  # TimedOut included
        if exc.__cause__ is None:
            # Telegram answered with a server error: nothing was published.
            return Delivery.retry_later(ref, f"Telegram: {exc.message}")
        if _never_sent(exc):
            return Delivery.retry_later(ref, f"cannot reach Telegram: {exc.message}")
        return Delivery.unknown(
            ref,
            f"no answer from Telegram ({exc.message}); it may have been delivered: "
            "check before retrying",
        )
    if isinstance(exc, tg.TelegramError):
        return Delivery.failed(ref, f"Telegram: {exc.message}")
    raise exc


class TelegramChannel(Channel):
    """Posts to one Telegram channel or group; sends digests to single chats."""

    kind = "telegram"
    markup = "html"
    sends_direct = True
    counts_audience = True
    # One bot may post to several chats: the account is the bot and the chat together.
    account_keys = ("bot_token_env", "chat_id")
    max_length = MAX_TEXT
    rate_per_second = GROUP_MESSAGES_PER_MINUTE / 60
    # Digest fan-out may have this many messages in flight: PTB's client is safe to share.
    concurrency: ClassVar[int] = 8
    Settings: ClassVar[type[ChannelSettings]] = TelegramSettings

    def __init__(self, settings: ChannelSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        assert isinstance(settings, TelegramSettings)
        self.telegram = settings
        self.rate_per_second = settings.posts_per_minute / 60
        self._bot: ExtBot[int] | None = None
        self._token = ""

    def length(self, text: str) -> int:
        return telegram_length(text)

    def visible(self, text: str) -> str:
        return telegram_visible(text)

    def direct_rate(self) -> float:
        return self.telegram.direct_per_second

    def rate_group(self) -> tuple[str, float]:
        # Telegram counts about 30 messages a second per bot, whichever chats they go to.
        base_url, _ = api_base(self.telegram)
        return f"telegram bot ${self.telegram.bot_token_env} at {base_url}", self.direct_rate()

    async def open(self) -> None:
        from telegram.ext import ExtBot

        settings = self.telegram
        try:
            if not settings.chat_id:
                raise ConfigError(f"{self.key}.chat_id is not set: the channel or group to post to")
            token = bot_token(settings, self.key)
        except ConfigError as exc:
            raise ChannelError(str(exc)) from None
        base_url, base_file_url = api_base(settings)
        bot: ExtBot[int] = ExtBot(
            token,
            base_url=base_url,
            base_file_url=base_file_url,
            request=make_request(settings),
            rate_limiter=make_rate_limiter(settings.posts_per_minute, settings.direct_per_second),
        )
        try:
            async with asyncio.timeout(settings.total_timeout):
                await connect(bot, settings, token)
        except TimeoutError:
            raise ChannelError(
                f"no complete answer from Telegram at {base_url} within "
                f"{settings.total_timeout:g} s (see {self.key}.total_timeout)",
                retryable=True,
            ) from None
        self._bot = bot
        self._token = token

    async def close(self) -> None:
        if self._bot is not None:
            bot, self._bot = self._bot, None
            await bot.shutdown()

    async def describe(self) -> dict[str, str]:
        """The bot, and the chat it posts to as Telegram shows it to the bot."""
        from telegram.error import TelegramError

        bot = self._require_bot()
        chat_id = self.telegram.chat_id
        try:
            chat = await bot.get_chat(chat_id)
            members = await bot.get_chat_member_count(chat.id)
        except TelegramError as exc:
            raise ChannelError(
                f"Telegram about {self.key}.chat_id {chat_id!r}: {redact(exc.message, self._token)}"
            ) from None
        return {
            "bot": f"@{bot.username}",
            "chat": f"{chat.title or chat.username or chat_id} ({chat.type}, id {chat.id})",
            "members": str(members),
            "limit": f"{MAX_TEXT} characters, {MAX_CAPTION} as an image caption (UTF-16 units)",
            "posting": f"at most {self.telegram.posts_per_minute:g} posts a minute, HTML",
        }

    async def audience_size(self) -> int:
        """The channel's members, as getChatMemberCount tells the bot now."""
        from telegram.error import TelegramError

        if self._bot is None:
            await self.open()
        try:
            async with asyncio.timeout(self.telegram.total_timeout):
                return int(await self._require_bot().get_chat_member_count(self.telegram.chat_id))
        except TimeoutError:
            raise ChannelError(
                f"Telegram member count of {self.telegram.chat_id!r}: no complete answer within "
                f"{self.telegram.total_timeout:g} s (see {self.key}.total_timeout)",
                retryable=True,
            ) from None
        except TelegramError as exc:
            raise ChannelError(
                f"Telegram member count of {self.telegram.chat_id!r}: "
                f"{redact(exc.message, self._token)}"
            ) from None

    def _failed(self, ref: int, exc: Exception, *, to_channel: bool) -> Delivery:
        delivery = delivery_for_error(ref, exc, to_channel=to_channel)
        return dataclasses.replace(delivery, error=redact(delivery.error or "", self._token))

    def _overtime(self) -> str:
        return (
            f"no complete answer from Telegram within {self.telegram.total_timeout:g} s "
            f"(see {self.key}.total_timeout); it may have been delivered: check before retrying"
        )

    def _require_bot(self) -> ExtBot[int]:
        if self._bot is None:
            raise ChannelError("the telegram channel is not open")
        return self._bot

    async def send(self, post: Rendered) -> Delivery:
        bot = self._require_bot()
        if not is_valid_telegram_html(post.text):
            return Delivery.failed(
                post.post_id,
                "the text is not valid Telegram HTML: templates for Telegram live under "
                "templates/telegram/ (where values are escaped), and an edited text writes "
                "&amp; for &, &lt; for <",
            )
        photo: str | bytes | None = None
        if post.image and telegram_length(post.text) <= MAX_CAPTION:
            if post.image.startswith(("http://", "https://")):
                photo = post.image  # Telegram fetches it
            else:
                try:
                    photo = Path(post.image).expanduser().read_bytes()
                except OSError as exc:
                    return Delivery.failed(post.post_id, f"image {post.image}: {exc.strerror}")
        try:
            async with asyncio.timeout(self.telegram.total_timeout):
                if photo is not None:
                    message = await bot.send_photo(
                        self.telegram.chat_id, photo, caption=post.text, parse_mode="HTML"
                    )
                else:
                    message = await bot.send_message(
                        self.telegram.chat_id, post.text, parse_mode="HTML"
                    )
        except TimeoutError:
            return Delivery.unknown(post.post_id, self._overtime())
        except Exception as exc:
            return self._failed(post.post_id, exc, to_channel=True)
        return Delivery.sent(post.post_id, str(message.message_id), message.link)

    async def send_direct(self, message: DirectMessage) -> Delivery:
        """The HTML when it is Telegram HTML that fits one message (an e-mail's HTML is not);
        else the plain text, split into several messages if long.

        Parts already delivered are never sent again: a later part failing makes the
        delivery ``unknown`` for the officer to look at.
        """
        bot = self._require_bot()
        html = message.html
        if html and telegram_length(html) <= MAX_TEXT and is_valid_telegram_html(html):
            parts, mode = [html], "HTML"
        else:
            parts = split_thread(message.text, MAX_TEXT, counter=utf16_length, numbering=False)
            mode = None
        first: str | None = None
        for number, part in enumerate(parts, 1):
            if first is not None:
                await asyncio.sleep(self.telegram.part_interval)
            markup = inline_keyboard(message.actions) if number == len(parts) else None
            try:
                async with asyncio.timeout(self.telegram.total_timeout):
                    sent = await bot.send_message(
                        message.recipient, part, parse_mode=mode, reply_markup=markup
                    )
            except Exception as exc:
                outcome = (
                    Delivery.unknown(message.ref, self._overtime())
                    if isinstance(exc, TimeoutError)
                    else self._failed(message.ref, exc, to_channel=False)
                )
                if first is None:
                    return outcome
                return Delivery.unknown(
                    message.ref,
                    f"part {number} of {len(parts)} not sent: {outcome.error}",
                    remote_id=first,
                )
            first = first or str(sent.message_id)
        return Delivery.sent(message.ref, first)
