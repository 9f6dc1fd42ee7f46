"""The service's own records: job runs, scheduled next runs, slots held, interrupted sends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from commsbot.store import Store, from_iso, iso

# Posts that hold their slot: everything still going out, or gone out, at that time.
HOLDS_SLOT = ("draft", "queued", "sending", "sent", "unknown")
INTERRUPTED = (
    "the service stopped while this post was being sent; check the channel before "
    "retrying it (commsbot queue retry)"
)
LEFT_BY_CRASH = (
    "a commsbot process ended while this post was being sent; check the channel before "
    "retrying it (commsbot queue retry)"
)


# -- job runs ------------------------------------------------------------------


def start_run(store: Store, job: str, now: datetime) -> int:
    with store.write() as conn:
        cur = conn.execute("INSERT INTO job_runs (job, started_at) VALUES (?, ?)", (job, iso(now)))
        return int(cur.lastrowid or 0)


def finish_run(
    store: Store, run_id: int, now: datetime, outcome: str, error: str | None = None
) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE job_runs SET finished_at = ?, outcome = ?, error = ? WHERE id = ?",
            (iso(now), outcome, error, run_id),
        )


def last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """Per job: its latest run, and its latest error (with when) if it ever had one."""
    latest = store.rows(
        "SELECT * FROM job_runs r WHERE id = (SELECT max(id) FROM job_runs WHERE job = r.job)"
    )
    errors = store.rows(
        "SELECT job, started_at AS error_at, error AS last_error FROM job_runs r WHERE id = "
        "(SELECT max(id) FROM job_runs WHERE job = r.job AND error IS NOT NULL)"
    )
    found = {r["job"]: r for r in latest}
    for e in errors:
        found[e["job"]].update(e)
    return found


# -- the service's long-running parts --------------------------------------------


def set_part_state(
    store: Store,
    part: str,
    state: str,
    detail: str | None,
    now: datetime,
    *,
    kind: str | None = None,
    account: str | None = None,
    next_try: datetime | None = None,
) -> None:
    """Record that ``part`` is 'running' or has 'failed' (``detail``: why; ``next_try``:
    when it is tried again). ``kind`` is the part it is a copy of, ``account`` the copy's.
    A failure after a failure keeps ``failing_since``, the first of them."""
    failed = iso(now) if state == "failed" else None
    with store.write() as conn:
        conn.execute(
            "INSERT INTO part_state (part, state, detail, since, kind, account, failing_since, "
            "next_try) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (part) DO UPDATE SET state = excluded.state, "
            "detail = excluded.detail, since = excluded.since, kind = excluded.kind, "
            "account = excluded.account, next_try = excluded.next_try, failing_since = "
            "CASE WHEN part_state.state = 'failed' AND excluded.state = 'failed' "
            "THEN coalesce(part_state.failing_since, excluded.failing_since) "
            "ELSE excluded.failing_since END",
            (part, state, detail, iso(now), kind, account, failed, next_try and iso(next_try)),
        )


def forget_parts(store: Store, keep: Iterable[str]) -> None:
    """Forget the states of the parts not in ``keep`` (no longer started): those kept
    stay as they were until their part records anew, so a failure that goes on across a
    restart of the service is still the one failure, since its first time."""
    kept = list(keep)
    marks = ", ".join("?" * len(kept))
    with store.write() as conn:
        conn.execute(f"DELETE FROM part_state WHERE part NOT IN ({marks})", kept)


def part_states(store: Store) -> dict[str, dict[str, Any]]:
    return {r["part"]: r for r in store.rows("SELECT * FROM part_state")}


def failing_parts(store: Store) -> list[dict[str, Any]]:
    """The parts whose last try to start failed, longest failing first."""
    return store.rows(
        "SELECT * FROM part_state WHERE state = 'failed' ORDER BY failing_since, part"
    )


# -- what the running service has scheduled -------------------------------------


def set_schedule_state(store: Store, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Replace the whole table: rows of schedule, job, next_run_at (a datetime or None)."""
    stamp = iso(now)
    with store.write() as conn:
        conn.execute("DELETE FROM schedule_state")
        conn.executemany(
            "INSERT INTO schedule_state (schedule, job, next_run_at, updated_at) "
            "VALUES (?, ?, ?, ?)",
            [
                (
                    r["schedule"],
                    r["job"],
                    iso(r["next_run_at"]) if r["next_run_at"] else None,
                    stamp,
                )
                for r in rows
            ],
        )


def schedule_state(store: Store) -> dict[str, dict[str, Any]]:
    return {r["schedule"]: r for r in store.rows("SELECT * FROM schedule_state")}


# -- slots ---------------------------------------------------------------------


def taken_slots(store: Store, channel: str, since: datetime) -> set[datetime]:
    """The times from ``since`` on at which the channel already has a post."""
    marks = ", ".join("?" * len(HOLDS_SLOT))
    rows = store.conn.execute(
        f"SELECT DISTINCT not_before FROM posts WHERE channel = ? AND not_before >= ? "
        f"AND status IN ({marks})",
        (channel, iso(since), *HOLDS_SLOT),
    )
    return {from_iso(r[0]) for r in rows}


def posts_between(
    store: Store, channel: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The channel's posts due in [start, end) that hold a slot, for the calendar."""
    marks = ", ".join("?" * len(HOLDS_SLOT))
    return store.rows(
        "SELECT id, item_type, item_ref, status, not_before FROM posts WHERE channel = ? "
        f"AND not_before >= ? AND not_before < ? AND status IN ({marks}) ORDER BY not_before, id",
        (channel, iso(start), iso(end), *HOLDS_SLOT),
    )


# -- shutdown and status -------------------------------------------------------


def mark_interrupted(
    store: Store, now: datetime, why: str, *, besides: Sequence[str] = ()
) -> list[int]:
    """Posts left ``sending`` by a stopped run become ``unknown``: the platform may have
    them. Channels in ``besides`` are left to recover their own posts (they can look them
    up). Only safe while holding the store lock (no other process is sending)."""
    marks = ", ".join("?" * len(besides))
    where = f"status = 'sending' AND channel NOT IN ({marks})"
    with store.write() as conn:
        ids = [r[0] for r in conn.execute(f"SELECT id FROM posts WHERE {where}", (*besides,))]
        conn.execute(
            f"UPDATE posts SET status = 'unknown', last_error = ?, updated_at = ? WHERE {where}",
            (why, iso(now), *besides),
        )
    return ids


def channel_states(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT * FROM channel_state ORDER BY channel")
