"""Reads of the outbox for the console's queue, calendar and today pages (#17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso

# Where each content type keeps its city and theme; newsletters have neither.
_PLACED = {"practice": "practices", "event": "events", "news": "news"}
_THEMED = {"practice": "practices", "news": "news"}
_COLUMNS = (
    "p.id, p.channel, p.status, p.item_type, p.item_ref, p.not_before, p.attempts, "
    "p.last_error, p.sent_at, p.remote_url, substr(p.text, 1, 200) AS text"
)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page filters by; empty fields do not filter."""

    channel: str = ""
    status: str = ""
    item_type: str = ""
    city: str = ""
    theme: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _where(f: QueueFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("channel", f.channel), ("status", f.status), ("item_type", f.item_type)):
        if value:
            clauses.append(f"p.{column} = ?")
            params.append(value)
    for column, value, tables in (("city", f.city, _PLACED), ("theme", f.theme, _THEMED)):
        if value:
            # Table names come from the constants above, never from the request.
            ors = [
                f"(p.item_type = '{t}' AND p.item_id IN (SELECT id FROM {table} "
                f"WHERE {column} = ?))"
                for t, table in tables.items()
            ]
            clauses.append("(" + " OR ".join(ors) + ")")
            params.extend([value] * len(ors))
    if f.since is not None:
        clauses.append("p.not_before >= ?")
        params.append(iso(f.since))
    if f.until is not None:
        clauses.append("p.not_before < ?")
        params.append(iso(f.until))
    return " AND ".join(clauses) or "1", params


def queue_page(
    store: Store, f: QueueFilter, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of posts, soonest first, and how many match in all."""
    where, params = _where(f)
    total = int(store.scalar(f"SELECT count(*) FROM posts p WHERE {where}", params))
    rows = store.rows(
        f"SELECT {_COLUMNS} FROM posts p WHERE {where} ORDER BY p.not_before, p.id "
        "LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return rows, total


def by_status(store: Store, statuses: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
    marks = ", ".join("?" * len(statuses))
    return store.rows(
        f"SELECT {_COLUMNS} FROM posts p WHERE p.status IN ({marks}) "
        "ORDER BY p.not_before, p.id LIMIT ?",
        (*statuses, limit),
    )


def count_status(store: Store, status: str) -> int:
    return int(store.scalar("SELECT count(*) FROM posts WHERE status = ?", (status,)))


def next_out(store: Store, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Queued posts in the order they will go out."""
    return store.rows(
        f"SELECT {_COLUMNS} FROM posts p WHERE p.status = 'queued' AND p.not_before >= ? "
        "ORDER BY p.not_before, p.id LIMIT ?",
        (iso(now), limit),
    )


def between(store: Store, start: datetime, end: datetime) -> list[tuple[int, str, str]]:
    """(id, account, time) of every post due in [start, end), cancelled ones left out: the
    calendar's slots taken. Read from the index alone, without the posts' texts."""
    return store.conn.execute(
        "SELECT p.id, p.channel, p.not_before FROM posts p WHERE p.not_before >= ? "
        "AND p.not_before < ? AND p.status != 'cancelled' ORDER BY p.not_before, p.id",
        (iso(start), iso(end)),
    ).fetchall()


def by_ids(store: Store, ids: list[int]) -> list[dict[str, Any]]:
    """The posts with these ids, as the queue shows them, in no particular order."""
    found: list[dict[str, Any]] = []
    for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters is far above
        chunk = ids[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        found += store.rows(f"SELECT {_COLUMNS} FROM posts p WHERE p.id IN ({marks})", chunk)
    return found


def failed_digest_deliveries(store: Store) -> list[dict[str, Any]]:
    """Digests with deliveries that failed, newest first."""
    return store.rows(
        "SELECT d.id, d.frequency, d.period, count(*) AS failed FROM digest_deliveries x "
        "JOIN digests d ON d.id = x.digest_id WHERE x.status = 'failed' "
        "GROUP BY d.id ORDER BY d.id DESC LIMIT 10"
    )
