"""The Approve / Edit / Cancel buttons under an alert about a post waiting for approval.

Pressing one is an admin command like ``/approve``: the presser must be one of the bot
account's ``admins`` (callback data can be forged by any client, so the button itself
proves nothing), the change goes through ``posting.queue`` with the presser in the post's
audit trail (``telegram:USER_ID``), and the answer says what happened. The buttons then
leave the message, so a second tap cannot act again.

Edit links to the post's page in the console when ``[web] base_url`` is set (a URL
button: the console has the editor with live previews); without a console, the Edit
button answers with the ``commsbot queue edit`` command to run.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from commsbot.errors import CommsbotError
from commsbot.i18n import Speaker

if TYPE_CHECKING:
    from telegram import CallbackQuery, Update
    from telegram.ext import ContextTypes

    from commsbot.bot.app import TelegramBot

log = logging.getLogger("commsbot.bot")

PREFIX = "alert:"
ACTIONS = ("approve", "edit", "cancel")
# Matched before the /practices page buttons' handler sees the query.
PATTERN = r"^alert:"
_DATA_RE = re.compile(r"alert:(approve|edit|cancel):([1-9]\d{0,17})")


def button_data(action: str, post_id: int) -> str:
    """The callback data of one button (Telegram allows 64 bytes)."""
    assert action in ACTIONS
    return f"{PREFIX}{action}:{post_id}"


def parse(data: str) -> tuple[str, int] | None:
    """(action, post id) of an alert button's data, or None for anything else."""
    match = _DATA_RE.fullmatch(data)
    return (match.group(1), int(match.group(2))) if match else None


def actor(user_id: int) -> str:
    """Who the audit trail says acted: the Telegram user, as the console names its users."""
    return f"telegram:{user_id}"


class AlertButtons:
    """The callback handler for alert buttons, for one running bot."""

    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot

    def handler(self) -> Any:
        from telegram.ext import CallbackQueryHandler

        return CallbackQueryHandler(self.on_press, pattern=PATTERN)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        words = self.bot.replies.speak(self.bot.chat_key(user.id), user.language_code)
        parsed = parse(query.data or "")
        admin = user.id in self.bot.settings.admins
        in_private = query.message is None or query.message.chat.type == "private"
        if not admin or not in_private:
            log.warning("alert button %r refused: user %s is not an admin", query.data, user.id)
            await query.answer(words.gettext("Only the bot's admins can do that."), show_alert=True)
            return
        if parsed is None:
            await query.answer(words.gettext("This button no longer works."))
            return
        action, post_id = parsed
        await query.answer(self.act(action, post_id, user.id, words), show_alert=True)
        if action != "edit":
            await self._drop_buttons(query, post_id)

    def act(self, action: str, post_id: int, user_id: int, words: Speaker) -> str:
        """Do what the button says; the sentence that answers the admin."""
        from commsbot.posting import queue as queue_ops
        from commsbot.posting.placement import approval_time

        store, config, now = self.bot.store, self.bot.config, self.bot.clock()
        try:
            if action == "edit":
                return words.gettext(
                    "Edit post %(post)s with: commsbot queue edit %(post)s --text …",
                    post=post_id,
                )
            post = queue_ops.require_post(store, post_id)
            if action == "approve":
                when = approval_time(store, config, post, now)
                done = queue_ops.approve(store, post_id, now, not_before=when, actor=actor(user_id))
                return words.gettext(
                    "Approved: post %(post)s goes out %(when)s.",
                    post=post_id,
                    when=self.bot.replies.local(done["not_before"]),
                )
            queue_ops.cancel(store, post_id, now, actor=actor(user_id))
            return words.gettext("Cancelled: post %(post)s.", post=post_id)
        except CommsbotError as exc:
            return words.gettext(
                "Post %(post)s was not changed: %(problem)s", post=post_id, problem=words.say(exc)
            )

    async def _drop_buttons(self, query: CallbackQuery, post_id: int) -> None:
        """The message keeps its text and loses the post's row of buttons: it is decided
        (a summary keeps the rows of the other posts)."""
        from telegram import InlineKeyboardMarkup
        from telegram.error import BadRequest

        message = query.message
        markup = getattr(message, "reply_markup", None)
        rows = markup.inline_keyboard if markup is not None else ()
        mine = {button_data(a, post_id) for a in ACTIONS}
        kept = [row for row in rows if not any(b.callback_data in mine for b in row)]
        try:
            await query.edit_message_reply_markup(InlineKeyboardMarkup(kept) if kept else None)
        except BadRequest as exc:  # a message too old to edit keeps its buttons
            log.info("alert buttons not removed: %s", exc.message)
