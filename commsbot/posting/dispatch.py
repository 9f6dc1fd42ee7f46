"""Dispatch: hand due posts to their channels, paced, and pass the outcomes to record.

Channels run concurrently, each behind its own pace, so a slow or paused channel
never holds back another. A channel that is down or paused (its state is kept in the
store) is skipped; one that stops in the middle of a batch gives back what it did not
try. There is no SQL here: selection and recording do that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from commsbot.channels.base import Channel, Delivery, Rendered
from commsbot.clock import Clock
from commsbot.posting import record, select
from commsbot.store import Store, from_iso
from commsbot.store.service import LEFT_BY_CRASH

log = logging.getLogger("commsbot.dispatch")

# After this many transient failures in a row the platform is struggling: the rest of
# the channel's queue waits for the next run instead of each post failing in turn.
MAX_TRANSIENT_IN_A_ROW = 3

Progress = Callable[[int], None]


def to_rendered(row: dict[str, Any]) -> Rendered:
    payload = row["payload"]
    return Rendered(
        post_id=row["id"],
        channel=row["channel"],
        item_type=row["item_type"],
        item_ref=row["item_ref"],
        text=row["text"],
        idempotency_key=row["idempotency_key"],
        link=payload.get("link"),
        title=payload.get("title"),
        image=payload.get("image"),
        image_alt=payload.get("image_alt"),
        thread=tuple(payload.get("thread") or ()),
        language=payload.get("language"),
        previous_attempt_at=from_iso(row["attempted_at"]) if row.get("attempted_at") else None,
    )


class Pacer:
    """Spaces sends to a channel's rate; an unlimited channel is never made to wait.

    Each caller reserves its slot before sleeping, so concurrent senders sharing one
    pacer get distinct slots instead of waking together. ``shared`` is a limit the
    account shares with others (one Telegram bot's for all its chats): a send waits for
    its own slot, then for one of the shared limit.
    """

    def __init__(self, rate_per_second: float, shared: Pacer | None = None) -> None:
        self.interval = 0.0 if math.isinf(rate_per_second) else 1.0 / rate_per_second
        self.next_at = 0.0
        self.shared = shared

    async def wait(self) -> None:
        await self._wait()
        if self.shared is not None:
            await self.shared._wait()

    async def _wait(self) -> None:
        if not self.interval:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self.next_at)
        self.next_at = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now (the platform asked us to wait)."""
        now = asyncio.get_running_loop().time()
        self.next_at = max(self.next_at, now + seconds)


def shared_pacers(channels: Iterable[Channel]) -> dict[str, Pacer]:
    """One pacer per limit that accounts share (``Channel.rate_group``), for one run."""
    pacers: dict[str, Pacer] = {}
    for channel in channels:
        group = channel.rate_group()
        if group is not None:
            key, rate = group
            pacer = pacers.setdefault(key, Pacer(rate))
            # Accounts may set different rates for one bot: the lowest is kept.
            pacer.interval = max(pacer.interval, Pacer(rate).interval)
    return pacers


def pacer_for(channel: Channel, rate: float, shared: dict[str, Pacer]) -> Pacer:
    """An account's own pacer at ``rate``, behind the limit it shares, if any."""
    group = channel.rate_group()
    return Pacer(rate, shared[group[0]] if group is not None else None)


async def send_one(channel: Channel, post: Rendered) -> Delivery:
    try:
        return await channel.send(post)
    except Exception as exc:  # a channel bug must not take down the others
        log.exception("channel %s raised on post %s", channel.name, post.post_id)
        # The platform may have published it: never resend blindly.
        return Delivery(post.post_id, "unknown", error=f"{type(exc).__name__}: {exc}")


def _stops_channel(delivery: Delivery) -> bool:
    """A rejected token or a platform's "wait until": the channel's trouble, not the post's."""
    return delivery.channel_down or (delivery.status == "retry" and bool(delivery.retry_after))


async def recover(
    store: Store,
    channel: Channel,
    clock: Clock,
    policy: record.RetryPolicy,
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
        deliveries = [Delivery(p.post_id, "unknown", error=error) for p in posts]
    deliveries = [replace(d, error=why) if d.status == "unknown" else d for d in deliveries]
    # A post sent again is not charged for the interrupted claim: most of a claimed batch
    # was never handed to the channel, and a process killed again and again (an OOM
    # loop, a crashing host) must not use up the attempts of posts it never tried.
    again = {d.post_id for d in deliveries if d.status == "retry"}
    for row in rows:
        if row["id"] in again:
            row["attempts"] -= 1
    log.warning("%s: %d post(s) left sending by an interrupted run", channel.name, len(rows))
    return record.apply(store, rows, deliveries, clock(), policy)


async def dispatch_channel(
    store: Store,
    channel: Channel,
    clock: Clock,
    policy: record.RetryPolicy,
    progress: Progress | None = None,
    shared: dict[str, Pacer] | None = None,
) -> Counter[str]:
    """Send everything due on one channel until none is left or the channel stops."""
    blocked = select.channel_blocked(store, channel.name, clock())
    if blocked:
        log.warning("%s not dispatched: %s", channel.name, blocked)
        return Counter(blocked=1)
    totals = await recover(store, channel, clock, policy)
    pacer = pacer_for(channel, channel.rate(), shared or shared_pacers([channel]))
    transient = 0
    while True:
        claimed = select.claim(store, channel.name, clock(), channel.batch_size)
        if not claimed:
            return totals
        deliveries: list[Delivery] = []
        stop: Delivery | None = None
        for row in claimed:
            post = to_rendered(row)
            if stop is not None:
                # Not attempted: back in the queue as it was, no attempt used.
                deliveries.append(Delivery(post.post_id, "retry", retry_after=0))
                row["attempts"] -= 1
                continue
            await pacer.wait()
            delivery = await send_one(channel, post)
            deliveries.append(
                # A post held back by a down channel goes as soon as the channel is back.
                dataclasses.replace(delivery, retry_after=0) if delivery.channel_down else delivery
            )
            log.info(
                "%s post %s: %s%s",
                channel.name,
                post.post_id,
                delivery.status,
                f" ({delivery.error})" if delivery.error else "",
            )
            if _stops_channel(delivery):
                row["attempts"] -= 1
                stop = delivery
            elif delivery.status == "retry":
                transient += 1
                if transient >= MAX_TRANSIENT_IN_A_ROW:
                    stop = delivery
            else:
                transient = 0
        now = clock()
        totals += record.apply(store, claimed, deliveries, now, policy)
        if progress is not None:
            progress(len(claimed))
        if stop is not None:
            if _stops_channel(stop):
                record.channel_stopped(store, channel.name, stop, now)
            totals["stopped"] += 1
            return totals


async def dispatch(
    store: Store,
    channels: dict[str, Channel],
    clock: Clock,
    policy: record.RetryPolicy,
    progress: Progress | None = None,
) -> dict[str, Counter[str]]:
    """Dispatch every channel at once; returns outcome counts per channel."""
    names = list(channels)
    shared = shared_pacers(channels.values())
    results = await asyncio.gather(
        *(dispatch_channel(store, channels[n], clock, policy, progress, shared) for n in names)
    )
    return dict(zip(names, results, strict=True))
