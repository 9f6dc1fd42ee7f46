"""The outbox: one row per (item, channel), written before any network call."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from commsbot.store import Store, from_iso, iso
from commsbot.store.migrations import mark_post_stats_days, post_stats_rows
from commsbot.text import json_encoding

STATUSES = (
    "draft",
    "pending_approval",
    "queued",
    "sending",
    "sent",
    "failed",
    "cancelled",
    "unknown",
)
# What a comms officer may still change; sending/sent/cancelled are history.
OPEN = ("draft", "pending_approval", "queued", "failed", "unknown")


def idempotency_key(store_id: str, item_type: str, item_id: int, channel: str) -> str:
    """Stable per (store, item, channel): a retry after a crash sends the same key."""
    raw = f"{store_id}:{item_type}:{item_id}:{channel}".encode()
    return "commsbot-" + hashlib.sha256(raw).hexdigest()[:32]


# json.dumps(payload, ensure_ascii=False) as one encoder, not one built for each post
# (a payload holds no cycles).
_PAYLOAD_JSON = json_encoding.encoder(ensure_ascii=False)


_INSERTED = (
    "item_type",
    "item_id",
    "item_ref",
    "channel",
    "status",
    "text",
    "payload",
    "item_version",
    "not_before",
    "last_error",
    "idempotency_key",
    "created_at",
    "updated_at",
)
# Rows a statement: their parameters stay well within SQLite's limit of 32,766.
_BATCH_ROWS = 1000


def _values(width: int, rows: int) -> str:
    """``VALUES`` of ``rows`` rows of ``width`` parameters each."""
    row = "(" + ", ".join("?" * width) + ")"
    return "VALUES " + ", ".join([row] * rows)


@functools.lru_cache(maxsize=4)
def _insert_sql(rows: int) -> str:
    """An insert of ``rows`` posts in one statement. Rows one a statement (executemany) cost
    a statement journal each: the insert trigger's functions (SQLite counts any as able to
    abort) make SQLite keep one: close to a third of the insert's instructions (#15)."""
    return f"INSERT OR IGNORE INTO posts ({', '.join(_INSERTED)}) {_values(len(_INSERTED), rows)}"


