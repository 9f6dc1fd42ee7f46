"""The Telegram bot: answers chat users' commands, pages practices, and stores reaction counts.

``TelegramBot`` drives python-telegram-bot's ``Application`` by hand (``initialize``,
``start``, ``updater.start_polling`` and the reverse), so it runs inside any event loop:
the scheduled service's, or its own under ``commsbot bot``. Like every input it only
writes the store: subscriptions, reaction snapshots, and each command's use with a salted
hash of the chat, never the chat's id. The answers themselves come from ``bot_replies``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commsbot.bot.alert_buttons import AlertButtons
from commsbot.bot.fair_share import FairShare, Verdict
from commsbot.bot.replies import COMMANDS, Button, Replies, Reply
from commsbot.channels.base import read_secret
from commsbot.channels.telegram import (
    GROUP_MESSAGES_PER_MINUTE,
    TelegramSettings,
    api_base,
    bot_accounts,
    bot_token,
    connect,
    make_rate_limiter,
    make_request,
    telegram_account,
)
from commsbot.clock import Clock, utcnow
from commsbot.config import Config
from commsbot.content import answers
from commsbot.errors import ConfigError
from commsbot.i18n import DEFAULT, LANGUAGES, speaker
from commsbot.posting.engagement import record_reactions
from commsbot.store import Store  # the handle only: every query is an operation's

if TYPE_CHECKING:
    from telegram import Chat, InlineKeyboardMarkup, Message, Update, User
    from telegram.ext import Application, ContextTypes

    from commsbot.service.jobs import JobContext

log = logging.getLogger("commsbot.bot")

# Telegram sends message_reaction_count only to a bot that asks for it (and is a channel admin).
ALLOWED_UPDATES = ("message", "callback_query", "message_reaction_count")
# In a group, only its administrators change what the whole group receives.
GROUP_ADMIN_COMMANDS = frozenset({"subscribe", "unsubscribe"})
# 128 bits as hexadecimal: a shorter salt could be guessed with the chat ids it hides.
MIN_SALT = 32


def chat_hash(salt: str, chat_id: int) -> str:
    """What bot statistics keep of a chat: a keyed hash, not reversible without the salt."""
    return hmac.new(salt.encode(), str(chat_id).encode(), hashlib.sha256).hexdigest()[:32]


def chat_salt(settings: TelegramSettings, store_path: Path, key: str = "channels.telegram") -> str:
    """The salt of chat hashes, from outside the store: anyone holding a backup could
    otherwise test whether a given Telegram user used the bot.

    From ``salt_env``'s variable, else from ``salt_file`` (default: beside the store, with
    ".salt" added), which is made with a random salt, readable by its owner only, on first use.
    """
    if settings.salt_env:
        return read_secret(settings.salt_env, f"{key}.salt_env")
    path = settings.salt_file or store_path.with_name(store_path.name + ".salt")
    if not path.exists():
        _write_new_salt(path, key)
    try:
        salt = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) else "not ASCII text"
        raise ConfigError(f"{key}.salt_file: {path}: cannot read the salt: {problem}") from None
    if len(salt) < MIN_SALT:
        raise ConfigError(f"{key}.salt_file: {path}: a salt needs {MIN_SALT} characters or more")
    return salt


def _write_new_salt(path: Path, key: str) -> None:
    """A new salt file, whole or not at all: written aside, then linked into place, so that
    two processes starting at once agree on one salt."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process was first: keep its salt
            os.link(partial, path)
    except OSError as exc:
        raise ConfigError(f"{key}.salt_file: {path}: cannot write a salt: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


def _language(user: User | None) -> str | None:
    """The language the user's Telegram app is set to, when Telegram says."""
    return user.language_code if user is not None else None


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in buttons]]
    )


def bot_part(ctx: JobContext, account: str) -> TelegramBot:
    """One bot as a part of the service, on the service's clock: each token's bot is a part
    of its own, started and restarted apart from the others (#16)."""
    return TelegramBot(ctx.config, clock=ctx.clock, account=account)


def telegram_bots(config: Config, *, clock: Clock = utcnow) -> list[TelegramBot]:
    """Every bot of the config, each its own application: an account with a token of its
    own answers its own chat users, who subscribe to that account's digests (#16). With no
    enabled account, the bot of ``bot_account`` (a ConfigError says what is missing)."""
    names: list[str | None] = [*bot_accounts(config)] or [None]
    return [TelegramBot(config, clock=clock, account=name) for name in names]


