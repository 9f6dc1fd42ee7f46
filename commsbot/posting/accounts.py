"""Which accounts take an item: each account's filters (``cities``, ``themes``,
``content_types``, ``languages``, ``feeds``), decided the same way for publishing,
``preview`` and ``queue add``.

An empty filter takes everything; a filter that is set takes only items that have a
matching value, so a newsletter (no city) does not pass a ``cities`` filter and a
practice (not from a feed) does not pass a ``feeds`` filter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from commsbot.channels.base import ChannelSettings


def refusal(
    settings: ChannelSettings,
    item_type: str,
    item: Mapping[str, Any],
    feed_url: str | None,
    translated: Collection[str] = (),
) -> str | None:
    """Which filter of an account keeps an item out ("cities: not vilnius"), or None when
    the account takes it. ``translated``: the languages the item has translations in; an
    item in none of the account's ``languages`` is kept out only with
    ``missing_translation = "skip"`` (else the original goes, or waits for approval)."""
    checks = (
        ("content_types", item_type),
        ("cities", item.get("city")),
        ("themes", item.get("theme")),
        ("feeds", feed_url),
    )
    for name, value in checks:
        wanted = getattr(settings, name)
        if wanted and value not in wanted:
            return f"{name}: not {value}" if value else f"{name}: it has none"
    if settings.languages and settings.missing_translation == "skip":
        have = {item.get("language"), *translated}
        if not have & set(settings.languages):
            value = item.get("language")
            return f"languages: not {value}" if value else "languages: it has none"
    return None


# The filters ``refusal`` reads; an account that sets none of them takes every item.
FILTERS = ("content_types", "cities", "themes", "feeds", "languages")


def takes_all(settings: ChannelSettings) -> bool:
    """Whether an account sets no filter, so that ``refusal`` is None for every item."""
    return not any(getattr(settings, name) for name in FILTERS)


def announcement_refusals(
    accounts: Mapping[str, ChannelSettings],
    language: str | None = None,
    translated: Collection[str] = (),
) -> dict[str, str | None]:
    """Per account, why it does not take an announcement by default (None: it does).

    An announcement has no city, theme or feed: an account filtering by those takes one
    only when it is named (``queue add --channel``); one posting only in some languages
    takes it when it is written or translated in one (``language``, ``translated``)."""
    item = {"language": language} if language else {}
    return {
        name: refusal(settings, "announcement", item, None, translated)
        for name, settings in accounts.items()
    }


def takers(
    accounts: Mapping[str, ChannelSettings],
    item_type: str,
    item: Mapping[str, Any],
    feed_url: str | None = None,
) -> list[str]:
    """The accounts (of those given) that take an item."""
    return [n for n, s in accounts.items() if refusal(s, item_type, item, feed_url) is None]