def insert_posts(store: Store, posts: Sequence[dict[str, Any]], now: datetime) -> int:
    """Add outbox rows; a row for an (item, channel) that already has one is ignored."""
    if not posts:
        return 0
    store_id = store.meta("store_id") or ""
    stamp = iso(now)
    width = len(_INSERTED)
    # The rows' parameters in one flat list, in _INSERTED's order, each payload encoded as
    # it is added: no dict a row and no second pass to flatten them (#15).
    values: list[Any] = []
    for p in posts:
        payload = p.get("payload", "{}")
        values += (
            p["item_type"],
            p["item_id"],
            p["item_ref"],
            p["channel"],
            p["status"],
            p["text"],
            payload if isinstance(payload, str) else _PAYLOAD_JSON(payload),
            p.get("item_version"),
            p["not_before"],
            p.get("last_error"),
            idempotency_key(store_id, p["item_type"], p["item_id"], p["channel"]),
            stamp,
            stamp,
        )
    with store.write() as conn:
        before = conn.total_changes
        step = _BATCH_ROWS * width
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            conn.execute(_insert_sql(len(chunk) // width), chunk)
        return conn.total_changes - before


def insert_announcement(
    store: Store,
    text: str,
    link: str | None,
    template: str,
    now: datetime,
    language: str | None = None,
) -> int:
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO announcements (text, link, template, created_at, language) "
            "VALUES (?, ?, ?, ?, ?)",
            (text, link, template, iso(now), language),
        )
        return int(cur.lastrowid or 0)


def held_beyond(store: Store, beyond: datetime, limit: int) -> list[dict[str, Any]]:
    """Queued posts whose retry time lies beyond ``beyond``: held unusually long."""
    return store.rows(
        "SELECT * FROM posts WHERE status = 'queued' AND next_attempt_at > ? "
        "ORDER BY next_attempt_at DESC LIMIT ?",
        (iso(beyond), limit),
    )


def get_announcement(store: Store, announcement_id: int) -> dict[str, Any] | None:
    return store.row("SELECT * FROM announcements WHERE id = ?", (announcement_id,))


# A batch's ids, bound as one JSON list: every batch size shares one prepared statement.
_IDS = "(SELECT value FROM json_each(?))"


# What a claimed post's send and record read (``dispatch.to_rendered``, ``record.apply``),
# not all ~25 columns, and the attempt this claim makes counted already (#15).
_CLAIMED = (
    "SELECT id, channel, item_type, item_id, item_ref, text, idempotency_key, attempts + 1, "
    "attempted_at, payload FROM posts WHERE channel = ? AND status = 'queued' "
    "AND not_before <= ? "
    "AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR next_attempt_at > ?) "
    "ORDER BY not_before, id LIMIT ?"
)


def claim_due(
    store: Store, channel: str, now: datetime, limit: int, beyond: datetime
) -> list[dict[str, Any]]:
    """Mark up to ``limit`` due posts ``sending`` and return them (the columns a send and
    its record read), in one transaction.

    Due: its time has come, and its retry time has passed or lies beyond ``beyond``.
    """
    stamp = iso(now)
    with store.write() as conn:
        found = conn.execute(_CLAIMED, (channel, stamp, stamp, iso(beyond), limit)).fetchall()
        # One statement for the batch, not one a post: half the claim's time (#15). The
        # ids by the primary key (+status: not along the status index).
        conn.execute(
            "UPDATE posts SET status = 'sending', attempts = attempts + 1, updated_at = ?, "
            f"attempted_at = ? WHERE id IN {_IDS} AND +status = 'queued'",
            (stamp, stamp, json.dumps([r[0] for r in found])),
        )
    # The rows keep the previous attempted_at: the channel needs to know about that attempt.
    # The batch's payloads (each one JSON object, as insert_posts wrote it) decoded in one
    # call, not one a row: ~7 K fewer instructions a post (#15). Each row's dict written
    # out, not zipped from the cursor's names.
    payloads = json.loads(f"[{','.join(r[9] for r in found)}]")
    return [
        {
            "id": post_id,
            "channel": channel_name,
            "item_type": item_type,
            "item_id": item_id,
            "item_ref": item_ref,
            "text": text,
            "idempotency_key": key,
            "attempts": attempts,
            "attempted_at": attempted_at,
            "payload": payload,
        }
        for (
            post_id,
            channel_name,
            item_type,
            item_id,
            item_ref,
            text,
            key,
            attempts,
            attempted_at,
            _,
        ), payload in zip(found, payloads, strict=True)
    ]


def sending_posts(store: Store, channel: str) -> list[dict[str, Any]]:
    """Posts of a channel in ``sending``."""
    rows = store.rows(
        "SELECT * FROM posts WHERE channel = ? AND status = 'sending' ORDER BY id", (channel,)
    )
    for r in rows:
        r["payload"] = json.loads(r["payload"])
    return rows


# The statistics rows of a record's sent posts, in one statement (migration 31: the
# trigger leaves sending -> sent to it), with their days marked once a batch (migration
# 34): the day of a row replaced before, the days of the rows written after.
_SENT_STATS = (
    "UPDATE post_stats_days SET mark = random() WHERE day IN (SELECT substr(sent_at, 1, 10) "
    f"FROM post_stats WHERE post_id IN {_IDS})",
    "INSERT OR REPLACE INTO post_stats " + post_stats_rows(f"p.id IN {_IDS}"),
    mark_post_stats_days(_IDS[1:-1]),
)

# Every outcome of a batch in one statement (a key left out is NULL): a third less of the
# record's time than a statement a post; bound as rows of values rather than read from a
# JSON list, which SQLite parsed once a post again for its eight values (#15).
OUTCOMES = (
    "id",
    "status",
    "attempts",
    "remote_id",
    "remote_url",
    "last_error",
    "next_attempt_at",
    "sent_at",
)


# Outcomes a statement: SQLite prepares a statement of a thousand rows' values (once a
# run) in about as long as it takes to run it, and a tenth of it runs as fast a row (#15).
_OUTCOME_ROWS = 100


@functools.lru_cache(maxsize=4)
def _record_sql(rows: int) -> str:
    """The record of ``rows`` outcomes, then the time they were recorded."""
    return (
        f"WITH r ({', '.join(OUTCOMES)}) AS ({_values(len(OUTCOMES), rows)}) "
        "UPDATE posts SET status = r.status, attempts = r.attempts, "
        "remote_id = coalesce(r.remote_id, posts.remote_id), "
        "remote_url = coalesce(r.remote_url, posts.remote_url), last_error = r.last_error, "
        "next_attempt_at = r.next_attempt_at, sent_at = r.sent_at, updated_at = ? "
        "FROM r WHERE posts.id = r.id AND +posts.status = 'sending'"
    )


def record_outcomes(store: Store, outcomes: Sequence[tuple[Any, ...]], now: datetime) -> None:
    """Write delivery outcomes, each a tuple of ``OUTCOMES``' values in that order (None:
    NULL; tuples, not dicts, so no dict a post is built and read back, #15); only posts
    still ``sending`` are changed. The sent ones get their ``post_stats`` row in the same
    transaction."""
    if not outcomes:
        return
    sent = [o[0] for o in outcomes if o[1] == "sent"]
    with store.write() as conn:
        for start in range(0, len(outcomes), _OUTCOME_ROWS):
            chunk = outcomes[start : start + _OUTCOME_ROWS]
            conn.execute(_record_sql(len(chunk)), [*chain.from_iterable(chunk), iso(now)])
        if sent:
            ids = (json.dumps(sent),)
            for statement in _SENT_STATS:
                conn.execute(statement, ids)


def get_post(store: Store, post_id: int) -> dict[str, Any] | None:
    row = store.row("SELECT * FROM posts WHERE id = ?", (post_id,))
    if row is not None:
        row["payload"] = json.loads(row["payload"])
    return row


def posts_for_item(store: Store, item_type: str, item_id: int) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT * FROM posts WHERE item_type = ? AND item_id = ? ORDER BY id", (item_type, item_id)
    )


