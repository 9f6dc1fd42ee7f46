"""``commsbot stats`` and ``commsbot report``: engagement figures for the coordinator."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from commsbot.cli.base import (
    FILE_PATH,
    POSITIVE_INT,
    App,
    LazyGroup,
    echo_table,
    format_option,
    pass_app,
)
from commsbot.i18n import LANGUAGES

if TYPE_CHECKING:
    from commsbot.insights.stats import Group, Period

F = Callable[..., Any]
# The same as commsbot.stats.GROUPINGS (checked by a test); commsbot.stats is imported only
# when a command runs, so that `commsbot --help` stays fast.
GROUPINGS = ("channel", "platform", "theme", "city", "type", "week")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class DateParam(click.ParamType[date]):
    """A day, YYYY-MM-DD, read in the config's time zone by the command."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            if not _DATE.fullmatch(text):
                raise ValueError
            day = date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01", param, ctx)
        # Far enough from date's own limits that a day in any time zone, and the day
        # after --until, can still be computed.
        if not 1900 <= day.year <= 9998:
            self.fail(f"{value!r} is out of range (years 1900 to 9998)", param, ctx)
        return day


def period_options(f: F) -> F:
    """``--since DATE`` and ``--until DATE``: the days (inclusive) when posts were sent."""
    f = click.option(
        "--until",
        type=DateParam(),
        help="Up to and including this day (default: now).",
    )(f)
    return click.option(
        "--since",
        type=DateParam(),
        help="From this day, in the config's time zone (default: the beginning).",
    )(f)


STATS_FORMAT = format_option("table", "csv", "json", help="A table to read, or CSV/JSON to export.")


def make_period(app: App, since: date | None, until: date | None) -> Period:
    """The period the options name; ``--until`` includes its whole day."""
    from commsbot.insights.stats import Period

    zone = app.config.zone
    start = datetime.combine(since, time(), zone) if since else None
    end = datetime.combine(until + timedelta(days=1), time(), zone) if until else datetime.now(UTC)
    if start is not None and start >= end:
        limit = until.isoformat() if until else "now"
        raise click.BadParameter(
            f"{since} is not before the end of the period ({limit})", param_hint="'--since'"
        )
    return Period(start, end, zone)


def emit(fmt: str, rows: list[dict[str, Any]], document: dict[str, Any], table: F) -> None:
    """Print rows as CSV, the document as JSON, or call ``table`` for people."""
    if fmt == "json":
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    else:
        table()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def _digest_accounts(app: App) -> list[str]:
    """The accounts whose subscribers are shown even when there are none: the configured
    digest accounts, else the kinds that send digests."""
    from commsbot.channels import accounts_declaring, kinds_declaring

    found = accounts_declaring(app.config, "sends_direct", enabled=False)
    return found or kinds_declaring("sends_direct")


