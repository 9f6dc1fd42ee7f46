"""Queries for reference data (cities, themes, institutions) and content items."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from commsbot.store import Store, iso
from commsbot.store import translations as translations_q

# item type -> table; the JSON-encoded list columns of each.
TABLES: dict[str, str] = {
    "practice": "practices",
    "event": "events",
    "newsletter": "newsletters",
    "news": "news",
}
LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "practice": ("creative_sectors", "beneficiary_sectors", "tags", "images"),
    "newsletter": ("tags",),
    "news": ("tags",),
}
ORDER: dict[str, str] = {
    "practice": "id",
    "event": "start_date, id",
    "newsletter": "published, id",
    "news": "published, id",
}


def _decode(
    item_type: str, row: dict[str, Any], seen: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    """A row as an item: its list columns as lists, ``example`` as a bool. ``seen``: the
    lists decoded before, by their JSON, for a caller decoding many rows."""
    for column in LIST_COLUMNS.get(item_type, ()):
        value = row.get(column)
        if isinstance(value, str):
            # Most lists are empty: 30,000 json.loads a 10,000-item run saved (#15).
            if value == "[]":
                row[column] = []
            elif seen is not None and value in seen:
                # Items share a few tag and sector lists: each is read once, and every
                # item gets its own copy of it (lists of strings: a shallow copy is whole).
                row[column] = list(seen[value])
            else:
                row[column] = decoded = json.loads(value)
                if seen is not None and isinstance(decoded, list):
                    seen[value] = list(decoded)
    if "example" in row:
        row["example"] = bool(row["example"])
    return row


def _encode(item_type: str, item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for column in LIST_COLUMNS.get(item_type, ()):
        if column in out and not isinstance(out[column], str):
            out[column] = json.dumps(list(out[column]), ensure_ascii=False)
    if "example" in out:
        out["example"] = int(bool(out["example"]))
    return out


# -- reference data ------------------------------------------------------------


def insert_reference(
    store: Store,
    cities: Iterable[dict[str, Any]],
    themes: Iterable[dict[str, Any]],
    institutions: Iterable[dict[str, Any]] = (),
) -> None:
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO cities (slug, name, local_name, country, region, aliases) "
            "VALUES (:slug, :name, :local_name, :country, :region, :aliases) "
            "ON CONFLICT (slug) DO UPDATE SET name = excluded.name, "
            "local_name = excluded.local_name, country = excluded.country, "
            "region = excluded.region, aliases = excluded.aliases",
            [
                {
                    "local_name": None,
                    "region": None,
                    **c,
                    "aliases": json.dumps(list(c.get("aliases", ())), ensure_ascii=False),
                }
                for c in cities
            ],
        )
        conn.executemany(
            "INSERT INTO themes (slug, name, description) VALUES (:slug, :name, :description) "
            "ON CONFLICT (slug) DO UPDATE SET name = excluded.name, "
            "description = excluded.description",
            [{"description": "", **t} for t in themes],
        )
        conn.executemany(
            "INSERT INTO institutions (slug, name, city, lead_partner) "
            "VALUES (:slug, :name, :city, :lead_partner) ON CONFLICT (slug) DO UPDATE "
            "SET name = excluded.name, city = excluded.city, lead_partner = excluded.lead_partner",
            [{"lead_partner": False, **i} for i in institutions],
        )


def stored_reference(path: Path) -> tuple[list[str], list[str]]:
    """The slugs of the cities and themes a store holds, read only (the config checks its
    filters against them at load, before any migration); none without a store yet."""
    if not path.is_file():
        return [], []
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
            cities = [r[0] for r in conn.execute("SELECT slug FROM cities ORDER BY slug")]
            themes = [r[0] for r in conn.execute("SELECT slug FROM themes ORDER BY slug")]
    except sqlite3.Error:  # not a store, or one without reference data yet
        return [], []
    return cities, themes


def cities(store: Store) -> list[dict[str, Any]]:
    """The cities, each with ``aliases``: its names in other languages (exonyms)."""
    rows = store.rows("SELECT * FROM cities ORDER BY name")
    for row in rows:
        row["aliases"] = json.loads(row["aliases"])
    return rows


def themes(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT * FROM themes ORDER BY name")


def institutions(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT * FROM institutions ORDER BY city, name")


# -- content items -------------------------------------------------------------


def count(store: Store, item_type: str) -> int:
    return int(store.scalar(f"SELECT count(*) FROM {TABLES[item_type]}"))


def existing_slugs(store: Store, item_type: str, slugs: Sequence[str]) -> set[str]:
    table = TABLES[item_type]
    found: set[str] = set()
    # Chunked: SQLite caps the number of parameters in one statement.
    for start in range(0, len(slugs), 500):
        chunk = list(slugs[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        found.update(
            r[0]
            for r in store.conn.execute(f"SELECT slug FROM {table} WHERE slug IN ({marks})", chunk)
        )
    return found


def ids_by_slug(store: Store, item_type: str, slugs: Sequence[str]) -> dict[str, int]:
    table = TABLES[item_type]
    found: dict[str, int] = {}
    for start in range(0, len(slugs), 500):  # SQLite caps a statement's parameters
        chunk = list(slugs[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        found.update(
            (slug, item_id)
            for slug, item_id in store.conn.execute(
                f"SELECT slug, id FROM {table} WHERE slug IN ({marks})", chunk
            )
        )
    return found


def insert_items(
    store: Store, item_type: str, items: Sequence[dict[str, Any]], now: datetime
) -> int:
    """Insert validated items; the caller has checked slugs are new."""
    if not items:
        return 0
    table = TABLES[item_type]
    stamp = iso(now)
    rows = [{"created_at": stamp, "updated_at": stamp, **_encode(item_type, i)} for i in items]
    columns = list(rows[0])
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    with store.write() as conn:
        conn.executemany(sql, rows)
    return len(rows)


def update_item(
    store: Store, item_type: str, slug: str, changes: dict[str, Any], now: datetime
) -> None:
    table = TABLES[item_type]
    values = {**_encode(item_type, changes), "updated_at": iso(now)}
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    with store.write() as conn:
        conn.execute(
            f"UPDATE {table} SET {assignments} WHERE slug = :_slug", {**values, "_slug": slug}
        )


def delete_item(store: Store, item_type: str, item_id: int, now: datetime) -> int:
    """Delete an item; its posts not yet sent are cancelled, sent ones keep their history."""
    table = TABLES[item_type]
    with store.write() as conn:
        cancelled = conn.execute(
            "UPDATE posts SET status = 'cancelled', last_error = 'item removed', "
            "updated_at = ? WHERE item_type = ? AND item_id = ? "
            "AND status IN ('draft', 'pending_approval', 'queued', 'failed')",
            (iso(now), item_type, item_id),
        ).rowcount
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (item_id,))
        translations_q.remove_all(conn, item_type, item_id)
    return int(cancelled)


def get_item(store: Store, item_type: str, slug: str) -> dict[str, Any] | None:
    row = store.row(f"SELECT * FROM {TABLES[item_type]} WHERE slug = ?", (slug,))
    return None if row is None else _decode(item_type, row)


def get_item_by_id(store: Store, item_type: str, item_id: int) -> dict[str, Any] | None:
    row = store.row(f"SELECT * FROM {TABLES[item_type]} WHERE id = ?", (item_id,))
    return None if row is None else _decode(item_type, row)


# Where each type keeps the address a post links to.
LINKS = {"practice": "url", "event": "url", "newsletter": "url", "news": "link"}


def by_link(store: Store, url: str) -> dict[str, Any] | None:
    """The newest item of any type whose link is ``url``, with its ``item_type``."""
    for item_type, column in LINKS.items():
        row = store.row(
            f"SELECT * FROM {TABLES[item_type]} WHERE {column} = ? ORDER BY id DESC LIMIT 1",
            (url,),
        )
        if row is not None:
            return {**_decode(item_type, row), "item_type": item_type}
    return None


def list_items(
    store: Store,
    item_type: str,
    *,
    filters: dict[str, Any] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Items in their natural order, filtered by equality on the given columns."""
    table = TABLES[item_type]
    where = " AND ".join(f"{c} = :{c}" for c in (filters or {})) or "1"
    sql = f"SELECT * FROM {table} WHERE {where} ORDER BY {ORDER[item_type]}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return [_decode(item_type, r) for r in store.rows(sql, filters or {})]


