"""``commsbot channels``: each channel's state, and a check of one channel's credentials."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from commsbot.cli.base import App, echo_table, pass_app

if TYPE_CHECKING:
    from commsbot.channels.base import Channel


@click.group(invoke_without_command=True)
@click.pass_context
def channels(ctx: click.Context) -> None:
    """The channels: their state (down, paused) and queues; `channels test NAME` checks one."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(channels_list)


@channels.command("list")
@pass_app
def channels_list(app: App) -> None:
    """Each channel (account): its kind, enabled or not, its state, and its posts by status.

    An account removed from the config is listed as removed, with its posts: its history
    stays in the store."""
    from commsbot.posting import queue as queue_ops
    from commsbot.posting.select import channel_blocked

    now = datetime.now(UTC)
    counts = queue_ops.posts_by_channel(app.store)
    known = queue_ops.known_accounts(app.store)
    kinds = {name: s.kind for name, s in app.config.channels.items()}
    for name in [*known, *counts]:
        if name not in kinds:
            kinds[name] = known[name]["kind"] if name in known else name
    rows: list[dict[str, Any]] = []
    for name, kind in kinds.items():
        mine = counts.get(name, {})
        settings = app.config.channels.get(name)
        if settings is None:
            enabled, state = "removed", "-"
        else:
            enabled = "yes" if settings.enabled else "no"
            state = channel_blocked(app.store, name, now) or "ok"
        rows.append(
            {
                "channel": name,
                "kind": kind,
                "enabled": enabled,
                "state": state,
                "queued": mine.get("queued", 0),
                "sent": mine.get("sent", 0),
                "failed": mine.get("failed", 0),
                "unknown": mine.get("unknown", 0),
            }
        )
    echo_table(rows)


@channels.command("test")
@click.argument("name")
@pass_app
def channels_test(app: App, name: str) -> None:
    """Check NAME's credentials: print the account it posts as and the server's limits.

    A channel that was down (its token rejected) resumes posting once this succeeds.
    """
    from commsbot.posting import record
    from commsbot.posting.pipeline import make_channels

    app.config.channel(name)  # names the file and the configured channels when it is not there
    channel = make_channels(app.config, [name])[name]
    import asyncio  # here, not at the top: --help must not pay for it

    info = asyncio.run(_describe(channel))
    width = max((len(k) for k in info), default=0)
    for key, value in info.items():
        click.echo(f"{key:<{width}}  {value}")
    click.echo(f"{name}: OK")
    was_down = record.clear_if_down(app.store, name, datetime.now(UTC))
    if was_down is not None:
        click.echo(f"{name} was down ({was_down}); cleared: posting resumes")


async def _describe(channel: Channel) -> dict[str, str]:
    await channel.open()
    try:
        return await channel.describe()
    finally:
        await channel.close()
