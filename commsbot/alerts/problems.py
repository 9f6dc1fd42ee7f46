"""What needs the officer now, read from the store: each problem by a stable name (the
alert's dedup key) with the facts its message tells."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from commsbot.config import Config
from commsbot.store import Store, from_iso
from commsbot.store import alerts as q

Found = dict[str, tuple[str, dict[str, Any]]]

# A platform's short "wait" (flood control) passes before anyone could act: an account
# paused for less than this is not worth an alert.
PAUSE_WORTH_TELLING = timedelta(minutes=5)

# Which [alerts] problems setting each post status belongs to.
_POST_PROBLEMS = {"pending_approval": "approval", "failed": "failed", "unknown": "unknown"}


def found(store: Store, config: Config, now: datetime, unopened: Iterable[str] = ()) -> Found:
    """Every problem ``[alerts] problems`` asks about: name -> (kind, facts).

    ``unopened`` names enabled accounts this run could not open (only a run knows).
    """
    wanted = set(config.alerts.problems)
    problems: Found = {}
    statuses = tuple(s for s, p in _POST_PROBLEMS.items() if p in wanted)
    if statuses:
        from commsbot.channels import markup_of
        from commsbot.text import telegram_visible

        for post in q.posts_in(store, statuses):
            kind = _POST_PROBLEMS[post["status"]]
            text = post["text"] or ""
            # A post stored as HTML (Telegram's) is quoted as its readers will see it.
            if markup_of(config, post["channel"]) == "html":
                text = telegram_visible(text)
            problems[f"post:{post['id']}:{post['status']}"] = (
                kind,
                {
                    "post": post["id"],
                    "account": post["channel"],
                    "error": post["last_error"] or "",
                    "text": text,
                },
            )
    if "account" in wanted:
        for state in q.troubled_accounts(store, now):
            name = state["channel"]
            if state["down_reason"]:
                problems[f"account:{name}:down"] = (
                    "account_down",
                    {"account": name, "error": state["down_reason"]},
                )
            elif from_iso(state["paused_until"]) - now >= PAUSE_WORTH_TELLING:
                problems[f"account:{name}:paused"] = (
                    "account_paused",
                    {"account": name, "until": state["paused_until"]},
                )
        for name in unopened:
            problems[f"account:{name}:unopened"] = ("account_unopened", {"account": name})
    if "feed" in wanted:
        for feed in q.disabled_feeds(store):
            problems[f"feed:{feed['id']}:disabled"] = (
                "feed",
                {"url": feed["url"], "error": feed["disabled_reason"] or feed["last_error"] or ""},
            )
    if "digest" in wanted:
        for row in q.failed_digest_deliveries(store):
            # The count is in the facts, not the name: more failures of one digest are
            # still one problem.
            problems[f"digest:{row['digest_id']}:failed"] = (
                "digest",
                {"period": row["period"], "count": row["failed"], "error": row["error"] or ""},
            )
    return problems
