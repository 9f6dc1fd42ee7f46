"""Movement tracking: public statuses that use the campaign hashtags or mention our
account, how far each timeline has been read, and audience sizes over time.

Of a status's author only the public handle (``user@server``) and profile url are kept;
``forget_account`` removes everything of one account.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso
from commsbot.store.stats import window

MENTIONS = "mentions"

_UPSERT = (
    "INSERT INTO movement_statuses (remote_id, acct, account_url, created_at, language, url, "
    "favourites, boosts, replies, own, mention, reply_to_post, first_seen_at, counts_at) "
    "VALUES (:remote_id, :acct, :account_url, :created_at, :language, :url, :favourites, "
    ":boosts, :replies, :own, :mention, "
    "(SELECT id FROM posts WHERE channel = :channel AND remote_id = :in_reply_to_id), "
    ":now, :now) "
    "ON CONFLICT (remote_id) DO UPDATE SET favourites = excluded.favourites, "
    "boosts = excluded.boosts, replies = excluded.replies, counts_at = excluded.counts_at, "
    "mention = max(mention, excluded.mention), "
    "reply_to_post = coalesce(reply_to_post, excluded.reply_to_post)"
)


def tag_source(tag: str) -> str:
    """The cursor name of a hashtag's timeline; tags ignore case."""
    return f"tag:{tag.lower()}"


def cursors(store: Store) -> dict[str, dict[str, Any]]:
    """Every timeline read so far: source -> newest_id, read_at."""
    return {r["source"]: r for r in store.rows("SELECT * FROM movement_cursors")}


def record_reading(
    store: Store,
    source: str,
    statuses: Sequence[dict[str, Any]],
    newest_id: str | None,
    now: datetime,
) -> int:
    """Store the statuses one read found and move the source's cursor, in one transaction
    (a cursor never runs ahead of what is stored); the number of statuses new to the store.

    Each status row has the columns of ``movement_statuses`` (times as ``iso``), plus
    ``in_reply_to_id``, ``channel`` (the account reading, whose posts replies are matched
    to) and, for a hashtag's statuses, ``tag``.
    """
    stamp = iso(now)
    with store.write() as conn:
        new = _new_count(store, [s["remote_id"] for s in statuses])
        conn.executemany(_UPSERT, [{**s, "now": stamp} for s in statuses])
        conn.executemany(
            "INSERT OR IGNORE INTO movement_tags (status_id, tag) "
            "SELECT id, :tag FROM movement_statuses WHERE remote_id = :remote_id",
            [s for s in statuses if s.get("tag")],
        )
        conn.execute(
            "INSERT INTO movement_cursors (source, newest_id, read_at) VALUES (?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET "
            "newest_id = coalesce(excluded.newest_id, newest_id), read_at = excluded.read_at",
            (source, newest_id, stamp),
        )
    return new


def _new_count(store: Store, remote_ids: Sequence[str]) -> int:
    unique = set(remote_ids)
    if not unique:
        return 0
    marks = ",".join("?" * len(unique))
    known = store.scalar(
        f"SELECT count(*) FROM movement_statuses WHERE remote_id IN ({marks})", list(unique)
    )
    return len(unique) - int(known)


def refresh_due(
    store: Store, posted_since: datetime, counted_before: datetime, limit: int
) -> list[str]:
    """Remote ids of others' statuses posted since a time whose counts were read before
    another, the longest unread first (our own are polled by collect-engagement)."""
    return [
        r["remote_id"]
        for r in store.rows(
            "SELECT remote_id FROM movement_statuses WHERE own = 0 AND created_at >= ? "
            "AND counts_at < ? ORDER BY counts_at, id LIMIT ?",
            (iso(posted_since), iso(counted_before), limit),
        )
    ]


def update_counts(
    store: Store, counts: Sequence[dict[str, Any]], gone: Sequence[str], now: datetime
) -> int:
    """New counts (remote_id, favourites, boosts, replies) of statuses; statuses the server
    no longer shows publicly are removed. Returns how many were removed."""
    stamp = iso(now)
    with store.write() as conn:
        conn.executemany(
            "UPDATE movement_statuses SET favourites = :favourites, boosts = :boosts, "
            "replies = :replies, counts_at = :now WHERE remote_id = :remote_id",
            [{**c, "now": stamp} for c in counts],
        )
        removed = 0
        for remote_id in gone:
            removed += conn.execute(
                "DELETE FROM movement_statuses WHERE remote_id = ?", (remote_id,)
            ).rowcount
    return removed


def forget_account(store: Store, account: str) -> tuple[int, int]:
    """Delete every status of an account (by handle, any case, or profile url): the
    numbers of (hashtag statuses, mentions) removed."""
    with store.write() as conn:
        where = "acct = ? COLLATE NOCASE OR account_url = ?"
        row = conn.execute(
            f"SELECT count(*) - coalesce(sum(mention), 0), coalesce(sum(mention), 0) "
            f"FROM movement_statuses WHERE {where}",
            (account, account),
        ).fetchone()
        conn.execute(f"DELETE FROM movement_statuses WHERE {where}", (account, account))
    return int(row[0]), int(row[1])


def statuses(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Statuses posted in [since, until), each saying whether it used a campaign hashtag;
    one row at a time, so that a year of them is never all in memory as rows."""
    where, params = window("created_at", since, until)
    cursor = store.conn.execute(
        "SELECT acct, account_url, created_at, language, favourites, boosts, replies, own, "
        "mention, reply_to_post, "
        "EXISTS (SELECT 1 FROM movement_tags t WHERE t.status_id = s.id) AS tagged "
        f"FROM movement_statuses s WHERE {where} ORDER BY created_at, id",
        params,
    )
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def first_seen(store: Store) -> dict[str, str]:
    """When each account other than ours was first heard: its earliest stored status."""
    return {
        r["acct"]: r["first"]
        for r in store.rows(
            "SELECT acct, min(created_at) AS first FROM movement_statuses WHERE own = 0 "
            "GROUP BY acct"
        )
    }


def subscriber_counts(store: Store) -> dict[str, int]:
    """Active digest subscribers per channel, for every channel anyone ever subscribed on."""
    return {
        r["channel"]: r["active"]
        for r in store.rows(
            "SELECT channel, sum(status = 'active') AS active FROM subscribers "
            "GROUP BY channel ORDER BY channel"
        )
    }


def add_audience(store: Store, sizes: Iterable[tuple[str, str, int]], now: datetime) -> int:
    """Snapshots of (channel, kind, size); kind is 'audience' or 'subscribers'."""
    rows = [(channel, kind, size, iso(now)) for channel, kind, size in sizes]
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO audience_snapshots (channel, kind, size, observed_at) VALUES (?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def audience_snapshots(store: Store, until: datetime | None = None) -> list[dict[str, Any]]:
    """Every audience snapshot before ``until``, oldest first."""
    where, params = window("observed_at", None, until)
    return store.rows(
        "SELECT channel, kind, size, observed_at FROM audience_snapshots "
        f"WHERE {where} ORDER BY observed_at, id",
        params,
    )
