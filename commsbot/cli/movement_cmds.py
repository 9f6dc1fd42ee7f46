"""``commsbot stats movement`` and ``commsbot movement``: the movement beyond our own posts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import click

from commsbot.cli.base import App, channel_option, echo_table, pass_app
from commsbot.cli.stats_cmds import STATS_FORMAT, emit, make_period, period_options

if TYPE_CHECKING:
    from commsbot.insights.movement import AccountMovement, AudienceGrowth, MovementFigures

PARTS = ("all", "weeks", "accounts", "voices", "languages", "audience")


def _week_line(w: Any) -> dict[str, Any]:
    return {
        "week": w.week,
        "tagged": w.tagged,
        "accounts": w.accounts,
        "mentions": w.mentions,
        "replies": w.replies,
        "voices": w.voices,
        "new voices": w.new_voices,
        "own": w.own,
        "reach": w.reach,
    }


def _account_line(a: AccountMovement) -> dict[str, Any]:
    t, growth = a.total, a.audience
    return {
        "account": a.account,
        "tagged": t.tagged,
        "mentions": t.mentions,
        "replies": t.replies,
        "voices": t.voices,
        "new voices": t.new_voices,
        "reach": t.reach,
        "followers": "-" if growth is None or growth.end is None else growth.end,
        "change": "-" if growth is None or growth.change is None else f"{growth.change:+d}",
    }


def _audience_rows(growth: AudienceGrowth) -> list[dict[str, Any]]:
    return [
        {"week": week, **{s.label: s.values[i] for s in growth.series}}
        for i, week in enumerate(growth.weeks)
    ]


def _headline(app: App, figures: MovementFigures) -> str:
    t = figures.total
    tags = ", ".join(f"#{tag}" for tag in app.config.movement.hashtags) or "no campaign hashtags"
    heard = f" as {figures.account} read it" if figures.account else ""
    return (
        f"Movement{heard} from {figures.period.describe()}: {_count(t.voices, 'voice', 'voices')} "
        f"({t.new_voices} new); {_count(t.tagged, 'status', 'statuses')} by "
        f"{_count(t.accounts, 'account', 'accounts')} with {tags}; "
        f"{_count(t.mentions, 'mention', 'mentions')}; "
        f"{_count(t.replies, 'reply', 'replies')} to {t.conversations} of our posts."
    )


def _tables(app: App, figures: MovementFigures, part: str) -> None:
    period = figures.period
    if part == "all":
        click.echo(_headline(app, figures))
    if part in ("all", "weeks"):
        click.echo("\nPer week (tagged: statuses by others with a campaign hashtag; accounts: who")
        click.echo("posted them; replies: to our posts; voices: accounts heard either way):")
        echo_table([_week_line(w) for w in [*figures.weeks, figures.total]])
    # One account's lines say nothing the totals do not.
    if part == "accounts" or (part == "all" and len(figures.accounts) > 1):
        click.echo("\nPer account (what each read; a status two accounts read counts")
        click.echo("once in the network's figures):")
        echo_table([_account_line(a) for a in figures.accounts])
    if part in ("all", "voices"):
        click.echo("\nTop voices by reach (favourites + boosts + replies of their statuses):")
        echo_table(
            [
                {
                    "#": rank,
                    "account": v.acct,
                    "statuses": v.statuses,
                    "reach": v.reach,
                    "first seen": v.first_seen.astimezone(period.zone).strftime("%Y-%m-%d"),
                    "profile": v.url,
                }
                for rank, v in enumerate(figures.voices, 1)
            ]
        )
    if part in ("all", "languages"):
        click.echo("\nStatuses by others, by language:")
        echo_table([{**x.as_row(), "share_pct": f"{x.share_pct:.1f} %"} for x in figures.languages])
    if part in ("all", "audience"):
        click.echo("\nAudience at the end of each week (followers, digest subscribers):")
        echo_table(
            [
                {k: "-" if v is None else v for k, v in row.items()}
                for row in _audience_rows(figures.audience)
            ]
        )
        changes = [
            f"{s.label} {s.change:+d}" for s in figures.audience.series if s.change is not None
        ]
        if changes:
            click.echo(f"Change over the period: {', '.join(changes)}")


@click.command("movement")
@period_options
@click.option(
    "--top", type=click.IntRange(1), default=10, show_default=True, help="Top voices to list."
)
@click.option(
    "--show",
    type=click.Choice(PARTS),
    default="all",
    show_default=True,
    help="One table only. CSV holds one table: the weekly one unless another is named.",
)
@channel_option(help="Only what this Mastodon or Bluesky account read, and its audience.")
@STATS_FORMAT
@pass_app
def stats_movement(
    app: App,
    since: date | None,
    until: date | None,
    top: int,
    show: str,
    channel_name: str | None,
    fmt: str,
) -> None:
    """The movement: voices using the campaign hashtags or mentioning us, per week and per
    Mastodon or Bluesky account; new voices; top voices by reach; languages; audience growth
    per channel."""
    from commsbot.insights import movement

    if channel_name is not None:
        _check_account(app, channel_name)
    period = make_period(app, since, until)
    figures = movement.load(
        app.store, period, top, channel_name, accounts=app.config.movement_accounts()
    )
    document = figures.as_dict()
    parts: dict[str, list[dict[str, Any]]] = {
        "weeks": document["weeks"],
        "accounts": document["by_account"],
        "voices": document["top_voices"],
        "languages": document["languages"],
        "audience": _audience_rows(figures.audience),
    }
    rows = parts["weeks" if show == "all" else show]
    if show != "all":
        key = {"voices": "top_voices", "accounts": "by_account"}.get(show, show)
        document = {"period": document["period"], key: document[key]}

    def table() -> None:
        if figures.empty:
            click.echo(
                f"No movement recorded from {period.describe()}: set [movement] hashtags or "
                "mentions = true and run track-movement, and snapshot-audience for growth."
            )
            return
        _tables(app, figures, show)

    emit(fmt, rows, document, table)


def _check_account(app: App, name: str) -> None:
    """A Mastodon or Bluesky account of the config, or one the store remembers (removed
    since)."""
    from commsbot.config import MOVEMENT_KINDS
    from commsbot.posting.queue import known_accounts

    kinds = {n: s.kind for n, s in app.config.channels.items()}
    kinds.update({n: r["kind"] for n, r in known_accounts(app.store).items() if n not in kinds})
    if kinds.get(name) not in MOVEMENT_KINDS:
        known = ", ".join(n for n, kind in kinds.items() if kind in MOVEMENT_KINDS) or "none"
        raise click.BadParameter(
            f"no Mastodon or Bluesky account {name!r} (known: {known})", param_hint="--channel"
        )


@click.group()
def movement() -> None:
    """Movement tracking: the public statuses stored about other accounts."""


@movement.command("forget")
@click.argument("account")
@pass_app
def movement_forget(app: App, account: str) -> None:
    """Remove every stored status and mention of ACCOUNT (user@server or profile url)."""
    from commsbot.insights.tracking import forget_account

    handle = account.strip().removeprefix("@")
    if not handle:
        raise click.BadParameter(
            "give an account, e.g. alice@mastodon.social", param_hint="ACCOUNT"
        )
    statuses, mentions = forget_account(app.store, handle)
    if not statuses + mentions:
        hint = "" if "@" in handle or "://" in handle else "; give the full handle, user@server"
        click.echo(f"Nothing is stored about {handle}{hint}.")
        return
    click.echo(
        f"Forgot {handle}: removed {_count(statuses, 'hashtag status', 'hashtag statuses')} "
        f"and {_count(mentions, 'mention', 'mentions')}."
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
