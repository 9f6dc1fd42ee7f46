"""Digests and their deliveries: one row per (digest, subscriber), written before the send.

A digest covers one period of one frequency; what a subscriber gets is what is new since
the end of the last period that reached them, so nothing is lost after downtime and
nothing comes twice. Subscriber queries themselves live in ``audience.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, from_iso, iso
from commsbot.store.audience import _decode as _decode_subscriber
from commsbot.store.content import _decode as _decode_item

# A delivery in one of these states covered its period: the next digest starts after it.
COVERED = ("sent", "skipped", "unknown")
DELIVERY_STATUSES = ("sending", "sent", "retry", "failed", "unknown", "skipped")


def ensure_digest(
    store: Store,
    frequency: str,
    period: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The digest row of a period, created on first use."""
    with store.write() as conn:
        conn.execute(
            "INSERT INTO digests (frequency, period, starts_at, ends_at, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (frequency, period) DO UPDATE SET "
            "starts_at = excluded.starts_at, ends_at = excluded.ends_at",
            (frequency, period, iso(starts_at), iso(ends_at), iso(now)),
        )
    found = get_digest(store, frequency, period)
    assert found is not None
    return found


def get_digest(store: Store, frequency: str, period: str) -> dict[str, Any] | None:
    return store.row(
        "SELECT * FROM digests WHERE frequency = ? AND period = ?", (frequency, period)
    )


def list_digests(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest digests with how many deliveries ended in each state."""
    counts = ", ".join(f"coalesce(sum(d.status = '{s}'), 0) AS {s}" for s in DELIVERY_STATUSES)
    return store.rows(
        f"SELECT g.id, g.frequency, g.period, g.starts_at, g.ends_at, {counts} "
        "FROM digests g LEFT JOIN digest_deliveries d ON d.digest_id = g.id "
        "GROUP BY g.id ORDER BY g.ends_at DESC, g.frequency LIMIT ?",
        (limit,),
    )


def subscriber_by_id(store: Store, subscriber_id: int) -> dict[str, Any] | None:
    row = store.row("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))
    return None if row is None else _decode_subscriber(row)


def mark_stale(store: Store, digest_id: int, now: datetime) -> int:
    """Deliveries a crashed run left ``sending``: the send may have happened, so they
    become ``unknown`` and are never sent again blindly."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE digest_deliveries SET status = 'unknown', updated_at = ?, "
            "error = 'the run stopped between writing this delivery and recording its outcome' "
            "WHERE digest_id = ? AND status = 'sending'",
            (iso(now), digest_id),
        )
        return cur.rowcount


