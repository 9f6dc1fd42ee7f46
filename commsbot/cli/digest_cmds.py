"""Digest commands: preview what a subscriber gets, send a period's digests, see deliveries."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from commsbot.cli.base import (
    POSITIVE_INT,
    App,
    channel_option,
    echo_table,
    exit_codes,
    json_option,
    needs_attention,
    pass_app,
)
from commsbot.clock import utcnow

if TYPE_CHECKING:
    from commsbot.channels.base import Channel
    from commsbot.digests.build import Period


def _period(app: App, text: str | None, frequency: str) -> Period:
    from commsbot.digests.build import last_complete, parse_period

    if text:
        return parse_period(text, app.config.zone)
    return last_complete(frequency, utcnow(), app.config.zone)


def _digest_channel(app: App, name: str) -> Channel:
    """A digest account, unopened: rendering needs its settings only. A name that is not
    configured is a kind (email, telegram), with its defaults."""
    from commsbot.channels import account, account_class, channel_class

    settings = app.config.channels.get(name)
    if settings is None:
        if name not in ("email", "telegram"):
            app.config.channel(name)  # the error naming the configured channels
        cls = channel_class(name)
        settings = cls.Settings(kind=name)
    if not account_class(settings).sends_direct:
        raise click.BadParameter(f"channel {name} sends no digests", param_hint="--channel")
    return account(name, settings)


@click.group()
def digest() -> None:
    """Partner digests: weekly (ISO weeks, 2026-W48) and monthly (2026-11)."""


@digest.command("preview")
@click.option(
    "--subscriber", "target", help="#ID, e-mail address or ACCOUNT:ADDRESS (telegram:CHAT_ID)."
)
@click.option("--period", "period_text", help="2026-W48 or 2026-11 (default: the last one over).")
@channel_option(
    "channel",
    default="email",
    show_default=True,
    help="Without --subscriber: preview as a subscriber of this channel (an e-mail or "
    "telegram account) with no filters.",
)
@click.option(
    "--part",
    type=click.Choice(["text", "html"]),
    default="text",
    show_default=True,
    help="For e-mail: the plain-text or the HTML part.",
)
@pass_app
def digest_preview(
    app: App, target: str | None, period_text: str | None, channel: str, part: str
) -> None:
    """Show exactly what a subscriber would receive for a period; nothing is sent."""
    from commsbot.digests.build import sample_subscriber
    from commsbot.digests.send import preview
    from commsbot.digests.subscribers import find

    if target:
        subscriber = find(app.store, target)
        frequency = subscriber["frequency"]
    else:
        frequency = "weekly"
        if period_text and "W" not in period_text.upper():
            frequency = "monthly"
        subscriber = sample_subscriber(channel, frequency)
    period = _period(app, period_text, frequency)
    if period.frequency != subscriber["frequency"]:
        raise click.BadParameter(
            f"{period.label} is a {period.frequency} period; this subscriber gets "
            f"{subscriber['frequency']} digests",
            param_hint="--period",
        )
    channel_obj = _digest_channel(app, subscriber["channel"])
    message, since = preview(app.store, app.config, channel_obj, period, subscriber)
    who = f"#{subscriber['id']}" if target else f"a {channel} subscriber with no filters"
    # The "# ..." lines go to stderr: `--part html > d.html` is the HTML alone.
    click.echo(f"# {period.label} digest for {who}, new since {since.date().isoformat()}", err=True)
    if message is None:
        click.echo("nothing new: no digest would be sent (digest.send_empty = false)")
        return
    if channel_obj.kind == "email":
        click.echo(f"# Subject: {message.subject}", err=True)
        for key, value in message.headers.items():
            click.echo(f"# {key}: {value}", err=True)
        click.echo(message.html if part == "html" else message.text)
    else:
        click.echo(f"# {len(message.html or '')} characters, Telegram HTML", err=True)
        click.echo(message.html)


@digest.command("send")
@click.option("--period", "period_text", help="Only this period: 2026-W48 or 2026-11.")
@click.option("--dry-run", is_flag=True, help="Count who would get what; send and store nothing.")
@click.option("--limit", type=POSITIVE_INT, help="Send at most this many messages now.")
@json_option("Print the outcome as text or as JSON.")
@pass_app
@exit_codes
def digest_send(
    app: App, period_text: str | None, dry_run: bool, limit: int | None, as_json: bool
) -> None:
    """Send the digests of the last complete week and month (or of --period).

    Each subscriber gets each digest once: running it again sends only what is still
    due. A message whose outcome is unknown is shown, never sent again.
    """
    from commsbot.config import FREQUENCIES
    from commsbot.digests.build import parse_period
    from commsbot.digests.send import periods_due

    if period_text:
        periods = [parse_period(period_text, app.config.zone)]
    else:
        periods = periods_due(app.config, utcnow())
    assert all(p.frequency in FREQUENCIES for p in periods)
    import asyncio  # here: --help must not pay for it

    reports = asyncio.run(_send(app, periods, dry_run, limit))
    rows = [row for report in reports for row in report.rows()]
    problems = [p for report in reports for p in report.problems]
    stale = sum(report.stale for report in reports)
    if as_json:
        click.echo(json.dumps({"digests": rows, "problems": problems, "stale": stale}, indent=2))
    else:
        _echo_sent(rows, problems, stale, dry_run, periods)
    if problems or stale or any(r.get("failed") or r.get("unknown") for r in rows):
        needs_attention()


def _echo_sent(
    rows: list[dict[str, Any]], problems: list[str], stale: int, dry_run: bool, periods: list[Any]
) -> None:
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if stale:
        click.echo(f"{stale} delivery(ies) left 'sending' by an interrupted run are now unknown")
    if dry_run:
        click.echo("dry run: nothing was sent or stored")
    if not rows:
        click.echo("nobody is due a digest for " + ", ".join(p.label for p in periods))
        return
    echo_table(rows)


async def _send(app: App, periods: list[Period], dry_run: bool, limit: int | None) -> list[Any]:
    from commsbot.digests.send import channels_due, digest_channels, send_period
    from commsbot.posting.pipeline import close_channels, make_channels, open_channels

    due = channels_due(app.store, periods, utcnow())
    names = [n for n in digest_channels(app.config) if n in due]
    problems: list[str] = []
    if dry_run:  # nothing is sent: rendering needs the channels, not connections
        opened = make_channels(app.config, names)
    else:
        opened = await open_channels(app.config, problems, names)
    reports = []
    try:
        for period in periods:
            report = await send_period(
                app.store, app.config, opened, period, clock=utcnow, dry_run=dry_run, limit=limit
            )
            reports.append(report)
    finally:
        if not dry_run:
            await close_channels(opened)
    if reports:
        reports[0].problems[:0] = problems
    return reports


@digest.command("retry")
@click.argument("delivery_ids", type=POSITIVE_INT, nargs=-1, metavar="[DELIVERY_ID]...")
@click.option("--period", "period_text", help="Only this period: 2026-W48 or 2026-11.")
@json_option("Print the outcome as text or as JSON.")
@pass_app
@exit_codes
def digest_retry(
    app: App, delivery_ids: tuple[int, ...], period_text: str | None, as_json: bool
) -> None:
    """Send failed digest deliveries again (of --period, or all), now; an unknown one only
    by its id, once you checked it did not arrive (see digest deliveries)."""
    import asyncio

    from commsbot.digests.build import parse_period
    from commsbot.digests.send import requeue

    period = parse_period(period_text, app.config.zone) if period_text else None
    periods, requeued, unknown = requeue(
        app.store, app.config, utcnow(), period=period, delivery_ids=delivery_ids
    )
    if unknown and not as_json:
        click.echo(
            f"{unknown} unknown delivery(ies) not sent again: check that they did not "
            "arrive, then `commsbot digest retry ID` (ids in `digest deliveries --status unknown`)"
        )
    if not requeued:
        if not as_json:
            click.echo("no failed delivery to send again")
        else:
            click.echo(json.dumps({"digests": [], "problems": [], "stale": 0}, indent=2))
        if unknown:
            needs_attention()
        return
    if not as_json:
        click.echo(f"{len(requeued)} delivery(ies) to send again")
    reports = asyncio.run(_send(app, periods, False, None))
    rows = [row for report in reports for row in report.rows()]
    problems = [p for report in reports for p in report.problems]
    if as_json:
        click.echo(json.dumps({"digests": rows, "problems": problems, "stale": 0}, indent=2))
    else:
        _echo_sent(rows, problems, 0, False, periods)
    if problems or unknown or any(r.get("failed") or r.get("unknown") for r in rows):
        needs_attention()


@digest.command("list")
@click.option("--limit", type=POSITIVE_INT, default=20, show_default=True)
@pass_app
def digest_list(app: App, limit: int) -> None:
    """The latest digests, with how many deliveries ended in each state."""
    from commsbot.digests.send import digests_sent

    echo_table(digests_sent(app.store, limit))


@digest.command("deliveries")
@click.option("--period", "period_text", help="Only this period: 2026-W48 or 2026-11.")
@click.option(
    "--status", type=click.Choice(["sending", "sent", "retry", "failed", "unknown", "skipped"])
)
@click.option("--limit", type=POSITIVE_INT, default=50, show_default=True)
@pass_app
def digest_deliveries(app: App, period_text: str | None, status: str | None, limit: int) -> None:
    """Deliveries of digests, newest first: check what failed or is unknown."""
    from commsbot.digests.build import parse_period
    from commsbot.digests.send import deliveries

    period = parse_period(period_text, app.config.zone) if period_text else None
    rows = deliveries(app.store, period, status, limit)
    echo_table(
        rows,
        ["id", "period", "channel", "subscriber_id", "address", "status", "attempts", "error"],
    )
