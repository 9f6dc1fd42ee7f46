"""Engagement collection: select the posts due a poll -> the channel counts -> record.

Each polled channel says its schedule (often while a post is new, then daily, up to a
maximum age); the channel keeps its own request budget. A channel that is down or
paused is left alone.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from commsbot.channels.base import Channel, Engagement, EngagementPolling
from commsbot.errors import ChannelError
from commsbot.posting import record, select
from commsbot.store import engagement as engagement_q

if TYPE_CHECKING:
    from datetime import datetime

    from commsbot.service.jobs import JobContext
    from commsbot.store import Store

log = logging.getLogger("commsbot.collect")


async def collect_channel(
    ctx: JobContext, channel: Channel, polling: EngagementPolling
) -> str | int:
    """Poll one channel; the number of snapshots recorded, or why there were none."""
    now = ctx.clock()
    blocked = select.channel_blocked(ctx.store, channel.name, now)
    if blocked:
        return blocked
    due = select.engagement_due(ctx.store, channel.name, polling, now)
    if not due:
        return 0
    try:
        counts = await channel.fetch_engagement([(r["id"], r["remote_id"]) for r in due])
    except ChannelError as exc:
        log.warning("%s engagement: %s", channel.name, exc)
        return str(exc)
    # A thread's own next post is a reply to its first: not one from the audience.
    own = {r["id"]: 1 if r["thread_parts"] else 0 for r in due}
    snapshots: list[Engagement] = [
        dataclasses.replace(e, replies=max(e.replies - own.get(e.post_id, 0), 0)) for e in counts
    ]
    return record.engagement(ctx.store, snapshots, ctx.clock())


async def collect_engagement(ctx: JobContext) -> dict[str, Any]:
    """The job: snapshots per polled channel (or the reason a channel gave none)."""
    results: dict[str, Any] = {}
    for name, channel in ctx.channels.items():
        polling = channel.engagement_polling()
        if polling is not None:
            results[name] = await collect_channel(ctx, channel, polling)
    return results


def record_reactions(
    store: Store, account: str, message_id: str, total: int, now: datetime
) -> int | None:
    """The reaction total on a message ``account`` posted, kept as an engagement snapshot
    of its post; that post's id, or None for a message commsbot did not post."""
    post_id = engagement_q.post_for_remote(store, account, message_id)
    if post_id is not None:
        engagement_q.add_snapshots(store, [{"post_id": post_id, "reactions": total}], now)
    return post_id
