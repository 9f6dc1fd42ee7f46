"""Setting up and running: ``init``, ``run``, ``config show``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from commsbot.cli.base import App, cli, echo_table, pass_app, progress_bar


@cli.command()
@click.option("--sample", is_flag=True, help="Load the sample network into an empty store.")
@pass_app
def init(app: App, sample: bool) -> None:
    """Create the store, or upgrade an existing one in place. Never overwrites content."""
    from commsbot.content import load_sample
    from commsbot.errors import ContentError
    from commsbot.pipeline import utcnow

    existed = app.config.store.path.exists()
    store = app.store
    click.echo(
        f"store {store.path}: {'exists' if existed else 'created'}, schema {store.version()}"
    )
    if sample:
        try:
            added = load_sample(store, utcnow())
        except ContentError as exc:
            click.echo(f"{exc}")
            return
        click.echo("sample loaded: " + ", ".join(f"{n} {t}" for t, n in added.items()))


def summary_rows(summary: Any) -> list[dict[str, Any]]:
    rows = []
    for channel in sorted(set(summary.planned) | set(summary.outcomes)):
        c = summary.outcomes.get(channel, {})
        rows.append(
            {
                "channel": channel,
                "new": summary.planned.get(channel, 0),
                "posted": c.get("sent", 0),
                "retrying": c.get("retrying", 0),
                "failed": c.get("failed", 0),
                "unknown": c.get("unknown", 0),
            }
        )
    return rows


@cli.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def run(app: App, once: bool, as_json: bool) -> None:
    """Post new content and due posts to the enabled channels."""
    from commsbot.pipeline import run_once

    if not once:
        raise click.UsageError("the long-running service is not available yet; use --once")
    store, config = app.store, app.config
    with progress_bar(_due_estimate(app), "posting") as bar:
        summary, jobs = asyncio.run(run_once(store, config, progress=bar.update))
    rows = summary_rows(summary)
    if as_json:
        data = {"channels": rows, "jobs": jobs, "problems": summary.problems}
        click.echo(json.dumps(data, indent=2, default=str))
        return
    for problem in summary.problems:
        click.echo(f"problem: {problem}", err=True)
    for name, result in jobs.items():
        if result:
            click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    if not rows:
        click.echo("nothing to post: no channel is enabled")
        return
    echo_table(rows)


def _due_estimate(app: App) -> int:
    from commsbot.store import content as q

    return sum(q.count(app.store, t) for t in app.config.posting.content_types) * max(
        1, len(app.config.enabled_channels)
    )


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml")
@pass_app
def config_show(app: App, fmt: str) -> None:
    """Print the effective config; secrets are never shown, only whether they are set."""
    import os

    from commsbot.config import as_dict

    data = as_dict(app.config)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"# {app.config.file}")
    for section, values in data.items():
        _print_section([section], values, os.environ)


def _print_section(path: list[str], values: dict[str, Any], env: Any) -> None:
    scalars = {k: v for k, v in values.items() if not isinstance(v, dict) or not v or k == "utm"}
    tables = {k: v for k, v in values.items() if k not in scalars}
    if scalars:
        click.echo(f"\n[{'.'.join(path)}]")
        for key, value in scalars.items():
            note = ""
            if key.endswith("_env") and value:  # an optional secret may be left unset
                note = "  # set" if env.get(value) else "  # NOT SET"
            click.echo(f"{key} = {json.dumps(value, ensure_ascii=False)}{note}")
    for key, value in tables.items():
        _print_section([*path, key], value, env)
