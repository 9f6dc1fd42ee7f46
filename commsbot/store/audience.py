"""Subscribers (digest recipients by e-mail or Telegram) and bot usage.

Subscriber rows are personal data: ``forget`` deletes them; bot usage keeps only a
salted hash of the chat, never its id.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso


def new_token() -> str:
    """An unsubscribe token: 192 random bits in hexadecimal, so that it never begins with
    '-' and a command line never takes it for an option (URL-safe base64 did, 1 in 64)."""
    return secrets.token_hex(24)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["cities"] = json.loads(row["cities"])
    row["themes"] = json.loads(row["themes"])
    return row


def upsert_subscriber(
    store: Store,
    channel: str,
    address: str,
    frequency: str,
    cities: Sequence[str],
    themes: Sequence[str],
    now: datetime,
    *,
    language: str | None = None,
) -> dict[str, Any]:
    """Subscribe (or change the choices of, or re-subscribe) an address; validated by the
    caller. ``language`` None keeps a subscriber's language (English for a new one)."""
    stamp = iso(now)
    with store.write() as conn:
        conn.execute(
            "INSERT INTO subscribers (channel, address, frequency, cities, themes, token, status, "
            "language, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 'active', coalesce(?, 'en'), ?, ?) "
            "ON CONFLICT (channel, address) DO UPDATE SET frequency = excluded.frequency, "
            "cities = excluded.cities, themes = excluded.themes, status = 'active', "
            "language = CASE WHEN ? IS NULL THEN language ELSE excluded.language END, "
            "unsubscribed_at = NULL, "
            "updated_at = excluded.updated_at",
            (
                channel,
                address,
                frequency,
                json.dumps(list(cities)),
                json.dumps(list(themes)),
                new_token(),
                language,
                stamp,
                stamp,
                language,
            ),
        )
    found = get_subscriber(store, channel, address)
    assert found is not None
    return found


def get_subscriber(store: Store, channel: str, address: str) -> dict[str, Any] | None:
    row = store.row(
        "SELECT * FROM subscribers WHERE channel = ? AND address = ?", (channel, address)
    )
    return None if row is None else _decode(row)


def subscribers_created_since(store: Store, channel: str, since: datetime) -> int:
    """How many of a channel's subscribers were new from ``since`` (re-subscribing is not)."""
    return int(
        store.scalar(
            "SELECT count(*) FROM subscribers WHERE channel = ? AND created_at >= ?",
            (channel, iso(since)),
        )
    )


def subscriber_by_token(store: Store, token: str) -> dict[str, Any] | None:
    row = store.row("SELECT * FROM subscribers WHERE token = ?", (token,))
    return None if row is None else _decode(row)


def list_subscribers(
    store: Store,
    *,
    channel: str | None = None,
    frequency: str | None = None,
    status: str | None = "active",
) -> list[dict[str, Any]]:
    clauses, params = [], []
    for column, value in (("channel", channel), ("frequency", frequency), ("status", status)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = " AND ".join(clauses) or "1"
    return [
        _decode(r)
        for r in store.rows(f"SELECT * FROM subscribers WHERE {where} ORDER BY id", params)
    ]


def set_subscriber_status(store: Store, subscriber_id: int, status: str, now: datetime) -> bool:
    stamp = iso(now)
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE subscribers SET status = ?, updated_at = ?, "
            "unsubscribed_at = CASE WHEN ? = 'unsubscribed' THEN ? ELSE unsubscribed_at END "
            "WHERE id = ?",
            (status, stamp, status, stamp, subscriber_id),
        )
        return cur.rowcount == 1


def forget_subscriber(store: Store, channel: str, address: str) -> bool:
    """Delete a subscriber's personal data; their delivery rows keep no link to them."""
    with store.write() as conn:
        cur = conn.execute(
            "DELETE FROM subscribers WHERE channel = ? AND address = ?", (channel, address)
        )
        return cur.rowcount == 1


def log_bot_query(store: Store, command: str, chat_hash: str, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO bot_queries (command, chat_hash, at) VALUES (?, ?, ?)",
            (command, chat_hash, iso(now)),
        )
