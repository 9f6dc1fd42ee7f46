"""What the Telegram bot answers chat users from: published content read for a chat, the
chat's language, and the record of what was asked (the bot's statistics).

These are the bot's operations, as ``posting.queue`` is the CLI's for the queue: the bot
holds no queries of its own (#15), so another input asking the same reuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store
from commsbot.store import answers as answers_q
from commsbot.store import audience as audience_q
from commsbot.store import content as content_q
from commsbot.store import translations as translations_q


def places_rows(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The cities' and themes' rows, in order (the bot indexes them again on a change)."""
    return content_q.cities(store), content_q.themes(store)


def published_practice(store: Store, slug: str) -> dict[str, Any] | None:
    """The practice with this slug if it is published; None otherwise."""
    item = content_q.get_item(store, "practice", slug)
    return item if item is not None and item["status"] == "published" else None


def practices_page(
    store: Store, city: str | None, theme: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of published practices (of a city, a theme) and how many there are."""
    return answers_q.practices_page(store, city, theme, limit, offset)


def search_practices(
    store: Store, words: str, limit: int, cities: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Published practices matching the words (full text), of the cities if given."""
    return answers_q.search_practices(store, words, limit, cities)


def practice_counts(store: Store, column: str) -> dict[str, int]:
    """Published practices per city or per theme."""
    return answers_q.practice_counts(store, column)


def events(store: Store, today: str, *, upcoming: bool, limit: int) -> list[dict[str, Any]]:
    """Published events from ``today`` on (upcoming) or before it (past)."""
    return answers_q.events(store, today, upcoming=upcoming, limit=limit)


def outcomes(store: Store, limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Events with a reported outcome, newest first, and the network's totals."""
    return answers_q.outcomes(store, limit)


def latest_newsletter(store: Store) -> dict[str, Any] | None:
    """The newest published newsletter, if any."""
    return answers_q.latest_newsletter(store)


def translations(
    store: Store, item_type: str, item_ids: Sequence[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    """item id -> language -> its translated fields, for the items that have any."""
    return translations_q.of_items(store, item_type, item_ids)


def chat_language(store: Store, chat_key: str) -> str | None:
    """The language a chat chose with /language, if it chose one."""
    return translations_q.chat_language(store, chat_key)


def set_chat_language(store: Store, chat_key: str, language: str, now: datetime) -> None:
    """Answer this chat in ``language`` from now on."""
    translations_q.set_chat_language(store, chat_key, language, now)


def log_query(store: Store, command: str, chat_key: str, now: datetime) -> None:
    """Count one command of one (hashed) chat, for the bot's statistics."""
    audience_q.log_bot_query(store, command, chat_key, now)
