"""Delivery: pacing, the guarded send, outcomes and retries, shared by posts and digests.

Posting (``posting.dispatch``/``posting.record``) and digest fan-out (``digests.send``)
both hand messages to channels and write back what happened. Everything that decides
*how* a send is made and *what its outcome means* lives here, once: the pace of a
channel, the send that turns a channel's exception into ``unknown``, and ``settle``,
which reads each named ``Outcome`` into the state its row takes. A fix here is a fix
for both paths. The SQL stays in ``store``: callers write what ``settle`` decided.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, TypeVar

from commsbot.channels.base import Channel, Delivery, Outcome
from commsbot.config import PostingConfig
from commsbot.store import iso

log = logging.getLogger("commsbot.delivery")

# The state a row takes: each path spells "retry" in its own table ("queued" for posts).
State = Literal["sent", "retry", "failed", "unknown"]
# What a lane hands its channel: a post (Rendered) or a direct message.
Message = TypeVar("Message")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a transient failure is retried (``[posting]`` settings)."""

    max_attempts: int = 5
    backoff_seconds: int = 60
    backoff_max_seconds: int = 3600

    @classmethod
    def of(cls, posting: PostingConfig) -> RetryPolicy:
        return cls(
            posting.max_attempts, posting.retry_backoff_seconds, posting.retry_backoff_max_seconds
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff after ``attempts`` tries, capped."""
        doubled = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(doubled, self.backoff_max_seconds))

    @property
    def longest(self) -> timedelta:
        """The longest a retry may wait: a retry time further away was recorded by a clock
        that was wrong (far ahead), and is not honoured."""
        return timedelta(seconds=self.backoff_max_seconds)

    def platform_wait(self, retry_after: float | None) -> timedelta:
        """A platform's own "retry after", capped too: a platform's "retry in a year" must
        not hold a post (or pause a channel) for a year."""
        if retry_after is None or math.isnan(retry_after) or retry_after <= 0:
            return timedelta(0)
        if math.isinf(retry_after):
            return self.longest
        return timedelta(seconds=min(math.ceil(retry_after), self.backoff_max_seconds))


@dataclass(frozen=True)
class Settled:
    """What one delivery means for its row, decided the same way for posts and digests."""

    state: State
    # The word the run reports it under: sent, retrying, failed, bounced, unknown.
    counted: str
    error: str | None
    # The attempts the row has used once this one is settled (a send that was not the
    # post's fault is not charged).
    attempts: int
    next_attempt_at: datetime | None = None


@cache
def _sent(attempts: int) -> Settled:
    """The common outcome, settled once per number of attempts: a Settled is frozen, so
    one serves every such post (a frozen dataclass costs ~5 K instructions to build)."""
    return Settled("sent", "sent", None, attempts)


def settle(delivery: Delivery, attempts: int, now: datetime, policy: RetryPolicy) -> Settled:
    """Read one named outcome into its row's state; ``attempts`` counts this one."""
    error = delivery.error
    match delivery.outcome:
        case Outcome.SENT:
            return _sent(attempts) if error is None else Settled("sent", "sent", error, attempts)
        case Outcome.RETRY_LATER:
            if attempts >= policy.max_attempts:
                return Settled(
                    "failed", "failed", f"gave up after {attempts} attempts: {error}", attempts
                )
            return Settled("retry", "retrying", error, attempts, now + policy.backoff(attempts))
        case Outcome.RETRY_AFTER:
            # The platform's limit, not the message's fault: wait as asked, uncharged.
            wait = policy.platform_wait(delivery.retry_after)
            return Settled("retry", "retrying", error, attempts - 1, now + wait)
        case Outcome.NOT_TRIED | Outcome.CHANNEL_DOWN:
            # Goes as soon as the channel sends again (a down channel is skipped until then).
            return Settled("retry", "retrying", error, attempts - 1, now)
        case Outcome.FAILED:
            return Settled("failed", "failed", error, attempts)
        case Outcome.BOUNCED:
            return Settled("failed", "bounced", error, attempts)
        case Outcome.UNKNOWN:
            return Settled("unknown", "unknown", error, attempts)


def settled_row(delivery: Delivery, settled: Settled, now: datetime) -> dict[str, Any]:
    """The columns a direct message's delivery row (a digest's, an alert's) takes once
    settled: its state, error and attempts, and when it was sent or is tried again."""
    row: dict[str, Any] = {
        "id": delivery.post_id,
        "status": settled.state,
        "error": settled.error,
        "attempts": settled.attempts,
    }
    if settled.state == "sent":
        row.update(sent_at=iso(now), remote_id=delivery.remote_id)
    elif settled.next_attempt_at is not None:
        row["next_attempt_at"] = iso(settled.next_attempt_at)
    return row


def stops_channel(delivery: Delivery) -> bool:
    """A rejected token or a platform's "wait until": the channel's trouble, not the message's."""
    return delivery.outcome in (Outcome.CHANNEL_DOWN, Outcome.RETRY_AFTER)


def described(delivery: Delivery) -> str:
    """The outcome for a log line, with the channel's message."""
    return delivery.outcome.value + (f" ({delivery.error})" if delivery.error else "")


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


class Lane:
    """One channel's way out for one kind of message: its pace and its guarded send."""

    def __init__(self, channel: Channel, pacer: Pacer) -> None:
        self.channel = channel
        self.pacer = pacer

    @property
    def paced(self) -> bool:
        """Whether ``ready`` may wait at all (an unlimited channel's never does)."""
        return bool(self.pacer.interval) or self.pacer.shared is not None

    async def ready(self) -> None:
        """Wait for the channel's next slot (before claiming, so a claim is never held
        across the wait)."""
        await self.pacer.wait()

    async def send(
        self, ref: int, what: str, call: Callable[[Message], Awaitable[Delivery]], message: Message
    ) -> Delivery:
        """``call(message)`` once its slot has come (``ready``); a platform's "wait" slows
        the lane. The message is passed along, not bound in a partial: one object less a post."""
        try:
            delivery = await call(message)
        except Exception as exc:  # a channel bug must not take down the others
            log.exception("channel %s raised on %s %s", self.channel.name, what, ref)
            # The platform may have it: never resend blindly.
            delivery = Delivery.unknown(ref, f"{type(exc).__name__}: {exc}")
        if delivery.outcome is Outcome.RETRY_AFTER and delivery.retry_after:
            self.pacer.pause(delivery.retry_after)
        return delivery