def fts_query(words: str) -> str:
    """User words as FTS5 text: every word quoted, so no input is read as syntax."""
    # FTS5 reads a NUL as the end of the query text, and then as an unterminated string.
    terms = ['"' + w.replace('"', '""') + '"' for w in words.replace("\x00", " ").split()]
    return " ".join(terms)


def search_practices(store: Store, words: str, limit: int = 10) -> list[dict[str, Any]]:
    query = fts_query(words)
    if not query:
        return []
    rows = store.rows(
        "SELECT practices.* FROM practices_fts "
        "JOIN practices ON practices.id = practices_fts.rowid "
        "WHERE practices_fts MATCH ? AND practices.status = 'published' ORDER BY rank LIMIT ?",
        (query, limit),
    )
    return [_decode("practice", r) for r in rows]


def unposted(store: Store, item_type: str, channel: str) -> list[dict[str, Any]]:
    """Published items that have no post row for the channel yet (selection by state)."""
    table = TABLES[item_type]
    rows = store.rows(
        f"SELECT i.* FROM {table} i WHERE i.status = 'published' AND NOT EXISTS ("
        "SELECT 1 FROM posts p WHERE p.item_type = ? AND p.item_id = i.id AND p.channel = ?) "
        f"ORDER BY {', '.join('i.' + c.strip() for c in ORDER[item_type].split(','))}",
        (item_type, channel),
    )
    seen: dict[str, list[Any]] = {}
    return [_decode(item_type, r, seen) for r in rows]


def newest_slug(store: Store, item_type: str) -> str | None:
    """The slug of the item of this type added last."""
    found = store.scalar(f"SELECT slug FROM {TABLES[item_type]} ORDER BY id DESC LIMIT 1")
    return None if found is None else str(found)
