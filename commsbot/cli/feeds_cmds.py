"""Feed commands: add, list, remove and check the partner feeds that bring news in."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from commsbot.cli.base import (
    App,
    echo_table,
    exit_codes,
    format_option,
    needs_attention,
    pass_app,
)
from commsbot.clock import local_text, utcnow, zoned

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


def _state(feed: dict[str, Any], zone: ZoneInfo) -> str:
    if feed["disabled"]:
        return "disabled"
    if feed["error_count"]:
        return f"failing ({feed['error_count']}), next try {local_text(feed['next_poll_at'], zone)}"
    if feed["last_success_at"] is None:
        return "not polled yet"
    return "ok"


@click.group()
def feeds() -> None:
    """Partner feeds (RSS, Atom, RDF) whose entries become news or newsletters."""


@feeds.command("add")
@click.argument("url")
@click.option(
    "--kind",
    type=click.Choice(["news", "newsletter"]),
    default="news",
    show_default=True,
    help="What the feed's entries become.",
)
@click.option("--city", help="City of the partner (slug or name) given to its news.")
@click.option("--theme", help="Theme (slug or name) given to its news.")
@click.option(
    "--no-check", is_flag=True, help="Add it without fetching it first (a feed not up yet)."
)
@pass_app
def feeds_add(
    app: App, url: str, kind: str, city: str | None, theme: str | None, no_check: bool
) -> None:
    """Add a feed by URL, once fetched and found to be a feed; it is polled at the next run
    (or now, with `feeds check URL`)."""
    from commsbot.feeds import manage

    manage.add(app.store, app.config, url, kind, city, theme, utcnow(), check=not no_check)
    click.echo(f"added {kind} feed {url}")


@feeds.command("list")
@format_option("table", "json")
@pass_app
def feeds_list(app: App, fmt: str) -> None:
    """List the feeds: where they come from, their state and their last problem."""
    from commsbot.feeds import manage

    rows = manage.listed(app.store, app.config, utcnow())
    if fmt == "json":
        click.echo(json.dumps(zoned(rows, app.config.zone), indent=2, ensure_ascii=False))
        return
    echo_table(
        [
            {
                "url": f["url"],
                "kind": f["kind"],
                "city": f["city"] or "",
                "theme": f["theme"] or "",
                "from": f["source"],
                "state": _state(f, app.config.zone),
                "last poll": local_text(f["last_polled_at"], app.config.zone) or "",
                "problem": f["disabled_reason"] or f["last_error"] or f["last_warning"] or "",
            }
            for f in rows
        ]
    )


@feeds.command("remove")
@click.argument("url")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@pass_app
def feeds_remove(app: App, url: str, yes: bool) -> None:
    """Stop polling a feed; the news it brought stay, and are not brought twice if re-added."""
    from commsbot.feeds import manage

    manage.removable(app.store, app.config, url, utcnow())
    if not yes:
        click.confirm(f"Stop polling {url}?", abort=True)
    manage.remove(app.store, url)
    click.echo(f"removed feed {url}")


@feeds.command("check")
@click.argument("urls", nargs=-1, metavar="[URL]...")
@pass_app
@exit_codes
def feeds_check(app: App, urls: tuple[str, ...]) -> None:
    """Poll feeds now, backing off or not, and show what each gave.

    Without URL: every enabled feed. A disabled feed named here is tried, and enabled
    again if it answers. Exits 0 when all answered, 1 when a feed failed or is
    disabled, 2 on a usage or config error.
    """
    from commsbot.feeds import manage

    report = manage.check(app.store, app.config, list(urls))
    echo_table(
        [
            {
                "url": o.url,
                "result": o.result,
                "http": o.status or "",
                "new": o.stored.new,
                "updated": o.stored.updated,
                "skipped": o.stored.skipped,
                "problem": o.error or o.warning or "",
            }
            for o in report.outcomes
        ]
    )
    if any(o.result in ("failed", "disabled") for o in report.outcomes):
        needs_attention()