def due_subscribers(
    store: Store, digest_id: int, frequency: str, ends_at: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Active subscribers of a frequency, subscribed before the period ended, with no
    delivery of this digest yet (or one waiting to be retried whose time has come)."""
    rows = store.rows(
        "SELECT s.*, d.id AS delivery_id FROM subscribers s "
        "LEFT JOIN digest_deliveries d ON d.digest_id = ? AND d.subscriber_id = s.id "
        "WHERE s.status = 'active' AND s.frequency = ? AND s.created_at < ? "
        "AND (d.id IS NULL OR (d.status = 'retry' AND coalesce(d.next_attempt_at, '') <= ?)) "
        "ORDER BY s.id",
        (digest_id, frequency, iso(ends_at), iso(now)),
    )
    return [_decode_subscriber(r) for r in rows]


def covered_until(store: Store, ends_at: datetime) -> dict[int, datetime]:
    """Per subscriber, the end of the latest earlier period a digest covered for them."""
    marks = ", ".join("?" * len(COVERED))
    rows = store.conn.execute(
        "SELECT d.subscriber_id, max(g.ends_at) FROM digest_deliveries d "
        "JOIN digests g ON g.id = d.digest_id "
        f"WHERE d.status IN ({marks}) AND g.ends_at < ? AND d.subscriber_id IS NOT NULL "
        "GROUP BY d.subscriber_id",
        (*COVERED, iso(ends_at)),
    )
    return {int(sid): from_iso(end) for sid, end in rows}


# What counts as new, per item type: the column that says when, and what else must hold.
# An event is news once it has an outcome, so its clock is its last update.
_NEW: dict[str, tuple[str, str, str]] = {
    "practice": ("practices", "created_at", "1"),
    "event": ("events", "updated_at", "outcome != ''"),
    "newsletter": ("newsletters", "created_at", "1"),
    "news": ("news", "created_at", "1"),
}
_ORDER = {
    "practice": "new_at, id",
    "event": "start_date DESC, id",
    "newsletter": "published DESC, id",
    "news": "coalesce(published, created_at) DESC, id",
}


def new_items(store: Store, since: datetime, until: datetime) -> dict[str, list[dict[str, Any]]]:
    """Published items that became new in [since, until), each with its ``new_at``."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item_type, (table, column, condition) in _NEW.items():
        rows = store.rows(
            f"SELECT *, {column} AS new_at FROM {table} WHERE status = 'published' "
            f"AND {condition} AND {column} >= ? AND {column} < ? ORDER BY {_ORDER[item_type]}",
            (iso(since), iso(until)),
        )
        found[item_type] = [_decode_item(item_type, r) for r in rows]
    return found


def claim(
    store: Store, digest_id: int, subscriber_id: int, channel: str, now: datetime
) -> tuple[int, int] | None:
    """Write the delivery row (``sending``) before the send: its id and attempt number, or
    None when it is not ours to send (written by an earlier or concurrent run)."""
    stamp = iso(now)
    with store.write() as conn:
        row = conn.execute(
            "INSERT INTO digest_deliveries (digest_id, subscriber_id, channel, status, attempts, "
            "created_at, updated_at) VALUES (?, ?, ?, 'sending', 1, ?, ?) "
            "ON CONFLICT (digest_id, subscriber_id) DO UPDATE SET status = 'sending', "
            "attempts = attempts + 1, next_attempt_at = NULL, updated_at = excluded.updated_at "
            "WHERE digest_deliveries.status = 'retry' RETURNING id, attempts",
            (digest_id, subscriber_id, channel, stamp, stamp),
        ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def skip(store: Store, digest_id: int, subscriber_id: int, channel: str, now: datetime) -> None:
    """Record that a subscriber had nothing new this period (so the next digest starts later)."""
    stamp = iso(now)
    with store.write() as conn:
        conn.execute(
            "INSERT INTO digest_deliveries (digest_id, subscriber_id, channel, status, "
            "created_at, updated_at) VALUES (?, ?, ?, 'skipped', ?, ?) "
            "ON CONFLICT (digest_id, subscriber_id) DO NOTHING",
            (digest_id, subscriber_id, channel, stamp, stamp),
        )


def record(
    store: Store, results: Sequence[dict[str, Any]], bounced: Iterable[int], now: datetime
) -> None:
    """Write delivery outcomes; mark the subscribers whose address bounced for good."""
    stamp = iso(now)
    rows = [
        {"error": None, "remote_id": None, "sent_at": None, "next_attempt_at": None, **r}
        | {"updated_at": stamp}
        for r in results
    ]
    with store.write() as conn:
        conn.executemany(
            "UPDATE digest_deliveries SET status = :status, error = :error, "
            "remote_id = :remote_id, sent_at = :sent_at, next_attempt_at = :next_attempt_at, "
            "attempts = :attempts, updated_at = :updated_at WHERE id = :id",
            rows,
        )
        conn.executemany(
            "UPDATE subscribers SET status = 'bounced', updated_at = ? "
            "WHERE id = ? AND status = 'active'",
            [(stamp, sid) for sid in bounced],
        )


def deliveries(
    store: Store,
    *,
    digest_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Deliveries with the period and the subscriber's address (gone once forgotten)."""
    clauses: list[str] = []
    params: list[Any] = []
    if digest_id is not None:
        clauses.append("d.digest_id = ?")
        params.append(digest_id)
    if status:
        clauses.append("d.status = ?")
        params.append(status)
    where = " AND ".join(clauses) or "1"
    return store.rows(
        "SELECT d.id, g.frequency, g.period, d.channel, d.subscriber_id, s.address, d.status, "
        "d.attempts, d.error, d.sent_at, d.updated_at FROM digest_deliveries d "
        "JOIN digests g ON g.id = d.digest_id "
        "LEFT JOIN subscribers s ON s.id = d.subscriber_id "
        f"WHERE {where} ORDER BY d.id DESC LIMIT ?",
        (*params, limit),
    )


def requeue(
    store: Store,
    now: datetime,
    *,
    digest_id: int | None = None,
    delivery_ids: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """Put deliveries back as ``retry``, due now: every ``failed`` one (of a digest), or
    the ones named, failed or unknown. Returns them as they were (id, digest_id, status)."""
    if delivery_ids:
        marks = ", ".join("?" * len(delivery_ids))
        where, params = f"id IN ({marks}) AND status IN ('failed', 'unknown')", [*delivery_ids]
    else:
        where, params = "status = 'failed'", []
    if digest_id is not None:
        where += " AND digest_id = ?"
        params.append(digest_id)
    with store.write() as conn:
        rows = store.rows(
            f"SELECT id, digest_id, status FROM digest_deliveries WHERE {where} ORDER BY id",
            params,
        )
        conn.executemany(
            "UPDATE digest_deliveries SET status = 'retry', next_attempt_at = NULL, "
            "attempts = 0, updated_at = ? WHERE id = ?",
            [(iso(now), r["id"]) for r in rows],
        )
    return rows


def delivery_status(store: Store, delivery_id: int) -> str | None:
    """A delivery's status, or None when there is no such delivery."""
    found = store.scalar("SELECT status FROM digest_deliveries WHERE id = ?", (delivery_id,))
    return None if found is None else str(found)
