"""Translations of items' text fields, and the language each bot chat chose.

One row per (item, language) with only the fields translated (NULL where the original
shows); a full-text index over them lets search find an item by any of its languages.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, iso

# The text fields a translation may carry; each item type uses those it has.
FIELDS = ("title", "summary", "body", "outcome", "image_alt")


def put_translation(
    store: Store,
    item_type: str,
    item_id: int,
    language: str,
    fields: dict[str, str],
    now: datetime,
    *,
    sample: bool = False,
) -> None:
    """Add or change a translation; fields not given keep what the translation had."""
    assert set(fields) <= set(FIELDS), fields
    stamp = iso(now)
    columns = list(fields)
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*columns, "sample", "updated_at"])
    with store.write() as conn:
        conn.execute(
            f"INSERT INTO translations (item_type, item_id, language, "
            f"{''.join(c + ', ' for c in columns)}sample, created_at, updated_at) "
            f"VALUES (?, ?, ?, {''.join('?, ' for _ in columns)}?, ?, ?) "
            f"ON CONFLICT (item_type, item_id, language) DO UPDATE SET {updates}",
            (item_type, item_id, language, *fields.values(), int(sample), stamp, stamp),
        )


def remove_translation(store: Store, item_type: str, item_id: int, language: str) -> bool:
    with store.write() as conn:
        return bool(
            conn.execute(
                "DELETE FROM translations WHERE item_type = ? AND item_id = ? AND language = ?",
                (item_type, item_id, language),
            ).rowcount
        )


def remove_all(conn: Any, item_type: str, item_id: int) -> None:
    """Within a caller's transaction: an item's translations go with the item."""
    conn.execute(
        "DELETE FROM translations WHERE item_type = ? AND item_id = ?", (item_type, item_id)
    )


def of_items(
    store: Store, item_type: str, item_ids: Sequence[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    """item id -> language -> its translated fields (only those set) and ``sample``."""
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for start in range(0, len(item_ids), 500):  # SQLite caps a statement's parameters
        chunk = list(item_ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        for row in store.rows(
            f"SELECT * FROM translations WHERE item_type = ? AND item_id IN ({marks}) "
            "ORDER BY language",
            (item_type, *chunk),
        ):
            fields: dict[str, Any] = {f: row[f] for f in FIELDS if row[f] is not None}
            fields["sample"] = bool(row["sample"])
            found.setdefault(row["item_id"], {})[row["language"]] = fields
    return found


def of_item(store: Store, item_type: str, item_id: int) -> dict[str, dict[str, Any]]:
    return of_items(store, item_type, [item_id]).get(item_id, {})


def matching_items(store: Store, item_type: str, fts_query: str, limit: int) -> list[int]:
    """Ids of items of a type whose translations match a full-text query, newest first."""
    return [
        row["item_id"]
        for row in store.rows(
            "SELECT DISTINCT item_id FROM translations WHERE item_type = ? AND id IN ("
            "SELECT rowid FROM translations_fts WHERE translations_fts MATCH ?) "
            "ORDER BY item_id DESC LIMIT ?",
            (item_type, fts_query, limit),
        )
    ]


def chat_language(store: Store, chat_hash: str) -> str | None:
    """The language a chat chose with /language, if it chose one."""
    value = store.scalar("SELECT language FROM chat_languages WHERE chat_hash = ?", (chat_hash,))
    return None if value is None else str(value)


def set_chat_language(store: Store, chat_hash: str, language: str, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO chat_languages (chat_hash, language, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_hash) DO UPDATE SET language = excluded.language, "
            "updated_at = excluded.updated_at",
            (chat_hash, language, iso(now)),
        )


def languages_of(store: Store, item_type: str, item_ids: Iterable[int]) -> dict[int, list[str]]:
    """item id -> the languages it has translations in."""
    return {
        item_id: sorted(by_language)
        for item_id, by_language in of_items(store, item_type, list(item_ids)).items()
    }
