"""Reads of the outbox for the console's queue, calendar and today pages (#17)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
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
    # The first ``limit`` of each state along posts_status_time, then the first of those:
    # with ``status IN (...)`` SQLite sorts every post in those states (thousands).
    part = (
        f"SELECT * FROM (SELECT {_COLUMNS} FROM posts p WHERE p.status = ? "
        "ORDER BY p.not_before, p.id LIMIT ?)"
    )
    return store.rows(
        f"SELECT * FROM ({' UNION ALL '.join([part] * len(statuses))}) "
        "ORDER BY not_before, id LIMIT ?",
        (*(v for status in statuses for v in (status, limit)), limit),
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


def first_of_days(
    store: Store, starts: Sequence[datetime], limit: int
) -> list[tuple[int, int, dict[str, Any]]]:
    """For each day [starts[i], starts[i + 1]): the first ``limit`` posts due (cancelled
    ones left out), as ``(i, posts due that day, post)``. Each day is a range of the
    not_before index (migration 35), and only the posts counted or shown are read."""
    if len(starts) < 2:
        return []
    days = ", ".join("(?, ?, ?)" for _ in starts[1:])
    params: list[Any] = []
    for i, (lo, hi) in enumerate(pairwise(starts)):
        params += [i, iso(lo), iso(hi)]
    # Window functions (row_number) sort every post of the month: slower than these
    # correlated lookups, each a short range of the index. The counts are a query of
    # their own: as a column of the posts' query they cost ten times as much (SQLite
    # 3.40, a month of 3,500 posts: 8 ms against 0.4 + 0.8 ms).
    with_days = f"WITH days (i, lo, hi) AS (VALUES {days}) "
    day_posts = (
        "FROM posts x WHERE x.not_before >= d.lo AND x.not_before < d.hi "
        "AND x.status != 'cancelled'"
    )
    due = dict(
        store.conn.execute(
            f"{with_days}SELECT d.i, (SELECT count(*) {day_posts}) FROM days d", params
        ).fetchall()
    )
    rows = store.rows(
        f"{with_days}SELECT d.i AS day_index, {_COLUMNS} "
        f"FROM days d JOIN posts p ON p.id IN (SELECT x.id {day_posts} "
        "ORDER BY x.not_before, x.id LIMIT ?) ORDER BY d.i, p.not_before, p.id",
        (*params, limit),
    )
    return [(i := r.pop("day_index"), due[i], r) for r in rows]


def taken(store: Store, stamps: Sequence[str]) -> set[tuple[str, str]]:
    """Which of these times (``store.iso``) hold a post, cancelled ones left out, as
    (account, time): the calendar's slots taken."""
    found: set[tuple[str, str]] = set()
    for i in range(0, len(stamps), 500):
        chunk = stamps[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(
            store.conn.execute(
                "SELECT channel, not_before FROM posts WHERE not_before IN "
                f"({marks}) AND status != 'cancelled'",
                chunk,
            ).fetchall()
        )
    return found


def failed_digest_deliveries(store: Store) -> list[dict[str, Any]]:
    """Digests with deliveries that failed, newest first."""
    return store.rows(
        "SELECT d.id, d.frequency, d.period, count(*) AS failed FROM digest_deliveries x "
        "JOIN digests d ON d.id = x.digest_id WHERE x.status = 'failed' "
        "GROUP BY d.id ORDER BY d.id DESC LIMIT 10"
    )
