"""Movement tracking jobs: channel -> store, nothing else.

``snapshot-audience`` records how many follow each channel and how many subscribe to
digests on each. ``track-movement`` reads the Mastodon timelines of the campaign
hashtags and the mentions of our account, from where the last run stopped and within
``[movement] requests_per_run``, stores their public statuses, then reads fresh counts
of recent ones with what is left of the budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from commsbot.errors import ChannelError
from commsbot.posting import select
from commsbot.store import Store, iso
from commsbot.store import movement as movement_q

if TYPE_CHECKING:
    from commsbot.channels.mastodon_timelines import PublicStatus, TimelineReader
    from commsbot.service.jobs import JobContext

log = logging.getLogger("commsbot.tracking")

# Counts read less than this long ago are not read again.
REFRESH_EVERY = timedelta(hours=1)


async def snapshot_audience(ctx: JobContext) -> dict[str, Any]:
    """The job: each open channel's audience and each channel's digest subscribers."""
    now = ctx.clock()
    sizes: list[tuple[str, str, int]] = []
    result: dict[str, Any] = {}
    for name, channel in ctx.channels.items():
        blocked = select.channel_blocked(ctx.store, name, now)
        if blocked:
            result[name] = blocked
            continue
        try:
            size = await channel.audience_size()
        except ChannelError as exc:
            log.warning("%s audience: %s", name, exc)
            result[name] = str(exc)
            continue
        if size is not None:
            sizes.append((name, "audience", size))
            result[name] = size
    for name, active in movement_q.subscriber_counts(ctx.store).items():
        sizes.append((name, "subscribers", active))
        result[f"{name} subscribers"] = active
    movement_q.add_audience(ctx.store, sizes, now)
    return result


@dataclass
class Tracked:
    """What one run of ``track-movement`` did."""

    new: int = 0
    seen: int = 0
    skipped: int = 0
    refreshed: int = 0
    removed: int = 0
    requests: int = 0
    stopped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        line = (
            f"new {self.new}, seen again {self.seen - self.new}, not public {self.skipped}, "
            f"refreshed {self.refreshed}, removed {self.removed}, requests {self.requests}"
        )
        return "; ".join([line, *self.stopped])


def _row(status: PublicStatus, *, channel: str, mention: bool, tag: str | None) -> dict[str, Any]:
    return {
        # Replies are matched to the posts of the account that reads them.
        "channel": channel,
        "remote_id": status.remote_id,
        "acct": status.acct,
        "account_url": status.account_url,
        "created_at": iso(status.created_at),
        "language": status.language,
        "url": status.url,
        "favourites": status.favourites,
        "boosts": status.boosts,
        "replies": status.replies,
        "own": int(status.own),
        "mention": int(mention),
        "in_reply_to_id": status.in_reply_to_id,
        "tag": tag,
    }


async def track_movement(ctx: JobContext) -> dict[str, Any]:
    """The job: new statuses of every source, oldest-read source first, then refreshes."""
    from commsbot.channels.mastodon import MastodonChannel

    name = ctx.config.movement_account() or "mastodon"
    channel = ctx.channels.get(name)
    if not isinstance(channel, MastodonChannel):
        return {"skipped": f"the {name} channel is not open"}
    blocked = select.channel_blocked(ctx.store, name, ctx.clock())
    if blocked:
        return {"skipped": f"{name} is {blocked}"}
    cfg = ctx.config.movement
    reader = await channel.timeline_reader(cfg.requests_per_run)
    tracked = Tracked()
    # Tags by their lower-case name, as Mastodon files them.
    sources: dict[str, str | None] = {movement_q.tag_source(t): t.lower() for t in cfg.hashtags}
    if cfg.mentions:
        sources[movement_q.MENTIONS] = None
    read = movement_q.cursors(ctx.store)
    # The source that waited longest goes first, so a tight budget serves each in turn.
    order = sorted(sources, key=lambda s: read[s]["read_at"] if s in read else "")
    stop = False
    for source in order:
        stop = await _read_source(
            ctx, reader, name, source, sources[source], read.get(source), tracked
        )
        if stop:
            break
    if cfg.refresh_days and not stop:
        await _refresh(ctx, reader, timedelta(days=cfg.refresh_days), tracked)
    tracked.requests = reader.used
    return {"movement": tracked}


async def _read_source(
    ctx: JobContext,
    reader: TimelineReader,
    account: str,
    source: str,
    tag: str | None,
    cursor: dict[str, Any] | None,
    tracked: Tracked,
) -> bool:
    """Read one source (a tag's timeline, or mentions when ``tag`` is None) and store what
    it found; True when the whole run must stop."""
    cfg = ctx.config.movement
    newest = cursor["newest_id"] if cursor else None
    if tag is None:
        reading = await reader.mentions(newest, cfg.page_size, cfg.max_pages)
    else:
        reading = await reader.hashtag(tag, newest, cfg.page_size, cfg.max_pages)
    rows = [_row(s, channel=account, mention=tag is None, tag=tag) for s in reading.statuses]
    tracked.new += movement_q.record_reading(
        ctx.store, source, rows, reading.newest_id, ctx.clock()
    )
    tracked.seen += len(rows)
    tracked.skipped += reading.skipped
    if reading.stopped is None:
        return False
    label = "mentions" if tag is None else f"#{tag}"
    tracked.stopped.append(f"{label}: {reading.stopped}")
    # A page limit holds back only this source; the budget or the server stop them all.
    return "movement.max_pages" not in reading.stopped


async def _refresh(
    ctx: JobContext, reader: TimelineReader, age: timedelta, tracked: Tracked
) -> None:
    """Fresh counts for recent statuses, with the requests left (20 statuses each)."""
    from commsbot.channels.mastodon_api import STATUSES_PER_REQUEST

    left = reader.requests - reader.used
    if left <= 0:
        return
    now = ctx.clock()
    due = movement_q.refresh_due(
        ctx.store, now - age, now - REFRESH_EVERY, left * STATUSES_PER_REQUEST
    )
    if not due:
        return
    refresh = await reader.refresh(due)
    counts = [
        {
            "remote_id": s.remote_id,
            "favourites": s.favourites,
            "boosts": s.boosts,
            "replies": s.replies,
        }
        for s in refresh.statuses
    ]
    tracked.removed += movement_q.update_counts(ctx.store, counts, refresh.gone, now)
    tracked.refreshed += len(counts)
    if refresh.stopped:
        tracked.stopped.append(f"refresh: {refresh.stopped}")


def forget_account(store: Store, handle: str) -> tuple[int, int]:
    """Remove every stored status and mention of an account: (statuses, mentions) removed."""
    return movement_q.forget_account(store, handle)
