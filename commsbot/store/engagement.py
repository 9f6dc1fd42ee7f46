"""Engagement snapshots and per-channel state (paused, or down with a reason)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso


def add_snapshots(store: Store, snapshots: Sequence[dict[str, Any]], now: datetime) -> int:
    """Append snapshots (post_id, favourites, boosts, replies, reactions, clicks, quotes)."""
    rows = [
        {
            "favourites": 0,
            "boosts": 0,
            "replies": 0,
            "reactions": 0,
            "clicks": 0,
            "quotes": 0,
            "observed_at": iso(now),
            **s,
        }
        for s in snapshots
    ]
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO engagement (post_id, favourites, boosts, replies, reactions, clicks, "
            "quotes, observed_at) VALUES (:post_id, :favourites, :boosts, :replies, :reactions, "
            ":clicks, :quotes, :observed_at)",
            rows,
        )
    return len(rows)


def latest(store: Store, post_id: int) -> dict[str, Any] | None:
    """The most recent snapshot of a post: counts are states, never summed."""
    return store.row(
        "SELECT * FROM engagement WHERE post_id = ? ORDER BY observed_at DESC, id DESC LIMIT 1",
        (post_id,),
    )


def poll_candidates(store: Store, channel: str, sent_since: datetime) -> list[dict[str, Any]]:
    """Posts of a channel sent since a time: remote id, thread length, last observation."""
    return store.rows(
        "SELECT p.id, p.remote_id, p.sent_at, "
        "coalesce(json_array_length(p.payload, '$.thread'), 0) AS thread_parts, "
        "max(e.observed_at) AS last_observed "
        "FROM posts p LEFT JOIN engagement e ON e.post_id = p.id "
        "WHERE p.channel = ? AND p.status = 'sent' AND p.remote_id IS NOT NULL "
        "AND p.sent_at >= ? GROUP BY p.id ORDER BY p.id",
        (channel, iso(sent_since)),
    )


def channel_state(store: Store, channel: str) -> dict[str, Any] | None:
    return store.row("SELECT * FROM channel_state WHERE channel = ?", (channel,))


def set_unopened(store: Store, channel: str, reason: str | None, now: datetime) -> None:
    """Keep why the running service could not open ``channel`` (None: it is open)."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO channel_state (channel, unopened, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (channel) DO UPDATE SET unopened = excluded.unopened, "
            "updated_at = excluded.updated_at",
            (channel, reason, iso(now)),
        )


def set_channel_state(
    store: Store,
    channel: str,
    now: datetime,
    *,
    paused_until: datetime | None = None,
    down_reason: str | None = None,
) -> None:
    """Pause a channel until a time, mark it down with a reason, or (no arguments) clear it."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO channel_state (channel, paused_until, down_reason, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET "
            "paused_until = excluded.paused_until, down_reason = excluded.down_reason, "
            "updated_at = excluded.updated_at",
            (channel, iso(paused_until) if paused_until else None, down_reason, iso(now)),
        )


def mark_remote_deleted(store: Store, post_id: int, now: datetime) -> bool:
    """Record that a sent post is gone from its platform; its last snapshot still counts.

    The first sighting is kept: a later poll that finds it gone again changes nothing.
    """
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE posts SET remote_deleted_at = ?, updated_at = ? "
            "WHERE id = ? AND status = 'sent' AND remote_deleted_at IS NULL",
            (iso(now), iso(now), post_id),
        )
        return cur.rowcount == 1


def post_for_remote(store: Store, channel: str, remote_id: str) -> int | None:
    """The id of the sent post a platform knows by ``remote_id``, if any."""
    found = store.scalar(
        "SELECT id FROM posts WHERE channel = ? AND remote_id = ? AND status = 'sent' "
        "ORDER BY id DESC LIMIT 1",
        (channel, remote_id),
    )
    return None if found is None else int(found)