def _where(status: str | None, channel: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if channel:
        clauses.append("channel = ?")
        params.append(channel)
    return " AND ".join(clauses) or "1", params


def list_posts(
    store: Store,
    *,
    status: str | None = None,
    channel: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Posts, oldest due first: ``limit`` of them (None: all) from ``offset``."""
    where, params = _where(status, channel)
    return store.rows(
        f"SELECT * FROM posts WHERE {where} ORDER BY not_before, id LIMIT ? OFFSET ?",
        (*params, -1 if limit is None else limit, offset),
    )


def count_posts(store: Store, *, status: str | None = None, channel: str | None = None) -> int:
    """How many posts ``list_posts`` would list without a limit."""
    where, params = _where(status, channel)
    return int(store.scalar(f"SELECT count(*) FROM posts WHERE {where}", params))


def change_post(
    store: Store,
    post_id: int,
    allowed_from: Sequence[str],
    now: datetime,
    **changes: Any,
) -> bool:
    """Apply changes if the post is in one of ``allowed_from``; False when it is not."""
    if "payload" in changes and not isinstance(changes["payload"], str):
        changes["payload"] = json.dumps(changes["payload"], ensure_ascii=False)
    values = {**changes, "updated_at": iso(now)}
    assignments = ", ".join(f"{c} = :{c}" for c in values)
    marks = ", ".join(f":_s{i}" for i in range(len(allowed_from)))
    params = {**values, "_id": post_id, **{f"_s{i}": s for i, s in enumerate(allowed_from)}}
    with store.write() as conn:
        cur = conn.execute(
            f"UPDATE posts SET {assignments} WHERE id = :_id AND status IN ({marks})", params
        )
        return cur.rowcount == 1


def status_counts(store: Store) -> list[dict[str, Any]]:
    return store.rows(
        "SELECT channel, status, count(*) AS posts FROM posts GROUP BY channel, status "
        "ORDER BY channel, status"
    )


def first_enabled(store: Store, channel: str, now: datetime) -> datetime:
    """When the channel first took part in a run; ``now`` (and so recorded) the first time."""
    with store.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO channel_enabled (channel, first_enabled_at) VALUES (?, ?)",
            (channel, iso(now)),
        )
    return from_iso(
        str(
            store.scalar(
                "SELECT first_enabled_at FROM channel_enabled WHERE channel = ?", (channel,)
            )
        )
    )
