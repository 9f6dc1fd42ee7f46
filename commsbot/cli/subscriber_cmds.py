"""Subscriber commands: add, list, remove, import, unsubscribe, forget."""

from __future__ import annotations

import json
from pathlib import Path

import click

from commsbot.cli.base import (
    FILE_PATH,
    App,
    channel_option,
    echo_table,
    format_option,
    pass_app,
)
from commsbot.clock import local_text, utcnow, zoned
from commsbot.i18n import LANGUAGES


def _describe(subscriber: dict[str, object]) -> str:
    return f"#{subscriber['id']} {subscriber['channel']} {subscriber['address']}"


def _email_account(app: App, name: str) -> str:
    """An account that sends digests by e-mail; "email" also when it is not configured
    (the subscriber waits until it is)."""
    settings = app.config.channels.get(name)
    if settings is None and name == "email":
        return name
    if app.config.channel(name).kind != "email":
        raise click.BadParameter(f"{name} is not an e-mail channel", param_hint="--channel")
    return name


@click.group()
def subscribers() -> None:
    """Partners who receive digests by e-mail or Telegram (Telegram users use /subscribe)."""


@subscribers.command("add")
@click.argument("email")
@click.option(
    "--frequency",
    type=click.Choice(["weekly", "monthly"]),
    required=True,
    help="How often the digest comes.",
)
@click.option("--city", "cities", multiple=True, help="Only these cities (repeat; names or slugs).")
@click.option("--theme", "themes", multiple=True, help="Only these themes (repeat).")
@channel_option("channel", default="email", show_default=True, help="The e-mail account.")
@click.option(
    "--language",
    type=click.Choice(LANGUAGES, case_sensitive=False),
    help="The digest's language (default: English; unchanged for an existing address).",
)
@pass_app
def subscribers_add(
    app: App,
    email: str,
    frequency: str,
    cities: tuple[str, ...],
    themes: tuple[str, ...],
    channel: str,
    language: str | None,
) -> None:
    """Subscribe EMAIL to a digest; for an existing address, change its choices."""
    from commsbot.digests.subscribers import add_email

    found = add_email(
        app.store,
        email,
        frequency,
        cities,
        themes,
        utcnow(),
        _email_account(app, channel),
        language=language,
    )
    click.echo(
        f"subscribed {_describe(found)}: {found['frequency']}, "
        f"cities: {', '.join(found['cities']) or 'all'}, "
        f"themes: {', '.join(found['themes']) or 'all'}, language: {found['language']}"
    )
    if not app.config.enabled_accounts("email"):
        click.echo(
            f"warning: no e-mail channel is enabled in {app.config.file}: no digest reaches "
            "this subscriber until [channels.email] is enabled",
            err=True,
        )


@subscribers.command("list")
@click.option(
    "--status",
    type=click.Choice(["active", "unsubscribed", "bounced", "all"]),
    default="active",
    show_default=True,
)
@channel_option("channel", help="Only this channel (account).")
@click.option("--frequency", type=click.Choice(["weekly", "monthly"]), help="Only this frequency.")
@format_option("table", "json")
@pass_app
def subscribers_list(
    app: App, status: str, channel: str | None, frequency: str | None, fmt: str
) -> None:
    """List subscribers and their choices."""
    from commsbot.digests.subscribers import listed

    rows = listed(
        app.store,
        channel=channel,
        frequency=frequency,
        status=None if status == "all" else status,
    )
    if fmt == "json":
        click.echo(json.dumps(zoned(rows, app.config.zone), ensure_ascii=False, indent=2))
        return
    for r in rows:
        r["cities"] = ", ".join(r["cities"]) or "all"
        r["themes"] = ", ".join(r["themes"]) or "all"
        r["created_at"] = local_text(r["created_at"], app.config.zone)
    echo_table(
        rows,
        [
            "id",
            "channel",
            "address",
            "frequency",
            "cities",
            "themes",
            "language",
            "status",
            "created_at",
        ],
    )


@subscribers.command("remove")
@click.argument("subscriber")
@pass_app
def subscribers_remove(app: App, subscriber: str) -> None:
    """Unsubscribe SUBSCRIBER (an e-mail address, ACCOUNT:ADDRESS or #ID); kept as history."""
    from commsbot.digests.subscribers import remove

    found = remove(app.store, subscriber, utcnow())
    click.echo(f"unsubscribed {_describe(found)}")


@subscribers.command("import")
@click.argument("file", type=FILE_PATH)
@channel_option("channel", default="email", show_default=True, help="The e-mail account.")
@pass_app
def subscribers_import(app: App, file: Path, channel: str) -> None:
    """Subscribe every row of a CSV file (columns: email, frequency, cities, themes).

    Cities and themes are ';'-separated. All or nothing: one bad row stores none.
    Addresses that unsubscribed or bounced are left out, never re-subscribed.
    """
    from commsbot.digests.subscribers import import_csv

    result = import_csv(app.store, file, utcnow(), _email_account(app, channel))
    click.echo(f"{file}: {result.added} added, {result.updated} updated")
    for address in result.kept_out:
        click.echo(f"left out: {address}")


# Tokens made by earlier versions may begin with '-': such a TOKEN is an argument, not an option.
@subscribers.command("unsubscribe", context_settings={"ignore_unknown_options": True})
@click.argument("token")
@pass_app
def subscribers_unsubscribe(app: App, token: str) -> None:
    """Unsubscribe whoever holds TOKEN (the one-step link in every digest).

    A TOKEN that begins with '-' may also follow '--': commsbot subscribers unsubscribe -- TOKEN
    """
    from commsbot.digests.subscribers import unsubscribe_token

    found = unsubscribe_token(app.store, token, utcnow())
    click.echo(f"unsubscribed {_describe(found)}")


@subscribers.command("forget")
@click.argument("address")
@pass_app
def subscribers_forget(app: App, address: str) -> None:
    """Delete ADDRESS (e-mail, ACCOUNT:ADDRESS or #ID) and its personal data for good."""
    from commsbot.digests.subscribers import forget

    found = forget(app.store, address)
    click.echo(f"forgot subscriber #{found['id']}: their address and choices are deleted")
