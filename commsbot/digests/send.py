"""Digest fan-out: each digest reaches each subscriber once, paced to each channel.

For every subscriber, in order: render (pure), write the delivery row ``sending`` (the
unique (digest, subscriber) row is the claim), send through the channel named by the
subscriber's channel, record what the channel said. The pace, the guarded send and what
each outcome means are ``commsbot.delivery``'s, shared with posting. So:

- a crash mid fan-out leaves rows ``sending``; the next run marks them ``unknown`` (the
  message may have gone) and carries on with the subscribers that have no row yet;
- a second run of the same period sends nothing twice; ``retry`` rows whose time has come
  are the only ones tried again;
- channels run concurrently, each behind its own pace and its own number of sends in
  flight, so a slow or paused channel never holds back another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commsbot.channels.base import Channel, Delivery, DirectMessage, Outcome
from commsbot.clock import Clock, local_text
from commsbot.config import FREQUENCIES, Config
from commsbot.content.places import Places
from commsbot.delivery import (
    Lane,
    Pacer,
    RetryPolicy,
    described,
    pacer_for,
    settle,
    settled_row,
    shared_pacers,
)
from commsbot.digests import build as d
from commsbot.errors import ContentError
from commsbot.i18n import negotiate
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.store import digests as q

log = logging.getLogger("commsbot.digest")

OUTCOMES = ("sent", "skipped", "retrying", "failed", "bounced", "unknown", "waiting")
DRY_RUN_OUTCOMES = ("to_send", "skipped", "waiting")
# Rendered digests kept for reuse: one per distinct choice of cities and themes.
RENDERED_KEPT = 1024


@dataclass
class Report:
    """What one period's fan-out did, per channel."""

    period: d.Period
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # Deliveries a crashed run left ``sending``, now ``unknown``.
    stale: int = 0
    dry_run: bool = False

    def add(self, channel: str, outcome: str, n: int = 1) -> None:
        self.counts.setdefault(channel, Counter())[outcome] += n

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    def rows(self) -> list[dict[str, Any]]:
        outcomes = DRY_RUN_OUTCOMES if self.dry_run else OUTCOMES
        return [
            {"period": self.period.label, "channel": name, **{o: c[o] for o in outcomes}}
            for name, c in sorted(self.counts.items())
        ]


