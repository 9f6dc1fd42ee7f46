"""Dispatch: hand due posts to their channels, paced, and pass the outcomes to record.

The pace, the guarded send and what each outcome means are ``commsbot.delivery``'s,
shared with digest fan-out; dispatch decides only which posts go and when a channel stops.

Channels run concurrently, each behind its own pace, so a slow or paused channel
never holds back another. A channel that is down or paused (its state is kept in the
store) is skipped; one that stops in the middle of a batch gives back what it did not
try. There is no SQL here: selection and recording do that.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from commsbot.channels.base import Channel, Delivery, Outcome, Rendered
from commsbot.clock import Clock
from commsbot.content import images
from commsbot.delivery import (
    Lane,
    Pacer,
    RetryPolicy,
    described,
    pacer_for,
    shared_pacers,
    stops_channel,
)
from commsbot.posting import record, select
from commsbot.store import Store, from_iso
from commsbot.store.service import LEFT_BY_CRASH

log = logging.getLogger("commsbot.dispatch")

# After this many transient failures in a row the platform is struggling: the rest of
# the channel's queue waits for the next run instead of each post failing in turn.
MAX_TRANSIENT_IN_A_ROW = 3

Progress = Callable[[int], None]


def to_rendered(row: dict[str, Any]) -> Rendered:
    """The post a channel receives, from its claimed (or interrupted) row."""
    payload = row["payload"]
    get = payload.get
    attempted_at = row["attempted_at"]
    # Positional, in Rendered's field order: keywords cost the call a dict a post (#15).
    return Rendered(
        row["id"],
        row["channel"],
        row["item_type"],
        row["item_ref"],
        row["text"],
        row["idempotency_key"],
        get("link"),
        get("title"),
        get("image"),
        get("image_alt"),
        tuple(get("thread") or ()),
        get("language"),
        tuple(get("images") or ()),
        tuple(get("images_alt") or ()),
        from_iso(attempted_at) if attempted_at else None,
    )


async def recover(
    store: Store,
    channel: Channel,
    clock: Clock,
    policy: RetryPolicy,
    why: str = LEFT_BY_CRASH,
) -> Counter[str]:
    """Let the channel say what became of posts an interrupted run left ``sending``;
    those it cannot tell about are ``unknown``, with ``why`` for the officer."""
    rows = select.interrupted(store, channel.name)
    if not rows:
        return Counter()
    posts = [to_rendered(row) for row in rows]
    try:
        deliveries = await channel.recover(posts)
    except Exception as exc:
        log.exception("channel %s raised while recovering posts", channel.name)
        error = f"interrupted while sending; recovery failed: {type(exc).__name__}: {exc}"
        deliveries = [Delivery.unknown(p.post_id, error) for p in posts]
    # A post the channel will send again is ``not_tried``: not charged for the interrupted
    # claim, since most of a claimed batch was never handed to the channel, and a process
    # killed again and again (an OOM loop, a crashing host) must not use up the attempts
    # of posts it never tried.
    deliveries = [replace(d, error=why) if d.outcome is Outcome.UNKNOWN else d for d in deliveries]
    log.warning("%s: %d post(s) left sending by an interrupted run", channel.name, len(rows))
    return record.apply(store, rows, deliveries, clock(), policy)


async def dispatch_channel(
    store: Store,
    channel: Channel,
    clock: Clock,
    policy: RetryPolicy,
    progress: Progress | None = None,
    shared: dict[str, Pacer] | None = None,
) -> Counter[str]:
    """Send everything due on one channel until none is left or the channel stops."""
    blocked = select.channel_blocked(store, channel.name, clock())
    if blocked:
        log.warning("%s not dispatched: %s", channel.name, blocked)
        return Counter(blocked=1)
    totals = await recover(store, channel, clock, policy)
    lane = Lane(channel, pacer_for(channel, channel.rate(), shared or shared_pacers([channel])))
    # An unlimited channel (the outbox) never waits: not even an await per post for it.
    paced = lane.paced
    transient = 0
    while True:
        claimed = select.claim(store, channel.name, clock(), channel.batch_size, policy.longest)
        if not claimed:
            return totals
        deliveries: list[Delivery] = []
        stop: Delivery | None = None
        # Each post described only when logged: a run --once logs warnings, not each post.
        logs_each = log.isEnabledFor(logging.INFO)
        for row in claimed:
            if stop is not None:
                # Back in the queue as it was, no attempt used.
                deliveries.append(Delivery.not_tried(row["id"]))
                continue
            post = to_rendered(row)
            if post.image or post.images:
                # Most posts have no image: looking for none costs more than its file.
                image, extra, missing = images.all_for_sending(store.path, post.image, post.images)
                if missing is not None:
                    # Never posted without its image: it fails, saying which, until it is back.
                    deliveries.append(Delivery.failed(post.post_id, missing))
                    log.warning("%s post %s: %s", channel.name, post.post_id, missing)
                    continue
                if image != post.image or extra != post.images:
                    post = replace(post, image=image, images=extra)
            if paced:
                await lane.ready()
            delivery = await lane.send(post.post_id, "post", channel.send, post)
            deliveries.append(delivery)
            if logs_each:
                log.info("%s post %s: %s", channel.name, post.post_id, described(delivery))
            if delivery.outcome is Outcome.SENT:
                # The common case first: it neither stops the channel nor is transient.
                transient = 0
            elif stops_channel(delivery):
                stop = delivery
            elif delivery.outcome is Outcome.RETRY_LATER:
                transient += 1
                if transient >= MAX_TRANSIENT_IN_A_ROW:
                    stop = delivery
            else:
                transient = 0
        await channel.flush()
        now = clock()
        totals += record.apply(store, claimed, deliveries, now, policy)
        if progress is not None:
            progress(len(claimed))
        if stop is not None:
            if stops_channel(stop):
                record.channel_stopped(store, channel.name, stop, now, policy)
            totals["stopped"] += 1
            return totals


async def dispatch(
    store: Store,
    channels: dict[str, Channel],
    clock: Clock,
    policy: RetryPolicy,
    progress: Progress | None = None,
) -> dict[str, Counter[str]]:
    """Dispatch every channel at once; returns outcome counts per channel."""
    names = list(channels)
    shared = shared_pacers(channels.values())
    results = await asyncio.gather(
        *(dispatch_channel(store, channels[n], clock, policy, progress, shared) for n in names)
    )
    return dict(zip(names, results, strict=True))
