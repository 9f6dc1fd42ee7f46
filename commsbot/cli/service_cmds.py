"""The service as the comms officer sees it: ``status``, ``queue slots``, ``queue pending``."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from commsbot.cli.base import (
    App,
    channel_option,
    echo_table,
    format_option,
    json_option,
    pass_app,
)
from commsbot.clock import local_text, utcnow, zoned


@click.command()
@json_option("Print everything as text, or as JSON (times with the service zone's offset).")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Is the service running, what runs when, what is queued, what needs you."""
    from commsbot.service.status import gather

    data = gather(app.store, app.config, utcnow())
    zone = app.config.zone  # every time a person reads is in the service's zone
    if as_json:
        click.echo(json.dumps(zoned(data, zone), indent=2, ensure_ascii=False))
        return
    service = data["service"]
    if service["running"]:
        who = f"PID {service['pid']}" if service["pid"] else "a process"
        since = local_text(service["since"], zone) if service["since"] else "?"
        click.echo(f"service: running ({who}, {service['what']}, since {since})")
    else:
        click.echo("service: not running (start it with: commsbot run)")
    click.echo(f"lock:    {data['lock_file']}")

    click.echo("\njobs")
    if data["schedule_error"]:
        click.echo(f"  schedules cannot be read: {data['schedule_error']}")
    for row in data["schedules"]:
        for key in ("next_run", "last_run", "last_error_at"):
            row[key] = local_text(row[key], zone)
        row["last_error"] = _short(row["last_error"], 60)
    echo_table(
        data["schedules"],
        ["schedule", "job", "when", "state", "next_run", "last_run", "last_outcome", "last_error"],
    )
    if data["parts"]:
        click.echo("\nparts")
        echo_table(data["parts"])

    click.echo("\nqueue (posts per channel and status)")
    echo_table(data["queue"])

    click.echo(
        "\nneeds attention (unknown: check the channel, then `queue retry` or `queue cancel`)"
    )
    for row in data["attention"]:
        row["last_error"] = _short(row["last_error"], 70)
        for key in ("not_before", "updated_at", "next_attempt_at"):
            if row.get(key):
                row[key] = local_text(row[key], zone)
    echo_table(data["attention"])

    click.echo("\nchannels")
    for row in data["channels"]:
        if row["paused_until"]:
            row["state"] = f"paused until {local_text(row['paused_until'], zone)}"
    echo_table(data["channels"], ["channel", "state", "slots"])


def _short(text: str | None, width: int) -> str | None:
    if text is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"


@click.command("slots")
@click.option("--days", type=click.IntRange(1, 366), default=14, show_default=True)
@channel_option()
@format_option("table", "json")
@pass_app
def queue_slots(app: App, days: int, channel_name: str | None, fmt: str) -> None:
    """The coming posting slots of each channel, and the post that holds each one."""
    from commsbot.posting import queue as queue_ops

    config = app.config
    names = [channel_name] if channel_name else config.enabled_channels
    now = utcnow()
    calendar = queue_ops.slot_calendar(app.store, config, names, now, now + timedelta(days=days))
    if fmt == "json":
        click.echo(json.dumps(zoned(calendar, config.zone), indent=2, ensure_ascii=False))
        return
    for name, rows in calendar.items():
        settings = config.channel(name)
        if not settings.slots:
            click.echo(f"{name}: no slots; posts go out as soon as they are due")
            continue
        free = sum(1 for r in rows if r["post"] is None)
        click.echo(f"{name}: {', '.join(settings.slots)} — next {days} days, {free} free")
        for row in rows:
            row["slot"] = local_text(row["slot"], config.zone)
        echo_table(rows, ["slot", "status", "post", "item"])
        click.echo("")


@click.command("pending")
@channel_option()
@pass_app
def queue_pending(app: App, channel_name: str | None) -> None:
    """Posts waiting for approval, with why; approve or cancel them by id."""
    from commsbot.posting import queue as queue_ops

    rows = queue_ops.listed(app.store, status="pending_approval", channel=channel_name, limit=1000)
    for r in rows:
        r["text"] = _short((r["text"].splitlines() or [""])[0], 50)
        r["why"] = _short(r["last_error"], 60) or "approval policy"
    echo_table(rows, ["id", "channel", "item_type", "item_ref", "text", "why"])
    if rows:
        click.echo("\ncommsbot queue approve ID... | commsbot queue cancel ID...")
