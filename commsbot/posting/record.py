"""Record: writes delivery outcomes into post states (what each means is ``delivery.settle``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from commsbot.channels.base import Delivery, Engagement, Outcome
from commsbot.delivery import RetryPolicy, State, settle
from commsbot.store import Store, iso
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q

# A post waiting for another try is back in the queue.
POST_STATE: dict[State, str] = {
    "sent": "sent",
    "retry": "queued",
    "failed": "failed",
    "unknown": "unknown",
}


def apply(
    store: Store,
    claimed: Sequence[dict[str, Any]],
    deliveries: Sequence[Delivery],
    now: datetime,
    policy: RetryPolicy,
) -> Counter[str]:
    """Write the outcome of each claimed post; returns how many ended in each state."""
    attempts = {row["id"]: row["attempts"] for row in claimed}
    # Each outcome a tuple of posts_q.OUTCOMES' values (id, status, attempts, remote_id,
    # remote_url, last_error, next_attempt_at, sent_at): no dict a post (#15).
    results: list[tuple[Any, ...]] = []
    counts: Counter[str] = Counter()
    stamp = iso(now)
    for d in deliveries:
        settled = settle(d, attempts[d.post_id], now, policy)
        if settled.state == "sent":
            results.append(
                (
                    d.post_id,
                    "sent",
                    settled.attempts,
                    d.remote_id,
                    d.remote_url,
                    settled.error,
                    None,
                    stamp,
                )
            )
        else:
            retry_at = settled.next_attempt_at
            results.append(
                (
                    d.post_id,
                    POST_STATE[settled.state],
                    settled.attempts,
                    None,
                    None,
                    settled.error,
                    None if retry_at is None else iso(retry_at),
                    None,
                )
            )
        counts[settled.counted] += 1
    posts_q.record_outcomes(store, results, now)
    return counts


def channel_stopped(
    store: Store, channel: str, delivery: Delivery, now: datetime, policy: RetryPolicy
) -> None:
    """Keep why a channel stopped: down (until an officer clears it) or paused until a time."""
    if delivery.outcome is Outcome.CHANNEL_DOWN:
        reason = delivery.error or "the platform refused this channel"
        engagement_q.set_channel_state(store, channel, now, down_reason=reason)
    elif delivery.outcome is Outcome.RETRY_AFTER and delivery.retry_after:
        until = now + policy.platform_wait(delivery.retry_after)
        engagement_q.set_channel_state(store, channel, now, paused_until=until)


def opening(store: Store, failed: dict[str, str], opened: Iterable[str], now: datetime) -> None:
    """Keep which accounts the running service could not open and why, and that those
    ``opened`` are open, for status and the console to say."""
    for name, reason in failed.items():
        engagement_q.set_unopened(store, name, reason, now)
    for name in opened:
        engagement_q.set_unopened(store, name, None, now)


def clear_if_down(store: Store, channel: str, now: datetime) -> str | None:
    """The channel works again (its credentials were checked): a channel that was down
    resumes posting. Returns why it was down, or None when it was not."""
    state = engagement_q.channel_state(store, channel)
    if state is None or not state["down_reason"]:
        return None
    engagement_q.set_channel_state(store, channel, now)
    return str(state["down_reason"])


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
