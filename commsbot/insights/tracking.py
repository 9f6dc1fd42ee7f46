"""Movement tracking jobs: channel -> store, nothing else.

``snapshot-audience`` records how many follow each channel and how many subscribe to
digests on each. ``track-movement`` has each tracking Mastodon or Bluesky account read
the campaign hashtags and its own mentions, from where that account last stopped and
within ``[movement] requests_per_run`` of its own allowance (the servers count requests
per account), stores their public statuses, then reads fresh counts of recent ones with
what is left of its budget. A rate limit or a revoked token stops that account alone.
Each channel kind brings its own reader (``MovementReader``); the rest is shared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from commsbot.errors import ChannelError
from commsbot.posting import select
from commsbot.store import Store, iso
from commsbot.store import movement as movement_q

if TYPE_CHECKING:
    from commsbot.channels.mastodon_timelines import PublicStatus, Reading, Refresh
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


class MovementReader(Protocol):
    """What a channel's reader gives ``track-movement``: statuses newer than a source's
    cursor (whose form is the reader's own), fresh counts, and the requests it made."""

    requests: int
    used: int
    # Statuses one refresh request asks for.
    per_request: int

    async def hashtag(
        self, tag: str, newest_id: str | None, page_size: int, max_pages: int
    ) -> Reading: ...

    async def mentions(self, newest_id: str | None, page_size: int, max_pages: int) -> Reading: ...

    async def refresh(self, remote_ids: Sequence[str]) -> Refresh: ...


@runtime_checkable
class TracksMovement(Protocol):
    """A channel that reads the movement as its account (Mastodon, Bluesky)."""

    async def timeline_reader(self, requests: int) -> MovementReader: ...


@dataclass
class Tracked:
    """What one run of ``track-movement`` did with one account."""

    account: str
    new: int = 0
    seen: int = 0
    skipped: int = 0
    refreshed: int = 0
    removed: int = 0
    requests: int = 0
    stopped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The run as one line, naming the account (for status and the logs)."""
        return f"{self.account}: {self}"

    def __str__(self) -> str:
        # What ``run --once`` prints after the account's name.
        line = (
            f"new {self.new}, seen again {self.seen - self.new}, not public {self.skipped}, "
            f"refreshed {self.refreshed}, removed {self.removed}, requests {self.requests}"
        )
        return "; ".join([line, *self.stopped])


def _row(status: PublicStatus, *, mention: bool, tag: str | None) -> dict[str, Any]:
    return {
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
    """The job: each tracking account in turn reads its sources, then refreshes counts."""
    result: dict[str, Any] = {}
    for name in ctx.config.movement_accounts():
        try:
            result[name] = await _track_account(ctx, name)
        except ChannelError as exc:
            # One account's revoked token or unreachable server: the others still read.
            log.warning("%s movement: %s", name, exc)
            result[name] = f"not read: {exc}"
    return result or {
        "skipped": "no Mastodon or Bluesky account that tracks the movement is enabled"
    }


async def _track_account(ctx: JobContext, name: str) -> Tracked | str:
    """One account's run: new statuses of every source, oldest-read first, then refreshes;
    or why it was not read."""
    # Any object: whether it reads the movement is what the protocol check says.
    channel: object = ctx.channels.get(name)
    if not isinstance(channel, TracksMovement):
        return f"skipped: the {name} channel is not open"
    blocked = select.channel_blocked(ctx.store, name, ctx.clock())
    if blocked:
        return f"skipped: {name} is {blocked}"
    cfg = ctx.config.movement
    reader = await channel.timeline_reader(cfg.requests_per_run)
    tracked = Tracked(name)
    # Tags as the config spells them: each reader asks its platform in its own way.
    sources: dict[str, str | None] = {movement_q.tag_source(t): t for t in cfg.hashtags}
    if cfg.mentions:
        sources[movement_q.MENTIONS] = None
    read = movement_q.cursors(ctx.store, name)
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
        await _refresh(ctx, reader, name, timedelta(days=cfg.refresh_days), tracked)
    tracked.requests = reader.used
    return tracked


async def _read_source(
    ctx: JobContext,
    reader: MovementReader,
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
    # Stored by the tag's lower-case name: tags ignore case.
    stored = None if tag is None else tag.lower()
    rows = [_row(s, mention=tag is None, tag=stored) for s in reading.statuses]
    tracked.new += movement_q.record_reading(
        ctx.store, account, source, rows, reading.newest_id, ctx.clock()
    )
    tracked.seen += len(rows)
    tracked.skipped += reading.skipped
    if reading.stopped is None:
        return False
    label = "mentions" if stored is None else f"#{stored}"
    tracked.stopped.append(f"{label}: {reading.stopped}")
    # A page limit holds back only this source; the budget or the server stop them all.
    return "movement.max_pages" not in reading.stopped


async def _refresh(
    ctx: JobContext, reader: MovementReader, account: str, age: timedelta, tracked: Tracked
) -> None:
    """Fresh counts for recent statuses, with the requests left (``per_request`` each)."""
    left = reader.requests - reader.used
    if left <= 0:
        return
    now = ctx.clock()
    due = movement_q.refresh_due(
        ctx.store, account, now - age, now - REFRESH_EVERY, left * reader.per_request
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
    tracked.removed += movement_q.update_counts(ctx.store, account, counts, refresh.gone, now)
    tracked.refreshed += len(counts)
    if refresh.stopped:
        tracked.stopped.append(f"refresh: {refresh.stopped}")


def forget_account(store: Store, handle: str) -> tuple[int, int]:
    """Remove every stored status and mention of an account: (statuses, mentions) removed."""
    return movement_q.forget_account(store, handle)
