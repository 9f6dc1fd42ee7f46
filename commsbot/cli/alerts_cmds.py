"""``commsbot alerts``: what alerts are open and where they went; a test alert."""

from __future__ import annotations

import json
from typing import Any

import click

from commsbot.cli.base import (
    POSITIVE_INT,
    App,
    echo_table,
    exit_codes,
    json_option,
    needs_attention,
    pass_app,
)
from commsbot.clock import local_iso, local_text


@click.group()
def alerts() -> None:
    """Alerts to the bot's admins and the alert e-mail list ([alerts] in the config)."""


@alerts.command("list")
@click.option(
    "--limit", type=POSITIVE_INT, default=50, show_default=True, help="At most this many rows."
)
@json_option("Print the alerts and deliveries as text tables or as JSON.")
@pass_app
def alerts_list(app: App, limit: int, as_json: bool) -> None:
    """The alerts open now and lately resolved (and when that was told), and each alert
    message's deliveries."""
    from commsbot.alerts.send import listed

    zone = app.config.zone
    found, sent = listed(app.store, limit)
    shown = local_iso if as_json else local_text
    rows = [
        {
            "id": a["id"],
            "problem": a["problem"],
            "state": "resolved" if a["resolved_at"] else "open",
            "opened": shown(a["opened_at"], zone),
            "told": shown(a["notified_at"], zone),
            "resolved": shown(a["resolved_at"], zone),
            # When its recipients were told it is resolved (or read it in a summary).
            "told_resolved": shown(a["resolved_notified_at"], zone),
            "deliveries_sent": a["sent"],
        }
        for a in found
    ]
    deliveries = [
        {**d, "created_at": shown(d["created_at"], zone), "sent_at": shown(d["sent_at"], zone)}
        for d in sent
    ]
    if as_json:
        click.echo(json.dumps({"alerts": rows, "deliveries": deliveries}, indent=2))
        return
    if not app.config.alerts.enabled:
        click.echo("alerts are off: set [alerts] enabled = true", err=True)
    click.echo("alerts")
    echo_table(rows)
    click.echo("\ndeliveries")
    echo_table(deliveries)


@alerts.command("test")
@pass_app
@exit_codes
def alerts_test(app: App) -> None:
    """Send a test alert to every admin and address now; exit 1 if one did not get it."""
    import asyncio

    from commsbot.alerts.send import send_test
    from commsbot.clock import utcnow

    report = asyncio.run(send_test(app.store, app.config, utcnow))
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    counts: dict[str, Any] = dict(report.counts)
    click.echo(", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nobody to alert")
    if report.problems or set(counts) - {"sent"} or not counts:
        needs_attention()
