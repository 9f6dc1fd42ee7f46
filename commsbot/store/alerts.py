"""Alerts (#20): the problems that need the officer, the alerts open for them, and each
alert message's delivery to each recipient (written before the send, as digests are)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso

# Each kind of problem is read at most this many rows at a time: a store with thousands
# of failed posts still makes one short alert run (the rest wait for the next).
READ_LIMIT = 500


# -- the problems, as the store has them now -------------------------------------------------


def posts_in(store: Store, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
    """Posts in these states, oldest first: id, channel, status, text, last_error."""
    marks = ", ".join("?" * len(statuses))
    return store.rows(
        "SELECT id, channel, status, item_type, item_ref, substr(text, 1, 300) AS text, "
        f"last_error, not_before FROM posts WHERE status IN ({marks}) ORDER BY id LIMIT ?",
        (*statuses, READ_LIMIT),
    )


def troubled_accounts(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Accounts stopped (a refused token) or paused (a platform's wait) now."""
    return store.rows(
        "SELECT channel, paused_until, down_reason FROM channel_state "
        "WHERE down_reason IS NOT NULL OR paused_until > ? ORDER BY channel",
        (iso(now),),
    )


def disabled_feeds(store: Store) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT id, url, disabled_reason, last_error FROM feeds WHERE disabled = 1 "
        "ORDER BY id LIMIT ?",
        (READ_LIMIT,),
    )


def failed_digest_deliveries(store: Store) -> list[dict[str, Any]]:
    """Per digest, how many deliveries failed and the latest error."""
    return store.rows(
        "SELECT g.id AS digest_id, g.period, count(*) AS failed, max(d.error) AS error "
        "FROM digest_deliveries d JOIN digests g ON g.id = d.digest_id "
        "WHERE d.status = 'failed' GROUP BY g.id ORDER BY g.id LIMIT ?",
        (READ_LIMIT,),
    )


# -- open alerts -----------------------------------------------------------------------------


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["facts"] = json.loads(row["facts"])
    return row


def sync(
    store: Store, found: dict[str, tuple[str, dict[str, Any]]], now: datetime
) -> list[dict[str, Any]]:
    """Open an alert for each problem in ``found`` (problem -> (kind, facts)) that has none,
    refresh the facts of those already open, and resolve the open ones no longer found.
    Returns the alerts opened now."""
    stamp = iso(now)
    with store.write() as conn:
        open_now = {
            r[0]: r[1]
            for r in conn.execute("SELECT problem, id FROM alerts WHERE resolved_at IS NULL")
        }
        gone = [i for p, i in open_now.items() if p not in found]
        conn.executemany(
            "UPDATE alerts SET resolved_at = ? WHERE id = ?", [(stamp, i) for i in gone]
        )
        conn.executemany(
            "UPDATE alerts SET seen_at = ?, facts = ? WHERE id = ?",
            [(stamp, json.dumps(found[p][1]), i) for p, i in open_now.items() if p in found],
        )
        new = [p for p in found if p not in open_now]
        conn.executemany(
            "INSERT INTO alerts (problem, kind, facts, opened_at, seen_at) VALUES (?, ?, ?, ?, ?)",
            [(p, found[p][0], json.dumps(found[p][1]), stamp, stamp) for p in new],
        )
    if not new:
        return []
    marks = ", ".join("?" * len(new))
    return [
        _decode(r)
        for r in store.rows(
            f"SELECT * FROM alerts WHERE resolved_at IS NULL AND problem IN ({marks}) ORDER BY id",
            new,
        )
    ]


