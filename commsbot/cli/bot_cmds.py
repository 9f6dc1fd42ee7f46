"""``commsbot bot``: the Telegram bot on its own, with long polling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from commsbot.cli.base import App, pass_app

if TYPE_CHECKING:
    from commsbot.bot.app import TelegramBots


@click.command("bot")
@pass_app
def bot(app: App) -> None:
    """Answer Telegram chat users until Ctrl-C or SIGTERM (needs [channels.telegram])."""
    from commsbot.bot.app import run_until_stopped

    def ready(running: TelegramBots) -> None:
        for one in running.bots:  # one per Telegram account with a token of its own
            click.echo(f"bot @{one.username} is answering; Ctrl-C stops it", err=True)

    import asyncio  # here: --help must not pay for it

    asyncio.run(run_until_stopped(app.config, ready))
    click.echo("bot stopped", err=True)
