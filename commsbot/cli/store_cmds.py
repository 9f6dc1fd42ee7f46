"""Store safety: ``backup`` (while the service runs) and ``restore``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from commsbot.cli.base import FILE_PATH, App, needs_attention, pass_app


@click.command()
@click.argument("path", type=FILE_PATH)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.option("--check", is_flag=True, help="Check the backup at PATH instead of writing one.")
@pass_app
def backup(app: App, path: Path, force: bool, check: bool) -> None:
    """Copy the store to PATH and its images to PATH.images/, safely while the service
    runs; or check a backup (exit code 1 when images its posts name are missing)."""
    from commsbot.service import backups

    if check:
        found = backups.check(path)
        if found.images.included and found.images.missing:
            click.echo(f"backup incomplete: {found.describe()}")
            needs_attention()
        click.echo(f"backup ok: {found.describe()}")
        return
    written = backups.backup(app.store, path, datetime.now(UTC), force=force)
    click.echo(f"backup written: {written.describe()}")
    if written.images.missing:
        click.echo(
            f"warning: {len(written.images.missing)} image(s) posts name were already missing "
            "from the store's uploads folder, so are not in the backup",
            err=True,
        )
        needs_attention()


@click.command()
@click.argument("path", type=FILE_PATH)
@pass_app
def restore(app: App, path: Path) -> None:
    """Put the backup at PATH (and its images) in place of the store (stop the service first).

    The current store is kept next to it, and no kept image is removed; posts that were
    due but not sent in the backup wait for approval, since they may have gone out after
    it was made.
    """
    from commsbot.service import backups

    done = backups.restore(app.config.store.path, path, datetime.now(UTC))
    click.echo(f"restored {done.checked.summary.describe()}")
    found = done.checked.images
    if found.included:
        click.echo(f"images restored: {done.copied} copied, {found.present} in place")
    else:
        click.echo(f"note: {backups.NOT_INCLUDED}; only the store was restored")
    if done.aside is not None:
        click.echo(f"the replaced store is kept as {done.aside}")
    if done.held:
        click.echo(
            f"{done.held} post(s) due before the restore wait for approval: they may have been "
            "sent after the backup was made (commsbot queue pending)"
        )
    if found.missing:
        click.echo(
            f"warning: {len(found.missing)} image(s) its posts name are not in the store's "
            f"uploads folder ({', '.join(found.missing[:3])}); those posts fail until the "
            "images are put back",
            err=True,
        )
