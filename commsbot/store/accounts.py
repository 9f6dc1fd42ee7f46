"""Accounts that have posted: each channel's name and platform kind, kept after the
account leaves the config, so its history keeps its platform."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso


def remember(store: Store, kinds: Mapping[str, str], now: datetime) -> None:
    """Note the accounts in use (name -> kind); a name given a new kind takes it."""
    stamp = iso(now)
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO accounts (name, kind, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, "
            "last_seen_at = excluded.last_seen_at",
            [(name, kind, stamp, stamp) for name, kind in kinds.items()],
        )


def known(store: Store) -> dict[str, dict[str, Any]]:
    """Every account the store has seen, by name."""
    return {r["name"]: r for r in store.rows("SELECT * FROM accounts ORDER BY name")}
