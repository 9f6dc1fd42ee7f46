"""Selection: what is due, decided by state in the store, never by a time window.

After downtime, whatever was not yet posted is still due.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commsbot.store import Store
from commsbot.store import content as content_q
from commsbot.store import posts as posts_q


@dataclass
class Lookup:
    """Cities and themes by slug, loaded once per run for rendering."""

    cities: dict[str, dict[str, Any]] = field(default_factory=dict)
    themes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store) -> Lookup:
        return cls(
            {c["slug"]: c for c in content_q.cities(store)},
            {t["slug"]: t for t in content_q.themes(store)},
        )

    def context(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "item": item,
            "city": self.cities.get(item.get("city") or ""),
            "theme": self.themes.get(item.get("theme") or ""),
        }


def new_content(
    store: Store, channels: list[str], types: tuple[str, ...]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(channel, type, item) for every published item a channel has no post for."""
    for channel in channels:
        for item_type in types:
            for item in content_q.unposted(store, item_type, channel):
                yield channel, item_type, item


def claim(store: Store, channel: str, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Due posts of a channel, marked ``sending`` before anything goes out."""
    return posts_q.claim_due(store, channel, now, limit)
