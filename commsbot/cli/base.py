"""The CLI group and what its commands share; errors become user messages here only.

Heavy libraries (Jinja2, channel clients, the scheduler) are imported inside the
commands that need them, so that ``commsbot --help`` starts quickly.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from commsbot import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from commsbot.config import Config
    from commsbot.store import Store

F = TypeVar("F", bound=Callable[..., Any])


class PositiveInt(click.IntRange):
    """An id or a count: a whole number from 1. SQLite integers are 64-bit, so a larger
    number is refused here, naming the argument, rather than overflowing in the store."""

    def __init__(self) -> None:
        super().__init__(min=1)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        # Here, not at the top: the commsbot.text package loads the regex library, which
        # `commsbot --help` has no use for.
        from commsbot.text.user_input import SQLITE_MAX, whole_number

        if isinstance(value, str):
            # click's int() would read '٣' as 3; only ASCII digits are a number here.
            number = whole_number(value, signed=True)
            if number is None:
                self.fail(f"{value!r} is not a valid integer", param, ctx)
            value = number
        number = super().convert(value, param, ctx)
        if number > SQLITE_MAX:
            self.fail(f"{number} is too large", param, ctx)
        return number


POSITIVE_INT = PositiveInt()


class FilePath(click.Path):
    """A file's path; an empty one is refused (as a path it would mean the current folder),
    and so is one with a NUL, which no file system takes."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("the path is empty", param, ctx)
        if isinstance(value, str) and "\x00" in value:
            self.fail(f"{value!r} contains a NUL character", param, ctx)
        return super().convert(value, param, ctx)

    def coerce_path_result(self, value: str | os.PathLike[str]) -> Any:
        # What path_type=Path does, with pathlib imported here: `commsbot --help` has no
        # use for it, nor for urllib.parse and ipaddress, which pathlib imports.
        from pathlib import Path

        return Path(value)


FILE_PATH = FilePath()


class App:
    """What commands share: the config and the store, opened on first use."""

    def __init__(self) -> None:
        self.config_path: str | None = None
        # From the group's --verbose / --quiet / --log-json, for commands that log more.
        self.verbose = False
        self.quiet = False
        self.log_json = False
        self._config: Config | None = None
        self._store: Store | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            from commsbot.config import find_config, load_config
            from commsbot.service import logs

            self._config = load_config(find_config(self.config_path))
            logs.mask_secrets(logs.secret_values(self._config))
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            from commsbot.store import Store

            self._store = Store(self.config.store.path)
        return self._store

    def store_path(self) -> Path | None:
        """The store's path, if the config has been read."""
        return self._config.store.path if self._config is not None else None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value:
        ctx.ensure_object(App).config_path = str(value)


def config_option(f: F) -> F:
    """``--config PATH`` on any command, as well as on the group."""
    return click.option(
        "--config",
        "config_path",
        type=FILE_PATH,
        expose_value=False,
        is_eager=True,
        callback=_set_config,
        help="Config file (default: $COMMSBOT_CONFIG, ./commsbot.toml, the packaged example).",
    )(f)


def _format_attrs(choices: tuple[str, ...], help: str | None) -> dict[str, Any]:
    return {
        "type": click.Choice(choices),
        "default": choices[0],
        "show_default": True,
        "help": help or "How to print the result.",
    }


def format_option(*choices: str, help: str | None = None) -> Callable[[F], F]:
    """``--format`` as every command declares it (into ``fmt``); the first choice is the
    default."""
    return click.option("--format", "fmt", **_format_attrs(choices, help))


def format_param(*choices: str, help: str | None = None) -> click.Option:
    """The same ``--format``, for commands built from a list of parameters."""
    return click.Option(["--format", "fmt"], **_format_attrs(choices, help))


def json_option(help: str) -> Callable[[F], F]:
    """``--format text|json`` for a command that prints a summary, into ``as_json``;
    ``--json`` stays as its short form, which scripts already use."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, output_format: str, json_flag: bool, **kwargs: Any) -> Any:
            return f(*args, as_json=json_flag or output_format == "json", **kwargs)

        command = click.option(
            "--json", "json_flag", is_flag=True, help="Short for --format json."
        )(command)
        return cast(
            F,
            click.option(
                "--format",
                "output_format",
                type=click.Choice(["text", "json"]),
                default="text",
                show_default=True,
                help=help,
            )(command),
        )

    return decorate


def _split_names(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(n.strip() for v in value for n in v.split(",") if n.strip())
    return value


def channel_option(
    dest: str = "channel_name",
    *,
    many: bool = False,
    help: str = "Only this channel.",
    **attrs: Any,
) -> Callable[[F], F]:
    """``--channel NAME``, the one way to name channels. With ``many`` it repeats
    (``--channel mastodon --channel telegram``; a comma-separated list reads the same)
    and the command gets a tuple of names."""
    if many:
        attrs.update(multiple=True, callback=_split_names)
    if "type" not in attrs:
        attrs["metavar"] = "NAME"
    return click.option("--channel", dest, help=help, **attrs)


def pass_app(f: F) -> F:
    """Hand the command the shared App, and give it ``--config``."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(click.get_current_context().ensure_object(App), *args, **kwargs)

    return config_option(wrapper)  # type: ignore[return-value]


