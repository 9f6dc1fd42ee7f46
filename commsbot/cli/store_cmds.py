"""Store safety: ``backup`` (while the service runs) and ``restore``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from commsbot.cli.base import FILE_PATH, App, cli, pass_app


@cli.command()
@click.argument("path", type=FILE_PATH)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.option("--check", is_flag=True, help="Check the backup at PATH instead of writing one.")
@pass_app
def backup(app: App, path: Path, force: bool, check: bool) -> None:
    """Copy the store to PATH, safely while the service runs; or check a backup."""
    from commsbot.service import backups

    if check:
        click.echo(f"backup ok: {backups.check(path).describe()}")
        return
    written = backups.backup(app.store, path, datetime.now(UTC), force=force)
    click.echo(f"backup written: {written.describe()}")


@cli.command()
@click.argument("path", type=FILE_PATH)
@pass_app
def restore(app: App, path: Path) -> None:
    """Put the backup at PATH in place of the store (stop the service first).

    The current store is kept next to it; posts that were due but not sent in the
    backup wait for approval, since they may have gone out after it was made.
    """
    from commsbot.service import backups

    found, aside, held = backups.restore(app.config.store.path, path, datetime.now(UTC))
    click.echo(f"restored {found.describe()}")
    if aside is not None:
        click.echo(f"the replaced store is kept as {aside}")
    if held:
        click.echo(
            f"{held} post(s) due before the restore wait for approval: they may have been "
            "sent after the backup was made (commsbot queue pending)"
        )
