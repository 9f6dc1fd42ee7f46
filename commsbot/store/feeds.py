"""Queries for feeds and the entries they brought: what to poll, what was seen, what failed.

An entry's identity lives in ``feed_entries``; the item it became lives in ``news`` or
``newsletters``. A feed's entries and its new state are written in one transaction, so a
feed is never half-processed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from commsbot.store import Store, iso

ITEM_TABLES = {"news": "news", "newsletter": "newsletters"}


# -- the feeds ---------------------------------------------------------------------


def get(store: Store, url: str) -> dict[str, Any] | None:
    return store.row("SELECT * FROM feeds WHERE url = ?", (url,))


def all_feeds(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT * FROM feeds ORDER BY source, url")


def add(
    store: Store, url: str, kind: str, city: str | None, theme: str | None, now: datetime
) -> int:
    """A feed added by an officer; the caller has checked that the URL is new."""
    stamp = iso(now)
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO feeds (url, kind, city, theme, source, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'cli', ?, ?)",
            (url, kind, city, theme, stamp, stamp),
        )
        return int(cur.lastrowid or 0)


def remove(store: Store, url: str) -> bool:
    """Forget a feed; its items and the identities of its entries stay."""
    with store.write() as conn:
        return conn.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount > 0


def sync_config(store: Store, feeds: Sequence[dict[str, Any]], now: datetime) -> None:
    """Make the config's feeds the 'config' rows: add, update, and drop those no longer listed.

    A feed first added with ``feeds add`` and later written into the config is taken over
    by the config; its state (validators, errors) is kept.
    """
    stamp = iso(now)
    urls = [f["url"] for f in feeds]
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO feeds (url, kind, city, theme, hashtags_from_categories, source, "
            "created_at, updated_at) "
            "VALUES (:url, :kind, :city, :theme, :tags, 'config', :stamp, :stamp) "
            "ON CONFLICT (url) DO UPDATE SET kind = excluded.kind, city = excluded.city, "
            "theme = excluded.theme, hashtags_from_categories = excluded.hashtags_from_categories, "
            "source = 'config', updated_at = excluded.updated_at "
            "WHERE feeds.kind IS NOT excluded.kind OR feeds.city IS NOT excluded.city "
            "OR feeds.theme IS NOT excluded.theme OR feeds.source != 'config' "
            "OR feeds.hashtags_from_categories != excluded.hashtags_from_categories",
            [
                {**f, "tags": int(bool(f.get("hashtags_from_categories"))), "stamp": stamp}
                for f in feeds
            ],
        )
        marks = ", ".join("?" * len(urls))
        conn.execute(
            f"DELETE FROM feeds WHERE source = 'config' AND url NOT IN ({marks})"
            if urls
            else "DELETE FROM feeds WHERE source = 'config'",
            urls,
        )


def item_feed_urls(store: Store, item_type: str) -> dict[int, str]:
    """The feed each item of a type was read from, by item id (items of no feed left out)."""
    rows = store.rows(
        "SELECT e.item_id, f.url FROM feed_entries e JOIN feeds f ON f.id = e.feed_id "
        "WHERE e.item_type = ? AND e.item_id IS NOT NULL",
        (item_type,),
    )
    return {r["item_id"]: r["url"] for r in rows}


def due(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Enabled feeds whose backoff, if any, has passed."""
    return store.rows(
        "SELECT * FROM feeds WHERE disabled = 0 AND (next_poll_at IS NULL OR next_poll_at <= ?) "
        "ORDER BY id",
        (iso(now),),
    )


def counts_at(path: Path) -> tuple[int, int]:
    """(feeds, enabled feeds) in the store at path, without creating or migrating it.

    For ``requires`` checks, which see only the config: feeds added with ``feeds add``
    live in the store.
    """
    if not path.exists():
        return 0, 0
    try:
        with Store(path, migrate=False) as store:
            return counts(store)
    except sqlite3.DatabaseError:  # no feeds table yet: a store older than feeds
        return 0, 0


def counts(store: Store) -> tuple[int, int]:
    """(feeds, enabled feeds) in an open store."""
    row = store.conn.execute(
        "SELECT count(*), coalesce(sum(disabled = 0), 0) FROM feeds"
    ).fetchone()
    return int(row[0]), int(row[1])


def troubled(store: Store) -> list[dict[str, Any]]:
    """Feeds that are disabled or failing, worst first: what ``status`` should show."""
    return store.rows(
        "SELECT url, kind, disabled, disabled_reason, error_count, last_status, last_error, "
        "next_poll_at, last_success_at FROM feeds WHERE disabled = 1 OR error_count > 0 "
        "ORDER BY disabled DESC, error_count DESC, url"
    )


def record_not_modified(store: Store, feed_id: int, status: int, now: datetime) -> None:
    """A 304: the feed answered (so it is healthy again) and nothing needs parsing."""
    stamp = iso(now)
    with store.write() as conn:
        conn.execute(
            "UPDATE feeds SET last_status = ?, last_error = NULL, error_count = 0, "
            "next_poll_at = NULL, disabled = 0, disabled_reason = NULL, last_polled_at = ?, "
            "last_success_at = ?, updated_at = ? WHERE id = ?",
            (status, stamp, stamp, stamp, feed_id),
        )


def record_failure(
    store: Store,
    feed_id: int,
    *,
    status: int | None,
    error: str,
    next_poll_at: datetime,
    disable: str | None,
    now: datetime,
) -> None:
    """One more failure in a row: the error, the backoff, and maybe the end of polling."""
    stamp = iso(now)
    with store.write() as conn:
        conn.execute(
            "UPDATE feeds SET last_status = ?, last_error = ?, error_count = error_count + 1, "
            "next_poll_at = ?, disabled = ?, disabled_reason = ?, last_polled_at = ?, "
            "updated_at = ? WHERE id = ?",
            (
                status,
                error,
                iso(next_poll_at),
                int(disable is not None),
                disable,
                stamp,
                stamp,
                feed_id,
            ),
        )


