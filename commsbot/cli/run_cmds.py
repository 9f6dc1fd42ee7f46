"""Setting up and running: ``init``, ``run``, ``config show``."""

from __future__ import annotations

import atexit
import gc
import json
import logging
from typing import Any

import click

from commsbot.cli.base import (
    App,
    echo_table,
    exit_codes,
    format_option,
    json_option,
    needs_attention,
    pass_app,
    progress_bar,
)


@click.command()
@click.option("--sample", is_flag=True, help="Load the sample network into an empty store.")
@pass_app
def init(app: App, sample: bool) -> None:
    """Create the store, or upgrade an existing one in place. Never overwrites content."""
    from commsbot.clock import utcnow
    from commsbot.content.items import load_sample
    from commsbot.errors import ContentError

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


@click.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --once: show what the run would post, nothing sent or stored (queue plan).",
)
@json_option("With --once: print the summary as text or as JSON.")
@pass_app
@exit_codes
def run(app: App, once: bool, dry_run: bool, as_json: bool) -> None:
    """Run the service in the foreground (Ctrl-C stops it), or every job once with --once.

    The service runs the jobs in the schedules folder and posts each channel's content
    in its slots. One process per store: a second one refuses to start. With --once it
    exits 0 when all went well, 1 when something needs attention (a channel that could
    not be opened, a failed or unknown post), 2 on a usage or config error.
    """
    if dry_run:
        if not once:
            raise click.UsageError("--dry-run goes with --once")
        from commsbot.cli.queue_cmds import echo_preview

        echo_preview(app, as_json)
        return
    from commsbot.service.lock import StoreLock

    if not once:
        if as_json:
            raise click.UsageError("--json goes with --once; the service logs (see --log-json)")
        from commsbot.alerts.problems import CONSOLE_PART
        from commsbot.service import logs
        from commsbot.service.process import PARTS, Part, run_service
        from commsbot.web.server import needs_web

        config = app.config
        # A service logs what it does by default: one line per action.
        level = logging.DEBUG if app.verbose else logging.ERROR if app.quiet else logging.INFO
        json_lines = app.log_json or config.service.log_format == "json"
        logs.setup(level, json_lines=json_lines)
        console = Part(CONSOLE_PART, "commsbot.web.server:web_part", needs_web)
        run_service(config, (*PARTS, console))
        return
    # The config is read (and the store opened) once the collector is set for the run.
    with RunCollections() as collections, StoreLock(app.config.store.path, "commsbot run --once"):
        _run_once(app, as_json, collections)


class RunCollections:
    """Python's cyclic garbage collector during ``run --once`` (#15): off while the run
    starts (imports, config, store: all of it lives to the end), then the start-up's
    objects frozen out of its sweeps and young collections rarer; the process's settings
    are restored after. Measured with valgrind on the 2,000-practice benchmark store:
    64 M of the run's 2,990 M instructions saved by the first two, 12 M more by the
    threshold; on 10,000 practices the collector's own time (gc.callbacks) fell from
    160-230 ms to 40-85 ms, peak memory unchanged (117 MB). At exit what is still alive is
    frozen too, so that the interpreter's last collections do not sweep it: 40 M of the
    800 M of a run with nothing to post. Python promises no finalizer for an object alive
    at exit, and the store is closed before."""

    # Young collections every 10,000 allocations, not 700: the rows a run plans live until
    # they are stored, and each collection sweeps them again (the older generations'
    # thresholds count young collections, so they are rarer too).
    THRESHOLD = (10_000, 10, 10)

    def __enter__(self) -> RunCollections:
        self._enabled, self._threshold = gc.isenabled(), gc.get_threshold()
        self._frozen = gc.get_freeze_count()
        gc.disable()
        return self

    def started(self) -> None:
        """Start-up is over: what it made is kept out of every sweep of the run."""
        gc.freeze()
        gc.set_threshold(*self.THRESHOLD)
        if self._enabled:
            gc.enable()

    def __exit__(self, *exc: object) -> None:
        gc.set_threshold(*self._threshold)
        if not self._frozen:  # a process that runs more than one command (tests)
            gc.unfreeze()
        if self._enabled:
            gc.enable()
        # Once per process, however many commands it runs.
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)