class _Run:
    """One period's fan-out: shared state of the per-channel loops."""

    def __init__(
        self,
        store: Store,
        config: Config,
        period: d.Period,
        clock: Clock,
        report: Report,
        digest_id: int | None,
        limit: int | None,
    ) -> None:
        self.store = store
        self.config = config
        self.period = period
        self.clock = clock
        self.report = report
        self.digest_id = digest_id
        self.budget = limit
        self.policy = RetryPolicy.of(config.posting)
        self.covered = q.covered_until(store, period.end)
        self.lookup = Places.load(store)
        # One renderer per subscriber language, made when a subscriber first needs it.
        self.renderers: dict[str, d.DigestRenderer] = {}
        self.contents = d.Contents()
        self.rendered: OrderedDict[tuple[Any, ...], d.Shared | None] = OrderedDict()
        # Limits that accounts share (one bot sending for two accounts), set by send_period.
        self.shared: dict[str, Pacer] = {}

    def load(self, subscribers: list[dict[str, Any]]) -> None:
        """Every item any of them may get, read once."""
        if subscribers:
            earliest = min(d.since_for(s, self.period, self.covered) for s in subscribers)
            self.contents = d.Contents.load(self.store, earliest, self.period.end)

    def message(self, channel: Channel | None, subscriber: dict[str, Any]) -> d.Message | None:
        """The subscriber's digest, or None when nothing is new for them (and that is
        configured to mean nothing is sent)."""
        since = d.since_for(subscriber, self.period, self.covered)
        # Subscribers who chose the same share their digest, rendered once; an e-mail gets
        # each one's own unsubscribe link where its templates print it.
        language = negotiate(subscriber.get("language"))
        key = (subscriber["channel"], since, language, *map(tuple, d.choices(subscriber)))
        if key in self.rendered:
            self.rendered.move_to_end(key)
            shared = self.rendered[key]
        else:
            mine = self.contents.for_subscriber(subscriber, since)
            shared = None
            if mine.total() or self.config.digest.send_empty:
                shared = self.renderer(language).shared(channel, mine, subscriber, since)
            self.rendered[key] = shared
            if len(self.rendered) > RENDERED_KEPT:
                self.rendered.popitem(last=False)
        if shared is None:
            return None
        return self.renderer(language).personal(channel, shared, subscriber["token"])

    def renderer(self, language: str) -> d.DigestRenderer:
        if language not in self.renderers:
            self.renderers[language] = d.DigestRenderer(
                Renderer(self.config.service.templates, language),
                self.lookup,
                self.config,
                self.period,
            )
        return self.renderers[language]

    def take_budget(self) -> bool:
        if self.budget is None:
            return True
        if self.budget <= 0:
            return False
        self.budget -= 1
        return True

    async def channel(self, channel: Channel, subscribers: list[dict[str, Any]]) -> None:
        """Send to one channel's subscribers, paced, with its number of sends in flight."""
        lane = Lane(channel, pacer_for(channel, channel.direct_rate(), self.shared))
        slots = asyncio.Semaphore(channel.concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        stop: list[str] = []
        try:
            for subscriber in subscribers:
                if stop:
                    break
                message = self.message(channel, subscriber)
                if message is None:
                    if self.digest_id is not None:
                        q.skip(
                            self.store, self.digest_id, subscriber["id"], channel.name, self.clock()
                        )
                    self.report.add(channel.name, "skipped")
                    continue
                if self.digest_id is None:  # a dry run: count, never write or send
                    self.report.add(channel.name, "to_send")
                    continue
                if not self.take_budget():
                    break
                await slots.acquire()
                if stop:
                    slots.release()
                    break
                await lane.ready()
                claimed = q.claim(
                    self.store, self.digest_id, subscriber["id"], channel.name, self.clock()
                )
                if claimed is None:  # another run wrote it first: theirs to send
                    slots.release()
                    continue
                delivery_id, attempt = claimed
                direct = DirectMessage(
                    ref=delivery_id,
                    recipient=subscriber["address"],
                    text=message.text,
                    html=message.html,
                    subject=message.subject,
                    headers=message.headers,
                )
                task = asyncio.create_task(
                    self.send(lane, direct, subscriber, attempt, slots, stop)
                )
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        finally:
            # Whatever stopped the loop, sends already under way are recorded.
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
        if stop:
            self.report.problems.append(f"{channel.name}: stopped: {stop[0]}")

    async def send(
        self,
        lane: Lane,
        message: DirectMessage,
        subscriber: dict[str, Any],
        attempt: int,
        slots: asyncio.Semaphore,
        stop: list[str],
    ) -> None:
        channel = lane.channel
        try:
            delivery = await lane.send(message.ref, "digest delivery", channel.send_direct, message)
            if delivery.outcome is Outcome.CHANNEL_DOWN and not stop:
                stop.append(delivery.error or "the channel is down")
            self.record(channel.name, delivery, subscriber, attempt)
        finally:
            slots.release()

    def record(
        self, channel: str, delivery: Delivery, subscriber: dict[str, Any], attempt: int
    ) -> None:
        """The outcome of one send into its delivery row (and a bounce onto the subscriber)."""
        now = self.clock()
        settled = settle(delivery, attempt, now, self.policy)
        row = settled_row(delivery, settled, now)
        bounced = [subscriber["id"]] if delivery.outcome is Outcome.BOUNCED else []
        q.record(self.store, [row], bounced, now)
        self.report.add(channel, settled.counted)
        log.info(
            "digest %s to subscriber %s on %s: %s",
            self.period.label,
            subscriber["id"],
            channel,
            described(delivery),
        )


async def send_period(
    store: Store,
    config: Config,
    channels: dict[str, Channel],
    period: d.Period,
    *,
    clock: Clock,
    dry_run: bool = False,
    limit: int | None = None,
) -> Report:
    """Fan one period's digest out to every subscriber it is due to, exactly once each."""
    now = clock()
    if period.end > now:
        end = local_text(period.end, config.zone)
        raise ContentError(
            f"{period.label} is not over until {end}; a digest is sent once its period has "
            "ended (use `commsbot digest preview` to see it meanwhile)"
        )
    report = Report(period, dry_run=dry_run)
    if dry_run:
        existing = q.get_digest(store, period.frequency, period.label)
        digest_id = None
        lookup_id = existing["id"] if existing else -1
    else:
        row = q.ensure_digest(store, period.frequency, period.label, period.start, period.end, now)
        digest_id = lookup_id = row["id"]
        report.stale = q.mark_stale(store, digest_id, now)
    due = q.due_subscribers(store, lookup_id, period.frequency, period.end, now)
    run = _Run(store, config, period, clock, report, digest_id, limit)
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for subscriber in due:
        by_channel.setdefault(subscriber["channel"], []).append(subscriber)
    runnable = {}
    for name, subscribers in by_channel.items():
        if name in channels:
            runnable[name] = subscribers
        else:
            # No row is written: they get this digest once the channel is enabled.
            report.add(name, "waiting", len(subscribers))
            report.problems.append(
                f"{len(subscribers)} {name} subscriber(s) wait: channel {name} is not enabled "
                "or could not be opened"
            )
    run.load([s for subs in runnable.values() for s in subs])
    run.shared = shared_pacers(channels[n] for n in runnable)
    await asyncio.gather(*(run.channel(channels[n], subs) for n, subs in runnable.items()))
    return report


def digest_channels(config: Config) -> list[str]:
    """The enabled accounts that send digests to people (their kind declares it)."""
    from commsbot.channels import accounts_declaring

    return accounts_declaring(config, "sends_direct")


def channels_due(store: Store, periods: list[d.Period], now: datetime) -> set[str]:
    """The channels someone is due a digest on, so a run connects only where it sends."""
    names: set[str] = set()
    for period in periods:
        digest = q.get_digest(store, period.frequency, period.label)
        due = q.due_subscribers(
            store, digest["id"] if digest else -1, period.frequency, period.end, now
        )
        names.update(s["channel"] for s in due)
    return names


def periods_due(config: Config, now: datetime) -> list[d.Period]:
    """The latest complete week and month: what the job sends."""
    return [d.last_complete(f, now, config.zone) for f in FREQUENCIES]


async def send_digests_job(ctx: Any) -> dict[str, Any]:
    """The scheduled job: send the latest complete weekly and monthly digests."""
    channels = {n: c for n, c in ctx.channels.items() if c.sends_direct}
    results: dict[str, Any] = {}
    for period in periods_due(ctx.config, ctx.clock()):
        report = await send_period(ctx.store, ctx.config, channels, period, clock=ctx.clock)
        counts = Counter[str]()
        for c in report.counts.values():
            counts += c
        done = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
        results[period.label] = done or "nobody due"
    return results


def digests_sent(store: Store, limit: int) -> list[dict[str, Any]]:
    """The latest digests, with how many deliveries ended in each state."""
    return q.list_digests(store, limit)


def _digest_id(store: Store, period: d.Period | None) -> int | None:
    """The id of a period's digest (None for no period); an error when none was sent."""
    if period is None:
        return None
    row = q.get_digest(store, period.frequency, period.label)
    if row is None:
        raise ContentError(f"no digest for {period.label} has been sent")
    return int(row["id"])


def deliveries(
    store: Store, period: d.Period | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Deliveries of digests (of one period's, when given), newest first."""
    digest_id = _digest_id(store, period)
    return q.deliveries(store, digest_id=digest_id, status=status, limit=limit)


def preview(
    store: Store,
    config: Config,
    channel: Channel | None,
    period: d.Period,
    subscriber: dict[str, Any],
) -> tuple[d.Message | None, datetime]:
    """What a subscriber would get for a period (None: nothing new), and since when."""
    run = _Run(store, config, period, lambda: period.end, Report(period, dry_run=True), None, None)
    run.load([subscriber])
    return run.message(channel, subscriber), d.since_for(subscriber, period, run.covered)


def requeue(
    store: Store,
    config: Config,
    now: datetime,
    *,
    period: d.Period | None = None,
    delivery_ids: tuple[int, ...] = (),
) -> tuple[list[d.Period], list[dict[str, Any]], int]:
    """Put failed deliveries (of a period), or the named failed or unknown ones, back to be
    sent now. An unknown delivery is resent only by its id: the officer checked that it did
    not arrive. Returns the periods to send, the deliveries requeued, and how many unknown
    ones were left for the officer to check."""
    digest_id = _digest_id(store, period)
    for delivery_id in delivery_ids:
        status = q.delivery_status(store, delivery_id)
        if status is None:
            raise ContentError(f"no digest delivery with id {delivery_id}")
        if status not in ("failed", "unknown"):
            raise ContentError(
                f"delivery {delivery_id} is {status}; only a failed or unknown one can be "
                "sent again"
            )
    requeued = q.requeue(store, now, digest_id=digest_id, delivery_ids=delivery_ids)
    unknown = 0
    if not delivery_ids:
        unknown = len(q.deliveries(store, digest_id=digest_id, status="unknown", limit=-1))
    digests = {r["digest_id"] for r in requeued}
    periods = [
        d.parse_period(g["period"], config.zone)
        for g in q.list_digests(store, limit=-1)
        if g["id"] in digests
    ]
    return periods, requeued, unknown
