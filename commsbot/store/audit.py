"""The audit trail of each post: who did what to it and when (#17)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commsbot.store import Store, iso


def record(
    store: Store, post_ids: list[int], actor: str, action: str, now: datetime, detail: str = ""
) -> None:
    """One audit row per post, in the caller's transaction when there is one."""
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO post_audit (post_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
            [(pid, iso(now), actor, action, detail) for pid in post_ids],
        )


def trail(store: Store, post_id: int) -> list[dict[str, Any]]:
    """A post's history, oldest first: its audit rows, plus its creation by the service
    and its sending, which the pipeline records on the post itself."""
    post = store.row("SELECT created_at, sent_at, remote_url FROM posts WHERE id = ?", (post_id,))
    if post is None:
        return []
    rows = store.rows(
        "SELECT at, actor, action, detail FROM post_audit WHERE post_id = ? ORDER BY at, id",
        (post_id,),
    )
    if not any(r["action"] == "created" for r in rows):
        rows.insert(
            0,
            {
                "at": post["created_at"],
                "actor": "service",
                "action": "created",
                "detail": "planned from content",
            },
        )
    if post["sent_at"]:
        rows.append(
            {
                "at": post["sent_at"],
                "actor": "service",
                "action": "sent",
                "detail": post["remote_url"] or "",
            }
        )
    rows.sort(key=lambda r: r["at"])
    return rows
