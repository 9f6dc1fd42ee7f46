"""Reads for engagement statistics: sent posts with their latest counts, subscribers, bot use.

Only reads. Counts in ``engagement`` are states observed at a time, so a post's figures
are its latest snapshot by ``observed_at`` (ties: the later row), never a sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from commsbot.store import Store, iso


def window(column: str, since: datetime | None, until: datetime | None) -> tuple[str, list[str]]:
    """[since, until) over second-precision stamps: a fraction of a second in ``until``
    rounds up, so that "until now" includes what happened earlier in this second."""
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(iso(since))
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append(_second_up(until))
    return " AND ".join(clauses) or "1", params


def _second_up(until: datetime) -> str:
    """``until`` as a stored stamp, a fraction of a second rounded up."""
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return iso(until)


def sent_posts(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Posts sent in [since, until) (or those of ``ids``), each with its item's city,
    theme and title, and its latest engagement snapshot (zeros and ``observed_at`` None
    when there is none)."""
    where, bounds = window("p.sent_at", since, until)
    params: list[Any] = [*bounds, *(ids or ())]
    sent = "p.status = 'sent'"
    if ids is not None:
        where += f" AND p.id IN ({', '.join('?' * len(ids))})"
        sent = "+" + sent  # a handful of ids: by the primary key, not the status index
    # The correlated lookup walks the (post_id, observed_at) index: one step per post.
    return store.rows(
        "SELECT p.id, p.channel, coalesce(a.kind, p.channel) AS platform, p.item_type, "
        "p.item_id, p.item_ref, p.text, p.remote_url, "
        "p.sent_at, p.remote_deleted_at, "
        "coalesce(pr.title, ev.title, nl.title, nw.title, json_extract(p.payload, '$.title')) "
        "AS title, "
        "coalesce(pr.city, ev.city, nw.city) AS city, coalesce(pr.theme, nw.theme) AS theme, "
        "coalesce(e.favourites, 0) AS favourites, coalesce(e.boosts, 0) AS boosts, "
        "coalesce(e.replies, 0) AS replies, coalesce(e.reactions, 0) AS reactions, "
        "coalesce(e.quotes, 0) AS quotes, "
        "e.observed_at "
        "FROM posts p LEFT JOIN accounts a ON a.name = p.channel "
        "LEFT JOIN engagement e ON e.id = (SELECT x.id FROM engagement x WHERE x.post_id = p.id "
        "ORDER BY x.observed_at DESC, x.id DESC LIMIT 1) "
        "LEFT JOIN practices pr ON p.item_type = 'practice' AND pr.id = p.item_id "
        "LEFT JOIN events ev ON p.item_type = 'event' AND ev.id = p.item_id "
        "LEFT JOIN newsletters nl ON p.item_type = 'newsletter' AND nl.id = p.item_id "
        "LEFT JOIN news nw ON p.item_type = 'news' AND nw.id = p.item_id "
        f"WHERE {sent} AND p.sent_at IS NOT NULL AND {where} "
        "ORDER BY p.sent_at, p.id",
        params,
    )


_SUMS = (
    "count(*) AS posts, sum(favourites) AS favourites, sum(boosts) AS boosts, "
    "sum(replies) AS replies, sum(reactions) AS reactions, sum(quotes) AS quotes, "
    "sum(deleted) AS deleted"
)


def sent_cells(
    store: Store, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    """The posts sent in [since, until) summed per account, platform, type, city and
    theme.

    Read from ``post_stats`` (migration 25; quotes since 26), which triggers keep as
    posts, engagement and items change: a stretch of its covering index, no lookup per post."""
    where, params = window("sent_at", since, until)
    return store.rows(
        "SELECT g.*, coalesce(a.kind, g.channel) AS platform FROM ("
        f"SELECT channel, item_type, city, theme, {_SUMS} FROM post_stats WHERE {where} "
        "GROUP BY channel, item_type, city, theme) g LEFT JOIN accounts a ON a.name = g.channel",
        params,
    )


def day_marks(
    store: Store, since: datetime | None, until: datetime | None
) -> list[tuple[str, int]]:
    """The UTC days [since, until) spans (their "YYYY-MM-DD", as ``days_of`` gives them),
    each with the mark its last change to ``post_stats`` left (migration 29), by day."""
    first, last = days_of(since, until)
    return [
        (str(day), int(mark))
        for day, mark in store.conn.execute(
            "SELECT day, mark FROM post_stats_days WHERE day BETWEEN ? AND ? ORDER BY day",
            (first, last),
        )
    ]


def days_of(since: datetime | None, until: datetime | None) -> tuple[str, str]:
    """The first and last UTC day a stretch [since, until) can hold a stamp of ("" and "~"
    stand for no bound: before and after every day)."""
    first = iso(since)[:10] if since is not None else ""
    return first, _second_up(until)[:10] if until is not None else "~"


def platforms(store: Store) -> list[tuple[str, str]]:
    """Each account's platform, which the cells carry."""
    return [
        (str(n), str(k))
        for n, k in store.conn.execute("SELECT name, kind FROM accounts ORDER BY name")
    ]


def sent_total(store: Store, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    """The sums of ``sent_cells`` over every cell, read in one pass."""
    where, params = window("sent_at", since, until)
    return store.rows(f"SELECT {_SUMS} FROM post_stats WHERE {where}", params)[0]


def first_sent(store: Store, until: datetime | None) -> str | None:
    """When the first post sent before ``until`` went out."""
    where, params = window("sent_at", None, until)
    found = store.scalar(f"SELECT min(sent_at) FROM post_stats WHERE {where}", params)
    return None if found is None else str(found)


def top_sent(
    store: Store, since: datetime | None, until: datetime | None, n: int
) -> list[dict[str, Any]]:
    """The ``n`` posts sent in [since, until) with most engagement (ties: the earlier
    post), as ``sent_posts`` reads them, best first."""
    where, params = window("sent_at", since, until)
    ids = [
        int(r[0])
        for r in store.conn.execute(
            f"SELECT post_id FROM post_stats WHERE {where} ORDER BY "
            "favourites + boosts + replies + reactions + quotes DESC, sent_at, post_id LIMIT ?",
            (*params, n),
        )
    ]
    rows = {r["id"]: r for r in sent_posts(store, ids=ids)} if ids else {}
    return [rows[i] for i in ids]


def subscriber_history(store: Store) -> list[dict[str, Any]]:
    """Every subscriber's channel, frequency, status and when they joined and left.

    No addresses: statistics need none. A bounced subscriber left when it was marked so.
    """
    return store.rows(
        "SELECT channel, frequency, status, created_at, "
        "CASE status WHEN 'unsubscribed' THEN coalesce(unsubscribed_at, updated_at) "
        "WHEN 'bounced' THEN updated_at END AS left_at "
        "FROM subscribers ORDER BY created_at, id"
    )


def bot_queries(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Bot commands used in [since, until): command, salted chat hash, time."""
    where, params = window("at", since, until)
    return store.rows(
        f"SELECT command, chat_hash, at FROM bot_queries WHERE {where} ORDER BY at, id", params
    )
