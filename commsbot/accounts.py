"""Which accounts take an item: each account's filters (``cities``, ``themes``,
``content_types``, ``languages``, ``feeds``), decided the same way for publishing,
``preview`` and ``queue add``.

An empty filter takes everything; a filter that is set takes only items that have a
matching value, so a newsletter (no city) does not pass a ``cities`` filter and a
practice (not from a feed) does not pass a ``feeds`` filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commsbot.config import ChannelSettings


def refusal(
    settings: ChannelSettings, item_type: str, item: Mapping[str, Any], feed_url: str | None
) -> str | None:
    """Which filter of an account keeps an item out ("cities: not vilnius"), or None when
    the account takes it."""
    checks = (
        ("content_types", item_type),
        ("cities", item.get("city")),
        ("themes", item.get("theme")),
        ("languages", item.get("language")),
        ("feeds", feed_url),
    )
    for name, value in checks:
        wanted = getattr(settings, name)
        if wanted and value not in wanted:
            return f"{name}: not {value}" if value else f"{name}: it has none"
    return None


def takers(
    accounts: Mapping[str, ChannelSettings],
    item_type: str,
    item: Mapping[str, Any],
    feed_url: str | None = None,
) -> list[str]:
    """The accounts (of those given) that take an item."""
    return [n for n, s in accounts.items() if refusal(s, item_type, item, feed_url) is None]
