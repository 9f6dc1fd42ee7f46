"""Where a new post goes: its status (approval policy, backlog policy) and its time
(the channel's next free posting slot).

A post waiting for approval holds no slot: it takes the next free one when approved,
so a late approval never posts outside the channel's slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from commsbot.channels import channel_class
from commsbot.clock import local_text
from commsbot.config import Config
from commsbot.slots import SlotQueue, occurrences, parse_slots
from commsbot.store import Store, from_iso, iso
from commsbot.store import posts as posts_q
from commsbot.store import service as service_q

# The field that dates each content type, for the backlog policy.
DATE_FIELD = {"event": "end_date", "newsletter": "published", "news": "published"}


# Not frozen: one is built for each post planned, and a frozen dataclass sets each field
# through object.__setattr__ (#15). Nothing changes one once built.
@dataclass
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


def backlog_policy(config: Config, channel: str | None) -> str:
    """The channel's own backlog policy, else posting.backlog, else the safe default:
    approve on a real account, post on a preview one (the outbox shows the sample at once)."""
    own = config.channel(channel).backlog if channel else None
    if own or config.posting.backlog:
        return own or config.posting.backlog or "approve"
    preview = channel is not None and channel_class(config.channel(channel).kind).preview
    return "post" if preview else "approve"


def backlog_reason(
    config: Config,
    item_type: str,
    item: dict[str, Any],
    now: datetime,
    *,
    channel: str | None = None,
    enabled_at: datetime | None = None,
) -> str | None:
    """Why an item counts as backlog, or None when it is recent enough (or undated).

    Old by its date, or already in the store when the channel was first enabled: enabling
    an account never posts the back catalogue without the officer's say.
    """
    policy = backlog_policy(config, channel)
    when = content_date(item_type, item)
    limit = config.posting.backlog_after_days
    if when is not None and now - when > timedelta(days=limit):
        days = (now - when).days
        return (
            f"backlog: {item_type} {item.get('slug')!r} dates from {when:%Y-%m-%d}, "
            f"{days} days ago (posting.backlog_after_days = {limit}, backlog = {policy})"
        )
    added = _parse_date(item.get("created_at"))
    if enabled_at is not None and added is not None and added <= enabled_at:
        return (
            f"backlog: {item_type} {item.get('slug')!r} was in the store before {channel} was "
            f"first enabled ({local_text(enabled_at, config.zone)}; backlog = {policy})"
        )
    return None


class Placer:
    """Places new posts for one planning run; each channel's free slots are read once."""

    def __init__(self, store: Store, config: Config, now: datetime) -> None:
        self.store = store
        self.config = config
        self.now = now
        self._queues: dict[str, SlotQueue] = {}
        self._enabled: dict[str, datetime | None] = {}
        # Each channel's backlog policy, read once: reading it resolves the channel's class.
        self._policies: dict[str, str] = {}
        # Whether (type, channel) waits for approval, read once, not once a post.
        self._approve: dict[tuple[str, str], bool] = {}

    def enabled_at(self, channel: str) -> datetime | None:
        """When the channel was first enabled (recorded now, on its first run); None for
        a preview channel, which has no back catalogue to hold."""
        if channel not in self._enabled:
            preview = channel_class(self.config.channel(channel).kind).preview
            self._enabled[channel] = (
                None if preview else posts_q.first_enabled(self.store, channel, self.now)
            )
        return self._enabled[channel]

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
        policy = self._policies.get(channel)
        if policy is None:
            policy = self._policies[channel] = backlog_policy(self.config, channel)
        if item is not None and policy != "post":
            reason = backlog_reason(
                self.config,
                item_type,
                item,
                self.now,
                channel=channel,
                enabled_at=self.enabled_at(channel),
            )
            if reason and policy == "skip":
                return Placement("cancelled", self.now, f"skipped as {reason}")
            if reason and policy == "approve":
                return Placement("pending_approval", at or self.now, f"{reason}; approve to post")
        approve = self._approve.get((item_type, channel))
        if approve is None:
            approve = self.config.approval.policy(item_type, channel) == "approve"
            self._approve[item_type, channel] = approve
        if approve:
            return Placement("pending_approval", at or self.now)
        return Placement("queued", at or self.next_slot(channel))


def first_slot(
    store: Store, config: Config, channel: str, now: datetime
) -> tuple[datetime, dict[str, Any] | None]:
    """The channel's earliest coming slot (``now`` without slots) and the queued post that
    holds it, to be moved; a slot held by a post already on its way is passed over."""
    slots = parse_slots(config.channel(channel).slots)
    for moment in occurrences(slots, config.zone, now):
        marks = ", ".join("?" * len(service_q.HOLDS_SLOT))
        holder = store.row(
            f"SELECT * FROM posts WHERE channel = ? AND not_before = ? AND status IN ({marks}) "
            "ORDER BY id LIMIT 1",
            (channel, iso(moment), *service_q.HOLDS_SLOT),
        )
        if holder is None or holder["status"] in ("queued", "draft"):
            return moment, holder
    return now, None


def approval_time(store: Store, config: Config, post: dict[str, Any], now: datetime) -> datetime:
    """When an approved post goes out: its own time if still ahead, else its channel's
    next free slot (or now, on a channel without slots)."""
    own = from_iso(post["not_before"])
    if own >= now:
        return own
    return Placer(store, config, now).next_slot(post["channel"])
