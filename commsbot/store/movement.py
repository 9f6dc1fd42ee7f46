"""Movement tracking: public statuses that use the campaign hashtags or mention one of our
Mastodon accounts, how far each account has read each timeline, and audience sizes over time.

Each account keeps the statuses it read (a status id is unique on one server only); two
accounts reading the same status keep a row each, and the network's figures count it once.

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
    "INSERT INTO movement_statuses (account, remote_id, acct, account_url, created_at, "
    "language, url, favourites, boosts, replies, own, mention, reply_to_post, first_seen_at, "
    "counts_at) VALUES (:channel, :remote_id, :acct, :account_url, :created_at, :language, "
    ":url, :favourites, :boosts, :replies, :own, :mention, "
    "(SELECT id FROM posts WHERE channel = :channel AND remote_id = :in_reply_to_id), "
    ":now, :now) "
    "ON CONFLICT (account, remote_id) DO UPDATE SET favourites = excluded.favourites, "
    "boosts = excluded.boosts, replies = excluded.replies, counts_at = excluded.counts_at, "
    "mention = max(mention, excluded.mention), "
    "reply_to_post = coalesce(reply_to_post, excluded.reply_to_post)"
)


def tag_source(tag: str) -> str:
    """The cursor name of a hashtag's timeline; tags ignore case."""
    return f"tag:{tag.lower()}"


def cursors(store: Store, account: str) -> dict[str, dict[str, Any]]:
    """Every timeline one account read so far: source -> newest_id, read_at."""
    return {
        r["source"]: r
        for r in store.rows(
            "SELECT source, newest_id, read_at FROM movement_cursors WHERE account = ?",
            (account,),
        )
    }


def record_reading(
    store: Store,
    account: str,
    source: str,
    statuses: Sequence[dict[str, Any]],
    newest_id: str | None,
    now: datetime,
) -> int:
    """Store the statuses one read found and move the source's cursor, in one transaction
    (a cursor never runs ahead of what is stored); the number of statuses new to the store.

    Each status row has the columns of ``movement_statuses`` (times as ``iso``), plus
    ``in_reply_to_id`` and, for a hashtag's statuses, ``tag``; ``account`` (the one reading,
    whose posts replies are matched to) is given once for all.
    """
    stamp = iso(now)
    rows = [{**s, "channel": account, "now": stamp} for s in statuses]
    with store.write() as conn:
        new = _new_count(store, account, [s["remote_id"] for s in statuses])
        conn.executemany(_UPSERT, rows)
        conn.executemany(
            "INSERT OR IGNORE INTO movement_tags (status_id, tag) SELECT id, :tag "
            "FROM movement_statuses WHERE account = :channel AND remote_id = :remote_id",
            [s for s in rows if s.get("tag")],
        )
        conn.execute(
            "INSERT INTO movement_cursors (account, source, newest_id, read_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (account, source) DO UPDATE SET "
            "newest_id = coalesce(excluded.newest_id, newest_id), read_at = excluded.read_at",
            (account, source, newest_id, stamp),
        )
    return new


def _new_count(store: Store, account: str, remote_ids: Sequence[str]) -> int:
    unique = set(remote_ids)
    if not unique:
        return 0
    marks = ",".join("?" * len(unique))
    known = store.scalar(
        f"SELECT count(*) FROM movement_statuses WHERE account = ? AND remote_id IN ({marks})",
        [account, *unique],
    )
    return len(unique) - int(known)


def refresh_due(
    store: Store, account: str, posted_since: datetime, counted_before: datetime, limit: int
) -> list[str]:
    """Remote ids of others' statuses an account read, posted since a time, whose counts
    were read before another, the longest unread first (our own are polled by
    collect-engagement)."""
    return [
        r["remote_id"]
        for r in store.rows(
            "SELECT remote_id FROM movement_statuses WHERE account = ? AND own = 0 "
            "AND created_at >= ? AND counts_at < ? ORDER BY counts_at, id LIMIT ?",
            (account, iso(posted_since), iso(counted_before), limit),
        )
    ]


def update_counts(
    store: Store,
    account: str,
    counts: Sequence[dict[str, Any]],
    gone: Sequence[str],
    now: datetime,
) -> int:
    """New counts (remote_id, favourites, boosts, replies) of statuses; statuses the server
    no longer shows publicly are removed. Returns how many were removed."""
    stamp = iso(now)
    with store.write() as conn:
        conn.executemany(
            "UPDATE movement_statuses SET favourites = :favourites, boosts = :boosts, "
            "replies = :replies, counts_at = :now "
            "WHERE account = :account AND remote_id = :remote_id",
            [{**c, "now": stamp, "account": account} for c in counts],
        )
        removed = 0
        for remote_id in gone:
            removed += conn.execute(
                "DELETE FROM movement_statuses WHERE account = ? AND remote_id = ?",
                (account, remote_id),
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
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    account: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Statuses posted in [since, until) (as one account read them, or every account),
    each saying whether it used a campaign hashtag; one row at a time, so that a year of
    them is never all in memory as rows."""
    where, params = window("created_at", since, until)
    if account is not None:
        where, params = f"{where} AND account = ?", [*params, account]
    cursor = store.conn.execute(
        "SELECT account, acct, account_url, created_at, language, url, favourites, boosts, "
        "replies, own, mention, reply_to_post, "
        "EXISTS (SELECT 1 FROM movement_tags t WHERE t.status_id = s.id) AS tagged "
        f"FROM movement_statuses s WHERE {where} ORDER BY created_at, id",
        params,
    )
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def first_seen(store: Store) -> dict[str, dict[str, str]]:
    """When each account other than ours was first heard, per account of ours that heard
    it: reading account -> acct -> its earliest stored status."""
    heard: dict[str, dict[str, str]] = {}
    for r in store.rows(
        "SELECT account, acct, min(created_at) AS first FROM movement_statuses WHERE own = 0 "
        "GROUP BY account, acct"
    ):
        heard.setdefault(r["account"], {})[r["acct"]] = r["first"]
    return heard


def own_accounts(store: Store) -> set[str]:
    """The handles of our own tracking accounts, as their statuses were read."""
    return {
        r["acct"] for r in store.rows("SELECT DISTINCT acct FROM movement_statuses WHERE own = 1")
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