def _run_once(app: App, as_json: bool, collections: RunCollections) -> None:
    import asyncio

    from commsbot.clock import utcnow
    from commsbot.service.runs import mark_interrupted, run_once

    store, config = app.store, app.config
    left = mark_interrupted(store, config, utcnow())
    if left:
        click.echo(
            f"post(s) {', '.join(map(str, left))} were left sending by a stopped process: "
            "recorded unknown (commsbot status)",
            err=True,
        )
    collections.started()
    # Counted only for a terminal's bar: the count imports commsbot.content.items (#15).
    with progress_bar(lambda: _due_estimate(app), "posting") as bar:
        summary, jobs = asyncio.run(run_once(store, config, progress=bar.update))
    rows = summary_rows(summary)
    if as_json:
        data = {
            "channels": rows,
            "held": dict(summary.held),
            "jobs": jobs,
            "problems": summary.problems,
        }
        click.echo(json.dumps(data, indent=2, default=_plain))
    else:
        _echo_summary(summary, jobs, rows)
    if summary.problems or summary.total("failed") or summary.total("unknown"):
        needs_attention()


def _plain(value: Any) -> Any:
    """A job's result object (a dataclass such as Tracked) as JSON data, not its repr."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _echo_summary(
    summary: Any, jobs: dict[str, dict[str, Any]], rows: list[dict[str, Any]]
) -> None:
    for problem in summary.problems:
        click.echo(f"problem: {problem}", err=True)
    from commsbot.service.runs import describe

    for name, result in jobs.items():
        if result:  # one short line, as the job runs record it (never a Python repr)
            click.echo(f"{name}: {describe(result)}")
    if summary.held:
        click.echo(
            "not queued: "
            + ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in summary.held.items())
            + " (commsbot queue pending)"
        )
    if not rows:
        if summary.problems:
            click.echo("nothing posted: no channel could be opened (see the problems above)")
        else:
            click.echo("nothing to post: no channel is enabled")
        return
    echo_table(rows)


def _due_estimate(app: App) -> int:
    from commsbot.content.items import count

    return sum(count(app.store, t) for t in app.config.posting.content_types) * max(
        1, len(app.config.enabled_channels)
    )


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@format_option("toml", "json")
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
        if isinstance(values, list):
            for entry in values:
                _print_section([section], entry, os.environ, array=True)
        elif isinstance(values, dict):
            _print_section([section], values, os.environ)


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _print_section(path: list[str], values: dict[str, Any], env: Any, array: bool = False) -> None:
    """One TOML table (or array-of-tables entry), then its sub-tables."""
    is_table = {k: isinstance(v, dict) and bool(v) and k != "utm" for k, v in values.items()}
    is_array = {
        k: isinstance(v, list) and bool(v) and isinstance(v[0], dict) for k, v in values.items()
    }
    scalars = {k: v for k, v in values.items() if not is_table[k] and not is_array[k]}
    if scalars or array:
        click.echo(f"\n[[{'.'.join(path)}]]" if array else f"\n[{'.'.join(path)}]")
        for key, value in scalars.items():
            if value is None:
                click.echo(f"# {key} is not set")
                continue
            note = ""
            if key.endswith("_env") and value:  # an optional secret may be left unset
                note = "  # set" if env.get(value) else "  # NOT SET"
            click.echo(f"{key} = {_toml_value(value)}{note}")
    for key, value in values.items():
        if is_table[key]:
            _print_section([*path, key], value, env)
        elif is_array[key]:
            for entry in value:
                _print_section([*path, key], entry, env, array=True)
