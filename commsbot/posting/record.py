"""Record: the only place that turns delivery outcomes into post states."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from commsbot.channels.base import Delivery, Engagement
from commsbot.config import PostingConfig
from commsbot.store import Store, iso
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: int = 60
    backoff_max_seconds: int = 3600

    @classmethod
    def of(cls, posting: PostingConfig) -> RetryPolicy:
        return cls(
            posting.max_attempts, posting.retry_backoff_seconds, posting.retry_backoff_max_seconds
        )

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        """Exponential backoff (capped), or the platform's own wait when it gave one."""
        if retry_after is not None:
            # Zero is "queue it again now" (a post that was not attempted, or recovered).
            return timedelta(seconds=max(math.ceil(retry_after), 0))
        doubled = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(doubled, self.backoff_max_seconds))


def apply(
    store: Store,
    claimed: Sequence[dict[str, Any]],
    deliveries: Sequence[Delivery],
    now: datetime,
    policy: RetryPolicy,
) -> Counter[str]:
    """Write the outcome of each claimed post; returns how many ended in each state."""
    attempts = {row["id"]: row["attempts"] for row in claimed}
    results: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for d in deliveries:
        row: dict[str, Any] = {
            "id": d.post_id,
            "last_error": d.error,
            "attempts": attempts[d.post_id],
        }
        if d.status == "sent":
            row.update(
                status="sent", sent_at=iso(now), remote_id=d.remote_id, remote_url=d.remote_url
            )
        elif d.status == "retry":
            tried = attempts[d.post_id]
            if tried >= policy.max_attempts:
                row.update(status="failed", last_error=f"gave up after {tried} attempts: {d.error}")
            else:
                when = now + policy.delay(tried, d.retry_after)
                row.update(status="queued", next_attempt_at=iso(when))
        else:
            row["status"] = d.status
        counts["retrying" if row["status"] == "queued" else row["status"]] += 1
        results.append(row)
    posts_q.record_results(store, results, now)
    return counts


def channel_stopped(store: Store, channel: str, delivery: Delivery, now: datetime) -> None:
    """Keep why a channel stopped: down (until an officer clears it) or paused until a time."""
    if delivery.channel_down:
        reason = delivery.error or "the platform refused this channel"
        engagement_q.set_channel_state(store, channel, now, down_reason=reason)
    elif delivery.retry_after:
        until = now + timedelta(seconds=math.ceil(delivery.retry_after))
        engagement_q.set_channel_state(store, channel, now, paused_until=until)


def channel_cleared(store: Store, channel: str, now: datetime) -> None:
    """The channel works again (its credentials were checked): posting resumes."""
    engagement_q.set_channel_state(store, channel, now)


def engagement(store: Store, snapshots: Sequence[Engagement], now: datetime) -> int:
    """Append engagement snapshots; counts are states, each one replaces the last."""
    return engagement_q.add_snapshots(
        store,
        [
            {
                "post_id": e.post_id,
                "favourites": e.favourites,
                "boosts": e.boosts,
                "replies": e.replies,
                "reactions": e.reactions,
                "clicks": e.clicks,
                "quotes": e.extra.get("quotes", 0),
            }
            for e in snapshots
        ],
        now,
    )