# Exit codes of the commands cron and monitoring run (run --once, digest send, feeds
# check): 0 all well, 1 something needs attention, 2 a usage or config error.
EXIT_ATTENTION = 1
EXIT_USAGE = 2


class ConfigProblem(click.ClickException):
    """A config error, with the usage errors' exit code (2) rather than 1."""

    exit_code = EXIT_USAGE


def exit_codes(f: F) -> F:
    """For a command cron runs: a config error exits 2, so that 1 means "needs attention"."""
    from commsbot.errors import ConfigError

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except ConfigError as exc:
            raise ConfigProblem(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def needs_attention() -> None:
    """End the command with exit code 1: it ran, but something needs the officer."""
    click.get_current_context().exit(EXIT_ATTENTION)


# A command loaded when run: its import path (``module:attribute``, for
# pkgutil.resolve_name) and its short help, which ``--help`` lists without the import.
# tests/test_cli_help.py checks that each short help is the command's own.
LazyCommands = Mapping[str, tuple[str, str]]


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one runs (click's "Lazily loading
    subcommands"), so that listing them costs no import of what they use."""

    def __init__(
        self, *args: Any, lazy_subcommands: LazyCommands | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands: LazyCommands = lazy_subcommands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        # Here, not at the top: listing the commands (--help) resolves none of them, and
        # pkgutil brings importlib.util with it.
        import pkgutil

        import_path = self.lazy_subcommands[cmd_name][0]
        command = pkgutil.resolve_name(import_path)
        if not isinstance(command, click.Command):
            raise TypeError(f"{import_path} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as exc:
            # click suggests ("Did you mean 'queue'?") from the loaded commands only.
            raise click.NoSuchCommand(
                exc.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own listing gets each command for its short help, which would import
        # them all; stand-ins carrying the table's short help list them the same way.
        stand_ins = {
            name: click.Command(name, help=short)
            for name, (_path, short) in self.lazy_subcommands.items()
        }
        click.Group(commands={**stand_ins, **self.commands}).format_commands(ctx, formatter)


class Group(LazyGroup):
    """Turns every CommsbotError into a clean one-line message, never a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Python hands over bytes that are not UTF-8 (a terminal in Latin-1) as lone
        # surrogates, which no store, file or platform accepts: refused here, once.
        for arg in args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                raise click.UsageError(
                    f"argument {shown!r} is not UTF-8 text; set the terminal to UTF-8", ctx
                ) from None
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        # Here, not at the top, as the other imports a command needs: --help never invokes.
        from commsbot.errors import CommsbotError

        try:
            return super().invoke(ctx)
        except CommsbotError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            # sqlite3, logging, pathlib and pkgutil are imported when a command needs them,
            # not for --help (about 35 ms of its 150): a command that met a store error has
            # loaded sqlite3.
            import sqlite3
            from pathlib import Path

            if not isinstance(exc, sqlite3.OperationalError):
                raise
            # Outside a write transaction (a read, opening the store): the same messages.
            from commsbot.store import explain

            app = ctx.find_object(App)
            where = app.store_path() if app is not None else None
            explained = explain(where or Path("the store"), exc)
            if explained is None:
                raise
            raise click.ClickException(str(explained)) from None


COMMANDS: LazyCommands = {
    "alerts": (
        "commsbot.cli.alerts_cmds:alerts",
        "Alerts to the bot's admins and the alert e-mail list ([alerts] in the config).",
    ),
    "backup": (
        "commsbot.cli.store_cmds:backup",
        "Copy the store to PATH and its images to PATH.images/, safely while the service "
        "runs; or check a backup (exit code 1 when images its posts name are missing).",
    ),
    "bot": (
        "commsbot.cli.bot_cmds:bot",
        "Answer Telegram chat users until Ctrl-C or SIGTERM (needs [channels.telegram]).",
    ),
    "channels": (
        "commsbot.cli.channels_cmds:channels",
        "The channels: their state (down, paused) and queues; `channels test NAME` checks one.",
    ),
    "config": ("commsbot.cli.run_cmds:config_group", "Inspect the configuration."),
    "content": (
        "commsbot.cli.content_cmds:content",
        "Import and export content in bulk (JSON or CSV).",
    ),
    "digest": (
        "commsbot.cli.digest_cmds:digest",
        "Partner digests: weekly (ISO weeks, 2026-W48) and monthly (2026-11).",
    ),
    "events": ("commsbot.cli.content_cmds:events", "Add, list, show, edit and remove events."),
    "feeds": (
        "commsbot.cli.feeds_cmds:feeds",
        "Partner feeds (RSS, Atom, RDF) whose entries become news or newsletters.",
    ),
    "init": (
        "commsbot.cli.run_cmds:init",
        "Create the store, or upgrade an existing one in place.",
    ),
    "movement": (
        "commsbot.cli.movement_cmds:movement",
        "Movement tracking: the public statuses stored about other accounts.",
    ),
    "newsletters": (
        "commsbot.cli.content_cmds:newsletters",
        "Add, list, show, edit and remove newsletters.",
    ),
    "practices": (
        "commsbot.cli.content_cmds:practices",
        "Add, list, show, edit and remove practices.",
    ),
    "preview": (
        "commsbot.cli.content_cmds:preview",
        "Print exactly what each account would receive for an item, with its length, and "
        "which accounts take it.",
    ),
    "queue": (
        "commsbot.cli.queue_cmds:queue",
        "The outbox: queue announcements; list, approve, edit, cancel or retry posts.",
    ),
    "report": (
        "commsbot.cli.stats_cmds:report",
        "Write the engagement report: one HTML file with charts and tables, no external requests.",
    ),
    "restore": (
        "commsbot.cli.store_cmds:restore",
        "Put the backup at PATH (and its images) in place of the store (stop the service first).",
    ),
    "run": (
        "commsbot.cli.run_cmds:run",
        "Run the service in the foreground (Ctrl-C stops it), or every job once with --once.",
    ),
    "stats": (
        "commsbot.cli.stats_cmds:stats",
        "Engagement of the posts sent: posts, favourites, boosts, replies, reactions (and "
        "quotes, where a platform counts them), per post.",
    ),
    "status": (
        "commsbot.cli.service_cmds:status",
        "Is the service running, what runs when, what is queued, what needs you.",
    ),
    "subscribers": (
        "commsbot.cli.subscriber_cmds:subscribers",
        "Partners who receive digests by e-mail or Telegram (Telegram users use /subscribe).",
    ),
    "templates": ("commsbot.cli.content_cmds:templates", "Check the post templates."),
    "users": (
        "commsbot.cli.web_cmds:users",
        "Console users: add, list, remove, change passwords.",
    ),
    "web": (
        "commsbot.cli.web_cmds:web",
        "Serve the web console alone, without the scheduler and the bot (Ctrl-C stops it).",
    ),
}


@click.group(
    cls=Group,
    lazy_subcommands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="commsbot")
@config_option
@click.option("-v", "--verbose", is_flag=True, help="Log every action.")
@click.option("-q", "--quiet", is_flag=True, help="Log only errors.")
@click.option("--log-json", is_flag=True, help="Log JSON lines (also: service.log_format).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool, log_json: bool) -> None:
    """commsbot: posts a cross-innovation network's practices, events and news to its channels."""
    import logging

    from commsbot.service import logs

    # Before anything is written: every line on stdout and stderr has secrets masked.
    logs.mask_streams()
    app = ctx.ensure_object(App)
    ctx.call_on_close(app.close)
    app.verbose, app.quiet, app.log_json = verbose, quiet, log_json
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logs.setup(level, json_lines=log_json)


def echo_table(
    rows: list[dict[str, Any]], columns: list[str] | None = None, *, floatfmt: str = "g"
) -> None:
    """Rows as an aligned table; an empty list says so. ``floatfmt`` formats decimals."""
    if not rows:
        click.echo("(none)")
        return
    from tabulate import tabulate  # type: ignore[import-untyped]

    cols = columns or list(rows[0])
    click.echo(tabulate([[r.get(c) for c in cols] for r in rows], headers=cols, floatfmt=floatfmt))


def progress_bar(total: int | Callable[[], int], label: str) -> Any:
    """A progress bar on a terminal; a silent stand-in otherwise. ``total`` may be a
    function that counts, called only for a terminal (counting has its own cost)."""
    if sys.stderr.isatty():
        length = total() if callable(total) else total
        if length > 200:
            return click.progressbar(length=length, label=label, file=sys.stderr)

    class _Silent:
        def __enter__(self) -> _Silent:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def update(self, n: int) -> None:
            return None

    return _Silent()