class TelegramBot:
    """The bot as a component: ``await start()`` inside a running loop, ``await stop()`` later.

    The store is opened in ``start``, so it belongs to the loop's thread.
    """

    def __init__(
        self, config: Config, *, clock: Clock = utcnow, account: str | None = None
    ) -> None:
        self.config = config
        # The account it answers as (``bot_account`` unless given): its subscribers' digests.
        self.account, self.settings = telegram_account(config, account)
        self.key = f"channels.{self.account}"
        # Every account this bot posts for (the same token on the same Bot API server): the
        # reactions in each of their chats belong to that account's posts.
        self._chats = {
            str(s.chat_id): name
            for name, s in config.channels.items()
            if isinstance(s, TelegramSettings)
            and s.chat_id
            and (s.bot_token_env, api_base(s)[0])
            == (self.settings.bot_token_env, api_base(self.settings)[0])
        }
        self.clock = clock
        self.username = ""
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._store: Store | None = None
        self._replies: Replies | None = None
        self._salt = ""
        self._share = FairShare(self.settings.chat_burst, self.settings.chat_per_minute)

    # -- running ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, register the handlers and start long polling; errors are ChannelError."""
        from telegram.ext import ApplicationBuilder

        settings = self.settings
        token = bot_token(settings, self.key)
        base_url, base_file_url = api_base(settings)
        app = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            .request(make_request(settings))
            .get_updates_request(make_request(settings, pool_size=1))
            .rate_limiter(make_rate_limiter(GROUP_MESSAGES_PER_MINUTE))
            .job_queue(None)  # the service schedules; PTB would start an APScheduler of its own
            .build()
        )
        self._add_handlers(app)
        self._app = app
        try:
            self._store = Store(self.config.store.path)
            self._salt = chat_salt(settings, self.config.store.path, self.key)
            self._replies = Replies(self._store, self.config, self.clock, self.account)
            await connect(app.bot, settings, token)
            await app.initialize()
            self.username = app.bot.username
            await self._set_commands(app)
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0,
                timeout=settings.poll_timeout,
                allowed_updates=list(ALLOWED_UPDATES),
            )
        except BaseException:
            await self.stop()
            raise
        log.info("bot @%s is answering", self.username)

    async def stop(self) -> None:
        """Stop polling, let handlers finish, and close the store; safe to call twice."""
        app, self._app = self._app, None
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
            await app.bot.shutdown()  # when start failed before the application was initialized
        if self._store is not None:
            self._store.close()
            self._store = None

    async def _set_commands(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """The command menu users see; a failure here is not worth refusing to start."""
        from telegram.error import TelegramError

        try:
            await app.bot.set_my_commands([(c.name, c.help) for c in COMMANDS if not c.admin])
            # Telegram shows a user the menu of their app's language where the bot set one.
            for language in LANGUAGES:
                if language != DEFAULT:
                    words = speaker(language, self.config.service.templates)
                    await app.bot.set_my_commands(
                        [(c.name, words.gettext(c.help)) for c in COMMANDS if not c.admin],
                        language_code=language,
                    )
        except TelegramError as exc:
            log.warning("could not set the bot's command menu: %s", exc.message)

    def _add_handlers(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        from telegram.ext import (
            CallbackQueryHandler,
            MessageHandler,
            MessageReactionHandler,
            filters,
        )

        app.add_handler(MessageHandler(filters.COMMAND, self.on_command))
        app.add_handler(
            MessageHandler(filters.TEXT & filters.ChatType.PRIVATE & ~filters.COMMAND, self.on_text)
        )
        app.add_handler(AlertButtons(self).handler())
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(
            MessageReactionHandler(
                self.on_reactions,
                message_reaction_types=MessageReactionHandler.MESSAGE_REACTION_COUNT_UPDATED,
            )
        )
        app.add_error_handler(self.on_error)

    def chat_key(self, chat_id: int) -> str:
        """What the store knows a chat by (its chosen language): its salted hash."""
        return chat_hash(self._salt, chat_id)

    @property
    def replies(self) -> Replies:
        assert self._replies is not None, "the bot is not started"
        return self._replies

    @property
    def store(self) -> Store:
        assert self._store is not None, "the bot is not started"
        return self._store

    # -- handlers -----------------------------------------------------------------------

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or not message.text or not message.entities:
            return
        # The command entity is at offset 0 and plain ASCII, so UTF-16 and str indexes agree.
        raw = message.text[: message.entities[0].length]
        name, _, addressee = raw[1:].partition("@")
        if addressee and addressee.lower() != self.username.lower():
            return  # a command for another bot in the same group
        known = any(c.name == name.lower() for c in COMMANDS)
        if chat.type != "private" and not addressee and not known:
            return  # in a group, an unknown bare command is likely another bot's
        # Admin commands only in a private chat: a group would see the outbox.
        admin = chat.type == "private" and user is not None and user.id in self.settings.admins
        # Every reply to this update, the fair share's too, in the chat's language.
        self.replies.speak(chat_hash(self._salt, chat.id), _language(user))
        if not await self._within_share(chat.id):
            return
        in_group = chat.type in ("group", "supergroup")
        if (
            in_group
            and name.lower() in GROUP_ADMIN_COMMANDS
            and not await self._is_group_admin(chat, user, message)
        ):
            self._log_use(name.lower(), chat.id)
            await self._send(chat.id, self.replies.render("group_admins_only"))
            return
        await self._reply(
            chat.id, name, message.text[len(raw) :], admin=admin, user_language=_language(user)
        )

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain text in a private chat: point to /help."""
        chat = update.effective_chat
        if chat is None:
            return
        language = _language(update.effective_user)
        self.replies.speak(chat_hash(self._salt, chat.id), language)
        await self._answer(chat.id, None, "", admin=False, user_language=language)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A page button under a /practices reply: the same message shows the new page."""
        from telegram import LinkPreviewOptions
        from telegram.error import BadRequest

        query = update.callback_query
        if query is None:
            return
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        words = self.replies.speak(chat_hash(self._salt, chat_id), query.from_user.language_code)
        if query.message is not None:
            verdict = self._share.take(query.message.chat.id)
            if verdict is not Verdict.ANSWER:
                if verdict is Verdict.WARN:
                    await query.answer(
                        words.gettext("Too many taps: wait a little, then try again.")
                    )
                return
        reply = self.replies.page(query.data or "")
        if reply is None or query.message is None:
            await query.answer(words.gettext("This button no longer works: send /practices again."))
            return
        self._log_use("practices", query.message.chat.id)
        await query.answer()
        try:
            await query.edit_message_text(
                reply.text,
                parse_mode="HTML",
                reply_markup=keyboard(reply.buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():  # a double tap changes nothing
                raise

    async def on_reactions(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Reaction totals on a channel post, stored as an engagement snapshot of its post."""
        counts = update.message_reaction_count
        account = None if counts is None else self._posting_account(counts.chat)
        if counts is None or account is None:
            return
        total = sum(r.total_count for r in counts.reactions)
        if (
            record_reactions(self.store, account, str(counts.message_id), total, self.clock())
            is None
        ):
            log.debug("reactions on message %s, which commsbot did not post", counts.message_id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        from telegram import Update
        from telegram.error import TelegramError

        log.error("bot: handling an update failed", exc_info=context.error)
        if isinstance(update, Update) and update.message is not None and update.effective_chat:
            words = speaker(_language(update.effective_user), self.config.service.templates)
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(
                    update.effective_chat.id,
                    words.gettext("Sorry, that went wrong. Please try again later."),
                )

    # -- helpers ------------------------------------------------------------------------

    def _posting_account(self, chat: Chat) -> str | None:
        """The account whose channel or group this chat is, of those the bot posts for."""
        for wanted, name in self._chats.items():
            if wanted.startswith("@"):
                if (chat.username or "").lower() == wanted[1:].lower():
                    return name
            elif wanted == str(chat.id):
                return name
        return None

    async def _is_group_admin(self, chat: Chat, user: User | None, message: Message) -> bool:
        """Whether the sender administers the group, as Telegram says now (getChatMember);
        an administrator writing anonymously sends as the group itself."""
        if message.sender_chat is not None:
            return message.sender_chat.id == chat.id
        if user is None:
            return False
        member = await chat.get_member(user.id)
        return member.status in ("creator", "administrator")

    async def _answer(
        self,
        chat_id: int,
        command: str | None,
        args: str,
        *,
        admin: bool,
        user_language: str | None,
    ) -> None:
        if await self._within_share(chat_id):
            await self._reply(chat_id, command, args, admin=admin, user_language=user_language)

    async def _reply(
        self,
        chat_id: int,
        command: str | None,
        args: str,
        *,
        admin: bool,
        user_language: str | None,
    ) -> None:
        logged, reply = self.replies.answer(
            command,
            args,
            str(chat_id),
            admin=admin,
            chat_key=chat_hash(self._salt, chat_id),
            user_language=user_language,
        )
        self._log_use(logged, chat_id)
        await self._send(chat_id, reply)

    async def _within_share(self, chat_id: int) -> bool:
        """Whether to answer this chat now; over its share it is told once, then ignored."""
        verdict = self._share.take(chat_id)
        if verdict is Verdict.WARN:
            seconds = self._share.wait_seconds(chat_id)
            await self._send(chat_id, self.replies.render("slow_down", seconds=seconds))
        return verdict is Verdict.ANSWER

    async def _send(self, chat_id: int, reply: Reply) -> None:
        from telegram import LinkPreviewOptions

        assert self._app is not None
        await self._app.bot.send_message(
            chat_id,
            reply.text,
            parse_mode="HTML",
            reply_markup=keyboard(reply.buttons),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    def _log_use(self, command: str, chat_id: int) -> None:
        answers.log_query(self.store, command, chat_hash(self._salt, chat_id), self.clock())
