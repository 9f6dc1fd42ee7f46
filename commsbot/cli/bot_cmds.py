"""``commsbot bot``: the Telegram bots on their own, with long polling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from commsbot.cli.base import App, pass_app

if TYPE_CHECKING:
    from commsbot.service.supervise import LongRunning


@click.command("bot")
@pass_app
def bot(app: App) -> None:
    """Answer Telegram chat users until Ctrl-C or SIGTERM (needs [channels.telegram])."""
    import asyncio  # here: --help must not pay for it
    import functools

    from commsbot.bot.app import TelegramBot, telegram_bots
    from commsbot.service.supervise import run_until_stopped

    config = app.config
    bots = telegram_bots(config)  # one per Telegram account with a token of its own

    def ready(name: str, running: LongRunning) -> None:
        assert isinstance(running, TelegramBot)
        click.echo(f"bot @{running.username} is answering; Ctrl-C stops it", err=True)

    # Each bot its own part, new at every try: one that cannot start is tried again while
    # the others answer.
    starters = [
        (
            f"telegram-bot ({one.account})",
            functools.partial(TelegramBot, config, account=one.account),
        )
        for one in bots
    ]
    asyncio.run(run_until_stopped(config.service, starters, ready))
    click.echo("bot stopped", err=True)
