"""Read queries the bot answers from: pages of practices, events by date, the outbox at a glance.

Only published content is shown to chat users; columns are chosen for speed, since a reply
should take milliseconds with tens of thousands of practices.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from commsbot.store import Store
from commsbot.store import content as content_q
from commsbot.store import translations as translations_q

PRACTICE_COLUMNS = "id, slug, title, city, theme, url, language"
SEARCH_WINDOW = 60
# A letter or digit run; underscore separates words, as in the index's tokenizer.
_WORD_RE = re.compile(r"[^\W_]+")
# The combining diacritical mark blocks: what the tokenizer's remove_diacritics drops.
_DIACRITICS = dict.fromkeys(
    [
        *range(0x0300, 0x0370),
        *range(0x1AB0, 0x1B00),
        *range(0x1DC0, 0x1E00),
        *range(0x20D0, 0x2100),
        *range(0xFE20, 0xFE30),
    ]
)


def practices_page(
    store: Store, city: str | None, theme: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of published practices (newest first) and how many there are in all."""
    clauses, params = ["status = 'published'"], []
    for column, value in (("city", city), ("theme", theme)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = " AND ".join(clauses)
    if params:
        total = int(store.scalar(f"SELECT count(*) FROM practices WHERE {where}", params))
    else:
        # A whole table's count is read from b-tree pages, not row by row; the few that
        # are not published come from two index ranges ('!=' would scan).
        total = int(
            store.scalar(
                "SELECT (SELECT count(*) FROM practices) - (SELECT count(*) FROM practices "
                "WHERE status < 'published' OR status > 'published')"
            )
        )
    rows = store.rows(
        f"SELECT {PRACTICE_COLUMNS} FROM practices WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset),
    )
    return rows, total


# What a search reads of each item type: its table, the columns shown, whether it has a
# city, and the full-text index of its own text (translations have one of their own).
SEARCHED = {
    "practice": ("practices", PRACTICE_COLUMNS, True),
    "event": ("events", "id, slug, title, kind, city, start_date, end_date, url", True),
    "newsletter": ("newsletters", "id, slug, title, number, published, url", False),
    "news": ("news", "id, slug, title, city, theme, link, published, language", True),
}


def search_practices(
    store: Store, words: str, limit: int, cities: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Published practices found by ``search_items``."""
    return search_items(store, "practice", words, limit, cities)


def search_items(
    store: Store, item_type: str, words: str, limit: int, cities: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Published items of a type (practices, events, newsletters, news) that mention every
    word in the original or in a translation, newest first, with those that have every
    word in the title ahead of the rest; with ``cities``, only theirs (and with no words,
    their newest items). A type without cities (newsletters) has none with ``cities``.

    Only the newest ``SEARCH_WINDOW`` matches are considered: they come from the full-text
    index in rowid order, which stops there. A ranked search (bm25) scores every match,
    and a title-only query scans every practice when few titles match: hundreds of
    milliseconds for common words in 50,000 practices.
    """
    table, columns, has_city = SEARCHED[item_type]
    if cities and not has_city:
        return []
    query = content_q.fts_query(words)
    in_cities = ""
    if cities:
        in_cities = f" AND city IN ({', '.join('?' * len(cities))})"
    if not query:
        if not cities:
            return []
        return store.rows(
            f"SELECT {columns} FROM {table} WHERE status = 'published'{in_cities} "
            "ORDER BY id DESC LIMIT ?",
            (*cities, limit),
        )
    rows = store.rows(
        f"SELECT {columns} FROM {table} WHERE status = 'published'{in_cities} "
        f"AND id IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ? "
        "ORDER BY rowid DESC LIMIT ?) ORDER BY id DESC",
        (*cities, query, SEARCH_WINDOW),
    )
    # Matches in translations are a second query: one "id IN (…) OR id IN (…)" would make
    # SQLite scan every practice (2 ms became 11 ms with 50,000 of them).
    translated = translations_q.matching_items(store, item_type, query, SEARCH_WINDOW)
    if translated:
        seen = {row["id"] for row in rows}
        rows += [
            row
            for row in store.rows(
                f"SELECT {columns} FROM {table} WHERE status = 'published'"
                f"{in_cities} AND id IN ({', '.join('?' * len(translated))})",
                (*cities, *translated),
            )
            if row["id"] not in seen
        ]
        rows.sort(key=lambda row: row["id"], reverse=True)
    wanted = index_words(words)
    rows.sort(key=lambda row: not wanted <= index_words(row["title"]))  # stable: newest first
    return rows[:limit]


def index_words(text: str) -> set[str]:
    """The words of a text as the full-text index sees them (unicode61, no diacritics)."""
    plain = unicodedata.normalize("NFKD", text.casefold()).translate(_DIACRITICS)
    return set(_WORD_RE.findall(plain))


def practice_counts(store: Store, column: str) -> dict[str, int]:
    """Published practices per city or per theme."""
    assert column in ("city", "theme")
    return {
        row["key"]: row["n"]
        for row in store.rows(
            f"SELECT {column} AS key, count(*) AS n FROM practices "
            f"WHERE status = 'published' GROUP BY {column}"
        )
    }


def events(store: Store, today: str, *, upcoming: bool, limit: int) -> list[dict[str, Any]]:
    """Published events not yet over (soonest first), or over (latest first)."""
    if upcoming:
        sql = "end_date >= ? ORDER BY start_date, id"
    else:
        sql = "end_date < ? ORDER BY start_date DESC, id DESC"
    return store.rows(
        f"SELECT * FROM events WHERE status = 'published' AND {sql} LIMIT ?", (today, limit)
    )


def outcomes(store: Store, limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The latest events with an outcome, and totals over all of them."""
    rows = store.rows(
        "SELECT * FROM events WHERE status = 'published' AND outcome != '' "
        "ORDER BY end_date DESC, id DESC LIMIT ?",
        (limit,),
    )
    totals = store.row(
        "SELECT count(*) AS events, coalesce(sum(participants), 0) AS participants, "
        "count(participants) AS counted "
        "FROM events WHERE status = 'published' AND outcome != ''"
    )
    assert totals is not None
    return rows, totals


def latest_newsletter(store: Store) -> dict[str, Any] | None:
    return store.row(
        "SELECT * FROM newsletters WHERE status = 'published' "
        "ORDER BY published DESC, id DESC LIMIT 1"
    )


def open_posts(store: Store, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Posts not yet out (or needing a look), due first, and how many there are."""
    where = "status IN ('pending_approval', 'queued', 'sending', 'failed', 'unknown')"
    total = int(store.scalar(f"SELECT count(*) FROM posts WHERE {where}"))
    rows = store.rows(
        f"SELECT id, channel, status, item_type, item_ref, not_before, text, last_error "
        f"FROM posts WHERE {where} ORDER BY not_before, id LIMIT ?",
        (limit,),
    )
    return rows, total


def channel_states(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT * FROM channel_state ORDER BY channel")


def active_subscribers(store: Store) -> dict[str, int]:
    """Active subscribers per channel."""
    return {
        row["channel"]: row["n"]
        for row in store.rows(
            "SELECT channel, count(*) AS n FROM subscribers WHERE status = 'active' "
            "GROUP BY channel"
        )
    }
