"""Dispatch: hand due posts to their channels, paced, and pass the outcomes to record.

Channels run concurrently, each behind its own pace, so a slow or paused channel
never holds back another. There is no SQL here: selection and recording do that.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commsbot import record, select
from commsbot.channels.base import Channel, Delivery, Rendered
from commsbot.store import Store

log = logging.getLogger("commsbot.dispatch")

Clock = Callable[[], datetime]
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
    )


class Pacer:
    """Spaces sends to a channel's rate; an unlimited channel is never made to wait.

    Each caller reserves its slot before sleeping, so concurrent senders sharing one
    pacer get distinct slots instead of waking together.
    """

    def __init__(self, rate_per_second: float) -> None:
        self.interval = 0.0 if math.isinf(rate_per_second) else 1.0 / rate_per_second
        self.next_at = 0.0

    async def wait(self) -> None:
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


async def send_one(channel: Channel, post: Rendered) -> Delivery:
    try:
        return await channel.send(post)
    except Exception as exc:  # a channel bug must not take down the others
        log.exception("channel %s raised on post %s", channel.name, post.post_id)
        # The platform may have published it: never resend blindly.
        return Delivery(post.post_id, "unknown", error=f"{type(exc).__name__}: {exc}")


async def dispatch_channel(
    store: Store,
    channel: Channel,
    clock: Clock,
    policy: record.RetryPolicy,
    progress: Progress | None = None,
) -> Counter[str]:
    """Send everything due on one channel until none is left or the channel pauses."""
    pacer = Pacer(channel.rate())
    totals: Counter[str] = Counter()
    while True:
        claimed = select.claim(store, channel.name, clock(), channel.batch_size)
        if not claimed:
            return totals
        deliveries: list[Delivery] = []
        paused: Delivery | None = None
        for row in claimed:
            post = to_rendered(row)
            if paused is not None:
                # Not attempted: back in the queue when the pause ends, no attempt used.
                deliveries.append(
                    Delivery(
                        post.post_id, "retry", error=paused.error, retry_after=paused.retry_after
                    )
                )
                row["attempts"] -= 1
                continue
            await pacer.wait()
            delivery = await send_one(channel, post)
            deliveries.append(delivery)
            log.info(
                "%s post %s: %s%s",
                channel.name,
                post.post_id,
                delivery.status,
                f" ({delivery.error})" if delivery.error else "",
            )
            if delivery.channel_down or (delivery.status == "retry" and delivery.retry_after):
                paused = delivery
        totals += record.apply(store, claimed, deliveries, clock(), policy)
        if progress is not None:
            progress(len(claimed))
        if paused is not None:
            totals["paused"] += 1
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
    results = await asyncio.gather(
        *(dispatch_channel(store, channels[n], clock, policy, progress) for n in names)
    )
    return dict(zip(names, results, strict=True))