def add_alert(store: Store, problem: str, kind: str, facts: dict[str, Any], now: datetime) -> int:
    """One alert outside the problems found (a test alert), resolved at once."""
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO alerts (problem, kind, facts, opened_at, seen_at, notified_at, "
            "resolved_at, resolved_notified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (problem, kind, json.dumps(facts), *[iso(now)] * 5),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid


def open_alerts(store: Store, *, unnotified: bool = False) -> list[dict[str, Any]]:
    """The alerts open now, oldest first (only those not yet told to anyone, with
    ``unnotified``)."""
    extra = " AND notified_at IS NULL" if unnotified else ""
    return [
        _decode(r)
        for r in store.rows(f"SELECT * FROM alerts WHERE resolved_at IS NULL{extra} ORDER BY id")
    ]


def alerts_by_id(store: Store, ids: Iterable[int]) -> list[dict[str, Any]]:
    wanted = list(ids)
    if not wanted:
        return []
    marks = ", ".join("?" * len(wanted))
    return [
        _decode(r)
        for r in store.rows(f"SELECT * FROM alerts WHERE id IN ({marks}) ORDER BY id", wanted)
    ]


def mark_notified(store: Store, ids: Iterable[int], now: datetime) -> None:
    with store.write() as conn:
        conn.executemany(
            "UPDATE alerts SET notified_at = ? WHERE id = ? AND notified_at IS NULL",
            [(iso(now), i) for i in ids],
        )


def resolved_untold(store: Store) -> list[dict[str, Any]]:
    """Alerts resolved whose resolution nobody was told yet, oldest first."""
    return [
        _decode(r)
        for r in store.rows(
            "SELECT * FROM alerts WHERE resolved_at IS NOT NULL AND resolved_notified_at IS NULL "
            "ORDER BY id LIMIT ?",
            (READ_LIMIT,),
        )
    ]


def mark_resolved_notified(store: Store, ids: Iterable[int], now: datetime) -> None:
    with store.write() as conn:
        conn.executemany(
            "UPDATE alerts SET resolved_notified_at = ? WHERE id = ? "
            "AND resolved_notified_at IS NULL",
            [(iso(now), i) for i in ids],
        )


def recent_alerts(store: Store, limit: int) -> list[dict[str, Any]]:
    """Open alerts and the latest resolved ones, newest first, with how many deliveries
    of them were sent."""
    return [
        _decode(r)
        for r in store.rows(
            "SELECT a.*, (SELECT count(*) FROM alert_deliveries d, json_each(d.alerts) j "
            "WHERE j.value = a.id AND d.status = 'sent') AS sent "
            "FROM alerts a ORDER BY a.resolved_at IS NOT NULL, a.id DESC LIMIT ?",
            (limit,),
        )
    ]


# -- deliveries ------------------------------------------------------------------------------


def claim(
    store: Store,
    message: str,
    channel: str,
    recipient: str,
    alert_ids: list[int],
    now: datetime,
) -> tuple[int, int] | None:
    """Write a message's delivery to one recipient ``sending`` before it is sent: (its id,
    this attempt), or None when it exists and is not due again (sent, unknown, failed, or
    a retry whose time has not come)."""
    stamp = iso(now)
    with store.write() as conn:
        row = conn.execute(
            "SELECT id, status, attempts, next_attempt_at FROM alert_deliveries "
            "WHERE message = ? AND channel = ? AND recipient = ?",
            (message, channel, recipient),
        ).fetchone()
        if row is None:
            cur = conn.execute(
                "INSERT INTO alert_deliveries (message, channel, recipient, alerts, status, "
                "attempts, created_at, updated_at) VALUES (?, ?, ?, ?, 'sending', 1, ?, ?)",
                (message, channel, recipient, json.dumps(alert_ids), stamp, stamp),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid, 1
        delivery_id, status, attempts, next_at = row
        if status != "retry" or (next_at is not None and next_at > stamp):
            return None
        conn.execute(
            "UPDATE alert_deliveries SET status = 'sending', attempts = ?, updated_at = ? "
            "WHERE id = ?",
            (attempts + 1, stamp, delivery_id),
        )
        return delivery_id, attempts + 1


def due_retries(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Deliveries to try again now, with the alerts their message holds."""
    rows = store.rows(
        "SELECT * FROM alert_deliveries WHERE status = 'retry' "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY id LIMIT ?",
        (iso(now), READ_LIMIT),
    )
    for row in rows:
        row["alerts"] = json.loads(row["alerts"])
    return rows


def record(store: Store, row: dict[str, Any], now: datetime) -> None:
    """What became of one send (keys: id, status, error, attempts, and sent_at,
    remote_id or next_attempt_at)."""
    values = {"next_attempt_at": None, **row, "updated_at": iso(now)}
    delivery_id = values.pop("id")
    sets = ", ".join(f"{k} = ?" for k in values)
    with store.write() as conn:
        conn.execute(
            f"UPDATE alert_deliveries SET {sets} WHERE id = ?", (*values.values(), delivery_id)
        )


def mark_stale(store: Store, now: datetime) -> int:
    """Deliveries a stopped run left ``sending`` may have gone: ``unknown``, never resent."""
    with store.write() as conn:
        cur = conn.execute(
            "UPDATE alert_deliveries SET status = 'unknown', updated_at = ?, "
            "error = 'interrupted while sending: it may or may not have arrived' "
            "WHERE status = 'sending'",
            (iso(now),),
        )
        return cur.rowcount


def deliveries(store: Store, limit: int) -> list[dict[str, Any]]:
    """Alert deliveries, newest first."""
    return store.rows(
        "SELECT id, message, channel, recipient, status, attempts, error, created_at, sent_at "
        "FROM alert_deliveries ORDER BY id DESC LIMIT ?",
        (limit,),
    )


# -- the daily summary -----------------------------------------------------------------------


def summary_made(store: Store, day: str) -> bool:
    return store.scalar("SELECT 1 FROM alert_summaries WHERE day = ?", (day,)) is not None


def add_summary(store: Store, day: str, alerts: int, now: datetime) -> bool:
    """Note that ``day``'s summary is made; False when another run made it first."""
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO alert_summaries (day, made_at, alerts) VALUES (?, ?, ?) "
            "ON CONFLICT (day) DO NOTHING",
            (day, iso(now), alerts),
        )
        return cur.rowcount == 1