@click.group(
    cls=LazyGroup,
    # Movement's figures have a module of their own, which reuses this one's options.
    lazy_subcommands={
        "movement": (
            "commsbot.cli.movement_cmds:stats_movement",
            "The movement: voices using the campaign hashtags or mentioning us, per week and "
            "per Mastodon or Bluesky account; new voices; top voices by reach; languages; "
            "audience growth per channel.",
        )
    },
    invoke_without_command=True,
)
@period_options
@click.option(
    "--by",
    type=click.Choice(GROUPINGS),
    default="channel",
    show_default=True,
    help="Group posts by channel (account), platform, theme, city, content type or ISO week.",
)
@STATS_FORMAT
@pass_app
def stats(app: App, since: date | None, until: date | None, by: str, fmt: str) -> None:
    """Engagement of the posts sent: posts, favourites, boosts, replies, reactions (and
    quotes, where a platform counts them), per post.

    A post counts with its latest observed figures. Subcommands: top, subscribers, bot.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from commsbot.insights import figures
    from commsbot.insights import stats as st

    period = make_period(app, since, until)
    summary = figures.summary(app.store, period)
    groups = summary.groups(by)
    total = summary.total()
    rows = [g.as_row(by) for g in groups]
    document = {
        "period": period.as_dict(),
        "by": by,
        "rows": rows,
        "total": {k: v for k, v in total.as_row(by).items() if k != by},
    }

    def table() -> None:
        if not total.posts:
            click.echo(f"No posts were sent from {period.describe()}.")
            return
        click.echo(f"Posts sent from {period.describe()}, by {by}:")
        quotes = st.shows_quotes(summary.cells)
        echo_table([_engagement_line(by, g, quotes) for g in [*groups, total]], floatfmt=".2f")

    emit(fmt, rows, document, table)


def _engagement_line(by: str, g: Group, quotes: bool) -> dict[str, Any]:
    return {
        by: g.label,
        "posts": g.posts,
        "favourites": g.favourites,
        "boosts": g.boosts,
        "replies": g.replies,
        "reactions": g.reactions,
        **({"quotes": g.quotes} if quotes else {}),
        "engagement": g.engagement,
        # Text, so a column with "-" in it keeps two decimals too (tabulate reads numbers).
        "per post": "-" if g.per_post is None else f"{g.per_post:.2f}",
        "deleted": g.deleted,
    }


@stats.command("top")
@period_options
@click.option("--n", "n", type=POSITIVE_INT, default=10, show_default=True, help="How many.")
@STATS_FORMAT
@pass_app
def stats_top(app: App, since: date | None, until: date | None, n: int, fmt: str) -> None:
    """The posts with the most engagement, with their links."""
    from commsbot.insights import figures

    period = make_period(app, since, until)
    best = figures.top_posts(app.store, period, n)
    rows: list[dict[str, Any]] = [
        {
            "rank": rank,
            "post_id": p.id,
            "channel": p.channel,
            "type": p.item_type,
            "title": p.title,
            "sent_at": p.sent_at.astimezone(period.zone).isoformat(),
            "favourites": p.favourites,
            "boosts": p.boosts,
            "replies": p.replies,
            "reactions": p.reactions,
            "quotes": p.quotes,
            "engagement": p.engagement,
            "url": p.url,
            "deleted": p.deleted,
        }
        for rank, p in enumerate(best, 1)
    ]

    def table() -> None:
        if not rows:
            click.echo(f"No posts were sent from {period.describe()}.")
            return
        if not any(r["engagement"] for r in rows):
            # Ten "top" posts at 0 would rank nothing: say why there is no ranking.
            click.echo(
                f"No engagement yet on the posts sent from {period.describe()}: "
                "figures come from an account that reports them (Mastodon, Telegram), "
                "collected by the collect-engagement job."
            )
            return
        click.echo(f"Top posts sent from {period.describe()}:")
        echo_table(
            [
                {
                    "#": r["rank"],
                    "channel": r["channel"],
                    "type": r["type"],
                    "sent": r["sent_at"][:10],
                    "engagement": r["engagement"],
                    "title": r["title"][:40],
                    "link": ("[deleted on the platform] " if r["deleted"] else "")
                    + (r["url"] or ""),
                }
                for r in rows
            ]
        )

    emit(fmt, rows, {"period": period.as_dict(), "rows": rows}, table)


@stats.command("subscribers")
@period_options
@STATS_FORMAT
@pass_app
def stats_subscribers(app: App, since: date | None, until: date | None, fmt: str) -> None:
    """Digest subscribers: growth and churn by channel and frequency."""
    from commsbot.insights import figures
    from commsbot.insights import stats as st

    period = make_period(app, since, until)
    shown = _digest_accounts(app)
    groups, total = st.subscriber_summary(figures.subscriber_history(app.store), period, shown)
    rows = [g.as_row() for g in groups]
    document = {"period": period.as_dict(), "rows": rows, "total": total.as_row()}

    def table() -> None:
        click.echo(f"Digest subscribers from {period.describe()}:")
        echo_table(
            [
                {
                    **g.as_row(),
                    "net": f"{g.net:+d}",
                    "churn_pct": _pct(g.churn_pct),
                }
                for g in [*groups, total]
            ]
        )

    emit(fmt, rows, document, table)


@stats.command("bot")
@period_options
@STATS_FORMAT
@pass_app
def stats_bot(app: App, since: date | None, until: date | None, fmt: str) -> None:
    """Bot usage: queries and distinct chats per command."""
    from commsbot.insights import figures

    period = make_period(app, since, until)
    uses, total = figures.bot_usage(app.store, period)
    rows = [u.as_row() for u in uses]
    document = {"period": period.as_dict(), "rows": rows, "total": total.as_row()}

    def table() -> None:
        if not uses:
            click.echo(f"The bot was not used from {period.describe()}.")
            return
        click.echo(f"Bot commands used from {period.describe()}:")
        echo_table([{**u.as_row(), "share_pct": _pct(u.share_pct)} for u in [*uses, total]])

    emit(fmt, rows, document, table)


@click.command()
@click.option(
    "--html",
    "html_path",
    required=True,
    type=FILE_PATH,
    help="Write the report to this HTML file.",
)
@period_options
@click.option("--top", type=POSITIVE_INT, default=10, show_default=True, help="Top posts to list.")
@click.option(
    "--lang",
    "language",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="The report's language: labels, dates and numbers.",
)
@pass_app
def report(
    app: App, html_path: Path, since: date | None, until: date | None, top: int, language: str
) -> None:
    """Write the engagement report: one HTML file with charts and tables, no external requests.

    It includes the movement: campaign hashtags, mentions and audience growth."""
    from commsbot.insights.report import render_report

    period = make_period(app, since, until)
    html = render_report(
        app.store,
        period,
        datetime.now(UTC),
        top=top,
        templates=app.config.service.templates,
        hashtags=app.config.movement.hashtags,
        digest_channels=_digest_accounts(app),
        movement_accounts=app.config.movement_accounts(),
        language=language,
    )
    try:
        html_path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(
            f"{html_path}: cannot write the report: {exc.strerror}"
        ) from None
    click.echo(f"report for {period.describe()} written to {html_path}")
