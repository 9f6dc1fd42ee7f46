"""The ``commsbot`` command line. Each module adds the commands of one area."""

from commsbot.cli import (  # noqa: F401  (registration)
    alerts_cmds,
    bot_cmds,
    channels_cmds,
    content_cmds,
    digest_cmds,
    feeds_cmds,
    movement_cmds,
    queue_cmds,
    run_cmds,
    service_cmds,
    stats_cmds,
    store_cmds,
    subscriber_cmds,
    web_cmds,
)
from commsbot.cli.base import cli


def main() -> None:
    """Console entry point."""
    cli(prog_name="commsbot")


__all__ = ["cli", "main"]
