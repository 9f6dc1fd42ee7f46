"""The alerts job: open an alert per problem found, and deliver each alert message once to
each recipient, through the channels and ``commsbot.delivery`` as digests are delivered.

Each message's delivery to a recipient is a row written ``sending`` before the send (the
unique (message, channel, recipient) row is the claim), then settled by
``delivery.settle``: sent; retried by a later run after the backoff; failed; or unknown,
never re-sent blindly. An alert is told once (``notified_at``): immediately, or in the
next daily summary when ``[alerts] daily_summary`` is set. Once its problem is gone, an
alert told is followed by one "resolved" message (``resolved_notified_at``), or listed in
the next summary.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from commsbot import delivery as shared
from commsbot.alerts import messages, problems
from commsbot.channels.base import Channel, DirectMessage
from commsbot.clock import Clock
from commsbot.config import Config, alert_email_account
from commsbot.errors import ConfigError
from commsbot.i18n import LANGUAGES
from commsbot.store import Store, iso
from commsbot.store import alerts as q
from commsbot.store import translations as translations_q

log = logging.getLogger("commsbot.alerts")

# How a message's key begins says how it is worded (a retry words it again).
RESOLVED, SUMMARY = "resolved", "summary:"


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str
    language: str


@dataclass
class Report:
    """What one alerts run did."""

    opened: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    # Where alerts could not go this run (an account not open), said once each.
    problems: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        done: dict[str, Any] = {"opened": self.opened}
        done.update({k: v for k, v in sorted(self.counts.items()) if v})
        if self.problems:
            done["waiting"] = "; ".join(self.problems)
        return done


def _admin_language(store: Store, config: Config, admin: int) -> str:
    """The language the admin chose with /language in their chat with the bot, else
    ``[alerts] language``."""
    from commsbot.bot.app import chat_hash, chat_salt
    from commsbot.channels.telegram import telegram_account

    name, settings = telegram_account(config)
    try:
        salt = chat_salt(settings, config.store.path, f"channels.{name}")
    except ConfigError as exc:
        log.warning("alerts in %s: the chats' salt is unreadable: %s", config.alerts.language, exc)
        return config.alerts.language
    chosen = translations_q.chat_language(store, chat_hash(salt, admin))
    return chosen if chosen in LANGUAGES else config.alerts.language


def recipients(
    store: Store, config: Config, channels: dict[str, Channel], report: Report
) -> list[Recipient]:
    """Everyone alerts go to whose channel is open now; the others are reported."""
    from commsbot.channels.telegram import telegram_account

    alerts = config.alerts
    found: list[Recipient] = []
    if alerts.telegram:
        name, settings = telegram_account(config)
        if name in channels:
            found += [
                Recipient(name, str(a), _admin_language(store, config, a)) for a in settings.admins
            ]
        else:
            report.problems.append(f"{name} is not open: no Telegram alerts")
    if alerts.email:
        account = alert_email_account(config)
        if account is not None and account in channels:
            found += [Recipient(account, a, alerts.language) for a in alerts.email]
        else:
            report.problems.append(f"{account or 'email'} is not open: no e-mail alerts")
    return found


class _Sender:
    """Sends alert messages to recipients, one lane per channel, for one run."""

    def __init__(
        self, store: Store, config: Config, channels: dict[str, Channel], clock: Clock
    ) -> None:
        self.store = store
        self.config = config
        self.channels = channels
        self.clock = clock
        self.policy = shared.RetryPolicy.of(config.posting)
        pacers = shared.shared_pacers(channels.values())
        self.lanes = {
            n: shared.Lane(c, shared.pacer_for(c, c.direct_rate(), pacers))
            for n, c in channels.items()
        }

    async def deliver(
        self,
        key: str,
        alerts: Sequence[dict[str, Any]],
        to: Iterable[Recipient],
        report: Report,
        as_of: str | None = None,
    ) -> None:
        """One message (``key``) about ``alerts`` to each recipient not yet sent it;
        ``as_of``: when the message was first made (a retry words it as it was then)."""
        ids = [int(a["id"]) for a in alerts]
        write = _writer(key, alerts, self.config, as_of or iso(self.clock()))
        written: dict[str, messages.Written] = {}
        for recipient in to:
            claimed = q.claim(
                self.store, key, recipient.channel, recipient.address, ids, self.clock()
            )
            if claimed is None:
                continue
            if recipient.language not in written:
                written[recipient.language] = write(recipient.language)
            await self._send(recipient, written[recipient.language], *claimed, report)

    async def _send(
        self,
        recipient: Recipient,
        message: messages.Written,
        delivery_id: int,
        attempt: int,
        report: Report,
    ) -> None:
        lane = self.lanes[recipient.channel]
        direct = DirectMessage(
            ref=delivery_id,
            recipient=recipient.address,
            text=message.text,
            subject=message.subject,
            actions=message.actions,
        )
        await lane.ready()
        delivery = await lane.send(delivery_id, "alert", lane.channel.send_direct, direct)
        now = self.clock()
        settled = shared.settle(delivery, attempt, now, self.policy)
        row = shared.settled_row(delivery, settled, now)
        q.record(self.store, row, now)
        report.counts[settled.counted] += 1
        log.info("alert %s to %s: %s", delivery_id, recipient.channel, shared.described(delivery))

    async def retry_due(self, to: Sequence[Recipient], report: Report) -> None:
        """Deliveries a platform asked to retry, sent again once their time has come."""
        reachable = {(r.channel, r.address): r for r in to}
        for row in q.due_retries(self.store, self.clock()):
            recipient = reachable.get((row["channel"], row["recipient"]))
            if recipient is None:  # its channel is not open this run: a later one
                continue
            alerts = q.alerts_by_id(self.store, row["alerts"])
            if alerts:
                await self.deliver(row["message"], alerts, [recipient], report, row["created_at"])


def _writer(
    key: str, alerts: Sequence[dict[str, Any]], config: Config, as_of: str
) -> Callable[[str], messages.Written]:
    """How the message ``key`` is worded in a language: a "resolved" message, a daily
    summary (the alerts resolved by ``as_of`` in its resolved list), or alerts."""
    if key.startswith(RESOLVED):
        return partial(messages.write_resolved, alerts, config=config)
    if key.startswith(SUMMARY):
        gone = [a for a in alerts if a["resolved_at"] and a["resolved_at"] <= as_of]
        told = [a for a in alerts if a not in gone]
        return partial(messages.write, told, config=config, daily=True, resolved=gone)
    return partial(messages.write, alerts, config=config)


def _summary_day(config: Config, now: datetime) -> str | None:
    """Today's date (in the service's zone) once its summary time has come, else None."""
    local = now.astimezone(config.zone)
    if local.strftime("%H:%M") < config.alerts.daily_summary:
        return None
    return local.date().isoformat()


async def run_alerts(
    store: Store,
    config: Config,
    channels: dict[str, Channel],
    clock: Clock,
    unopened: Iterable[str] = (),
) -> Report:
    """Find the problems, open and resolve their alerts, and tell what is new."""
    report = Report()
    now = clock()
    # One process holds the store: a delivery still ``sending`` was left by a stopped one.
    q.mark_stale(store, now)
    report.opened = len(q.sync(store, problems.found(store, config, now, unopened), now))
    to = recipients(store, config, channels, report)
    sender = _Sender(store, config, {r.channel: channels[r.channel] for r in to}, clock)
    await sender.retry_due(to, report)
    if not to:
        return report  # told once a channel is open again: nothing is marked told
    if config.alerts.daily_summary:
        day = _summary_day(config, now)
        if day is None or q.summary_made(store, day):
            return report
        pending = q.open_alerts(store, unnotified=True)
        # What went away since the last summary, told or not: the officer reads it once.
        gone = q.resolved_untold(store)
        listed = gone if config.alerts.resolved else []
        if q.add_summary(store, day, len(pending), now) and (pending or listed):
            await sender.deliver(f"{SUMMARY}{day}", [*pending, *listed], to, report)
            q.mark_notified(store, [a["id"] for a in pending], now)
        q.mark_resolved_notified(store, [a["id"] for a in gone], now)
        return report
    pending = q.open_alerts(store, unnotified=True)
    await _deliver_each(sender, "alert", pending, to, report)
    q.mark_notified(store, [a["id"] for a in pending], now)
    # Only a problem someone was told of gets its "resolved" message; the others are
    # done with too, so that no later summary lists them.
    gone = q.resolved_untold(store)
    if config.alerts.resolved:
        told = [a for a in gone if a["notified_at"]]
        await _deliver_each(sender, RESOLVED, told, to, report)
    q.mark_resolved_notified(store, [a["id"] for a in gone], now)
    return report


async def _deliver_each(
    sender: _Sender,
    what: str,
    alerts: Sequence[dict[str, Any]],
    to: Sequence[Recipient],
    report: Report,
) -> None:
    """A message per alert (``what:ID``), or one listing them all past ``max_per_run``."""
    if len(alerts) > sender.config.alerts.max_per_run:
        key = f"{what}s:{alerts[0]['id']}-{alerts[-1]['id']}"
        await sender.deliver(key, alerts, to, report)
        return
    for alert in alerts:
        await sender.deliver(f"{what}:{alert['id']}", [alert], to, report)


async def alerts_job(ctx: Any) -> dict[str, Any]:
    """The scheduled job (and ``run --once``): alert what is new since the last run."""
    unopened = [n for n in ctx.config.enabled_channels if n not in ctx.channels]
    report = await run_alerts(ctx.store, ctx.config, ctx.channels, ctx.clock, unopened)
    return report.result()


async def send_test(store: Store, config: Config, clock: Clock) -> Report:
    """A test alert to every recipient now (``commsbot alerts test``), whatever is open."""
    from commsbot.posting.pipeline import close_channels, open_channels

    if not config.alerts.enabled:
        raise ConfigError(
            f"{config.file}: alerts.enabled: alerts are off; set enabled = true under [alerts] "
            "(and where they go) to test them"
        )
    report = Report()
    names = []
    if config.alerts.telegram:
        from commsbot.channels.telegram import bot_account

        names.append(bot_account(config))
    account = alert_email_account(config)
    if config.alerts.email and account:
        names.append(account)
    channels = await open_channels(config, report.problems, names=names)
    try:
        to = recipients(store, config, channels, report)
        now = clock()
        alert_id = q.add_alert(store, f"test:{iso(now)}", "test", {}, now)
        alert = q.alerts_by_id(store, [alert_id])
        await _Sender(store, config, channels, clock).deliver(f"test:{alert_id}", alert, to, report)
    finally:
        await close_channels(channels)
    return report


def listed(store: Store, limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The alerts open and lately resolved, and the latest deliveries (``alerts list``)."""
    return q.recent_alerts(store, limit), q.deliveries(store, limit)
