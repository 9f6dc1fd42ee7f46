"""Where a new post goes: its status (approval policy, backlog policy) and its time
(the channel's next free posting slot).

A post waiting for approval holds no slot: it takes the next free one when approved,
so a late approval never posts outside the channel's slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from commsbot.config import Config
from commsbot.slots import SlotQueue, parse_slots
from commsbot.store import Store, from_iso
from commsbot.store import service as service_q

# The field that dates each content type, for the backlog policy.
DATE_FIELD = {"event": "end_date", "newsletter": "published", "news": "published"}


@dataclass(frozen=True)
class Placement:
    status: str  # queued, pending_approval or cancelled
    not_before: datetime
    # Why, when the backlog policy decided: kept in the post's last_error.
    note: str | None = None


def _parse_date(value: Any) -> datetime | None:
    """An ISO date or time as stored ("2013-06-30", "2026-11-20T08:30:00Z"); None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def content_date(item_type: str, item: dict[str, Any]) -> datetime | None:
    """When an item happened: an event's end, a publication date, else when it was added."""
    found = _parse_date(item.get(DATE_FIELD.get(item_type, "created_at")))
    return found or _parse_date(item.get("created_at"))


def backlog_reason(
    config: Config, item_type: str, item: dict[str, Any], now: datetime
) -> str | None:
    """Why an item counts as backlog, or None when it is recent enough (or undated)."""
    when = content_date(item_type, item)
    limit = config.posting.backlog_after_days
    if when is None or now - when <= timedelta(days=limit):
        return None
    days = (now - when).days
    return (
        f"backlog: {item_type} {item.get('slug')!r} dates from {when:%Y-%m-%d}, {days} days ago "
        f"(posting.backlog_after_days = {limit}, backlog = {config.posting.backlog})"
    )


class Placer:
    """Places new posts for one planning run; each channel's free slots are read once."""

    def __init__(self, store: Store, config: Config, now: datetime) -> None:
        self.store = store
        self.config = config
        self.now = now
        self._queues: dict[str, SlotQueue] = {}

    def next_slot(self, channel: str) -> datetime:
        """The channel's next free slot, now held by the caller; ``now`` without slots."""
        queue = self._queues.get(channel)
        if queue is None:
            slots = parse_slots(self.config.channel(channel).slots)
            taken = service_q.taken_slots(self.store, channel, self.now) if slots else set()
            queue = SlotQueue(slots, self.config.zone, self.now, taken)
            self._queues[channel] = queue
        return queue.take()

    def place(
        self,
        item_type: str,
        channel: str,
        item: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> Placement:
        """Status and time of a new post: ``at`` when given, else the next free slot."""
        # With backlog = "post", old content is placed like new: no need to date it.
        if item is not None and self.config.posting.backlog != "post":
            reason = backlog_reason(self.config, item_type, item, self.now)
            if reason and self.config.posting.backlog == "skip":
                return Placement("cancelled", self.now, f"skipped as {reason}")
            if reason and self.config.posting.backlog == "approve":
                return Placement("pending_approval", at or self.now, f"{reason}; approve to post")
        if self.config.approval.policy(item_type, channel) == "approve":
            return Placement("pending_approval", at or self.now)
        return Placement("queued", at or self.next_slot(channel))


def approval_time(store: Store, config: Config, post: dict[str, Any], now: datetime) -> datetime:
    """When an approved post goes out: its own time if still ahead, else its channel's
    next free slot (or now, on a channel without slots)."""
    own = from_iso(post["not_before"])
    if own >= now:
        return own
    return Placer(store, config, now).next_slot(post["channel"])
