"""Selection: what is due, decided by state in the store, never by a time window.

After downtime, whatever was not yet posted is still due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from commsbot.channels.base import ChannelSettings
from commsbot.posting.accounts import refusal, takes_all
from commsbot.store import Store, from_iso
from commsbot.store import content as content_q
from commsbot.store import engagement as engagement_q
from commsbot.store import feeds as feeds_q
from commsbot.store import posts as posts_q
from commsbot.store import translations as translations_q

if TYPE_CHECKING:
    from commsbot.channels.base import EngagementPolling


def new_content(
    store: Store, accounts: dict[str, ChannelSettings], types: tuple[str, ...]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(account, type, item) for every published item an account takes (its filters)
    and has no post for."""
    feed_urls: dict[str, dict[int, str]] = {}
    for name, settings in accounts.items():
        for item_type in types:
            if settings.content_types and item_type not in settings.content_types:
                continue
            if settings.feeds and item_type not in feed_urls:
                feed_urls[item_type] = feeds_q.item_feed_urls(store, item_type)
            urls = feed_urls.get(item_type, {})
            if takes_all(settings):  # no filter to ask each item about
                for item in content_q.unposted(store, item_type, name):
                    yield name, item_type, item
                continue
            for item in content_q.unposted(store, item_type, name):
                translated: list[str] = []
                if settings.languages and settings.missing_translation == "skip":
                    translated = list(translations_q.of_item(store, item_type, item["id"]))
                if refusal(settings, item_type, item, urls.get(item["id"]), translated) is None:
                    yield name, item_type, item


def feed_url(store: Store, item_type: str, item_id: int) -> str | None:
    """The feed an item was read from, if it was."""
    return feeds_q.item_feed_urls(store, item_type).get(item_id)


def claim(
    store: Store, channel: str, now: datetime, limit: int, longest: timedelta
) -> list[dict[str, Any]]:
    """Due posts of a channel, marked ``sending`` before anything goes out. A retry time
    more than ``longest`` away was recorded by a clock far ahead: that post is due now."""
    return posts_q.claim_due(store, channel, now, limit, now + longest)


def interrupted(store: Store, channel: str) -> list[dict[str, Any]]:
    """Posts an interrupted run left ``sending``: the channel says what became of them.

    Every sender holds the store lock and sends a channel from one task at a time, so a
    post found ``sending`` before a dispatch starts belongs to no running send.
    """
    return posts_q.sending_posts(store, channel)


def channel_blocked(store: Store, channel: str, now: datetime) -> str | None:
    """Why a channel must not send now (down, or paused until a time), or None."""
    state = engagement_q.channel_state(store, channel)
    if state is None:
        return None
    if state["down_reason"]:
        return f"down: {state['down_reason']}"
    if state["paused_until"] and from_iso(state["paused_until"]) > now:
        return f"paused until {state['paused_until']}"
    return None


def engagement_due(
    store: Store, channel: str, polling: EngagementPolling, now: datetime
) -> list[dict[str, Any]]:
    """Sent posts young enough to poll whose last snapshot (or, never observed, their
    sending) is older than their interval; never observed first, then the longest waiting.

    A post is first polled one interval after it was sent: polling it in the run that
    sent it would only read zeros, a request per post.
    """
    due = []
    for row in engagement_q.poll_candidates(store, channel, now - polling.max_age):
        interval = polling.interval(now - from_iso(row["sent_at"]))
        # A tenth of slack, so a job run on the same interval does not skip every other turn.
        last = row["last_observed"] or row["sent_at"]
        if now - from_iso(last) >= interval * 0.9:
            due.append(row)
    due.sort(key=lambda r: r["last_observed"] or "")
    return due