# -- entries -----------------------------------------------------------------------


@dataclass(frozen=True)
class EntryRow:
    """An entry ready for the store: its identity, fingerprint, and the item it makes.

    ``new`` is the item's row when first stored; ``changes`` what an edit may overwrite
    (never the slug, which posts refer to). ``skipped`` says why no item is made.
    """

    identity: str
    fingerprint: str
    new: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


@dataclass
class Stored:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0


def _known(
    conn: sqlite3.Connection, item_type: str, feed_url: str, identities: Sequence[str]
) -> dict[str, tuple[int | None, str]]:
    """The entries of this feed already seen: another feed's same guid is not one of them."""
    found: dict[str, tuple[int | None, str]] = {}
    for start in range(0, len(identities), 500):
        chunk = list(identities[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        for identity, item_id, fingerprint in conn.execute(
            f"SELECT identity, item_id, fingerprint FROM feed_entries "
            f"WHERE item_type = ? AND feed_url = ? AND identity IN ({marks})",
            [item_type, feed_url, *chunk],
        ):
            found[identity] = (item_id, fingerprint)
    return found


def _free_slug(conn: sqlite3.Connection, table: str, wanted: str) -> str:
    slug, n = wanted, 1
    while conn.execute(f"SELECT 1 FROM {table} WHERE slug = ?", (slug,)).fetchone():
        n += 1
        slug = f"{wanted}-{n}"
    return slug


def _insert_item(conn: sqlite3.Connection, item_type: str, row: dict[str, Any], stamp: str) -> int:
    table = ITEM_TABLES[item_type]
    if item_type == "news":
        # A news item imported by hand under the same guid (for this feed, or for none) is
        # the same item: adopt it. Another feed's item with that guid is not.
        existing = conn.execute(
            "SELECT id FROM news WHERE guid = ? AND (feed_url = ? OR feed_url IS NULL) "
            "ORDER BY feed_url IS NULL LIMIT 1",
            (row["guid"], row["feed_url"]),
        ).fetchone()
        if existing:
            _update_item(conn, item_type, int(existing[0]), row, stamp)
            return int(existing[0])
    values = {**row, "slug": _free_slug(conn, table, row["slug"])}
    values |= {"created_at": stamp, "updated_at": stamp}
    columns = ", ".join(values)
    marks = ", ".join(":" + c for c in values)
    cur = conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
    return int(cur.lastrowid or 0)


def _update_item(
    conn: sqlite3.Connection, item_type: str, item_id: int, changes: dict[str, Any], stamp: str
) -> None:
    values = {k: v for k, v in changes.items() if k not in ("slug", "guid")}
    values["updated_at"] = stamp
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    conn.execute(
        f"UPDATE {ITEM_TABLES[item_type]} SET {assignments} WHERE id = :_id",
        {**values, "_id": item_id},
    )


def store_entries(
    store: Store,
    feed: dict[str, Any],
    entries: Sequence[EntryRow],
    *,
    status: int,
    etag: str | None,
    last_modified: str | None,
    warning: str | None,
    now: datetime,
) -> Stored:
    """Store a feed's entries and its new state in one transaction: all of it, or none.

    A known entry with the same fingerprint is left alone; a changed one updates its item
    (posts already made are not made again: selection is by the rows in ``posts``).
    """
    item_type = feed["kind"]
    stamp = iso(now)
    stored = Stored()
    with store.write() as conn:
        known = _known(conn, item_type, feed["url"], [e.identity for e in entries])
        for entry in entries:
            item_id, fingerprint = known.get(entry.identity, (None, ""))
            if fingerprint == entry.fingerprint:
                stored.unchanged += 1
                continue
            if entry.skipped:
                stored.skipped += 1
                # An item made from an earlier, usable version of the entry stays as it was.
            elif item_id is not None:
                _update_item(conn, item_type, item_id, entry.changes, stamp)
                stored.updated += 1
            else:
                item_id = _insert_item(conn, item_type, entry.new, stamp)
                stored.new += 1
            conn.execute(
                "INSERT INTO feed_entries (item_type, feed_url, identity, feed_id, item_id, "
                "fingerprint, skipped, first_seen_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (item_type, feed_url, identity) DO UPDATE SET "
                "item_id = excluded.item_id, feed_id = excluded.feed_id, "
                "fingerprint = excluded.fingerprint, skipped = excluded.skipped, "
                "updated_at = excluded.updated_at",
                (
                    item_type,
                    feed["url"],
                    entry.identity,
                    feed["id"],
                    item_id,
                    entry.fingerprint,
                    entry.skipped,
                    stamp,
                    stamp,
                ),
            )
            known[entry.identity] = (item_id, entry.fingerprint)
        conn.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, last_status = ?, last_error = NULL, "
            "last_warning = ?, error_count = 0, next_poll_at = NULL, disabled = 0, "
            "disabled_reason = NULL, last_polled_at = ?, last_success_at = ?, updated_at = ? "
            "WHERE id = ?",
            (etag, last_modified, status, warning, stamp, stamp, stamp, feed["id"]),
        )
    return stored


def skipped_entries(store: Store, feed_id: int) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT identity, skipped, updated_at FROM feed_entries "
        "WHERE feed_id = ? AND skipped IS NOT NULL ORDER BY id",
        (feed_id,),
    )
