"""Every command has help text and answers --help (the CLI reference cannot go stale)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

import commsbot.cli
from commsbot.cli import cli, content_cmds
from commsbot.cli.base import FILE_PATH, LazyGroup
from tests.support.base import Invoke


def walk(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, (*prefix, name)
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found.extend(walk(command, (*prefix, name)))
    return found


def test_every_command_has_help_and_answers_help() -> None:
    commands = walk(cli)
    assert len(commands) >= 30
    runner = CliRunner()
    for path, command in commands:
        assert (command.help or "").strip(), f"commsbot {' '.join(path)} has no help text"
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: cli " + " ".join(path) in result.output or "Usage:" in result.output


def test_every_leaf_command_takes_config() -> None:
    for path, command in walk(cli):
        if not isinstance(command, click.Group):
            names = {o for p in command.params for o in getattr(p, "opts", [])}
            assert "--config" in names, f"commsbot {' '.join(path)} lacks --config"


# What `commsbot --help` must not import: the libraries the commands use, and commsbot's
# own packages below the CLI (each brings some of them).
HEAVY = (
    "apscheduler",
    "argon2",
    "asyncio",
    "atproto",
    "babel",
    "feedparser",
    "httpx",
    "jinja2",
    "mastodon",
    "PIL",
    "regex",
    "requests",
    "sqlite_utils",
    "starlette",
    "tabulate",
    "telegram",
    "uvicorn",
)
# The only commsbot modules --help needs.
HELP_MODULES = ["commsbot", "commsbot.cli", "commsbot.cli.base"]
# Standard modules cli.base imports where a command uses them, each a few ms of --help's
# start-up (pathlib brings urllib.parse and ipaddress; pkgutil brings importlib.util).
# uuid is not here: click.types imports it, and --help cannot do without click.types.
DEFERRED = ("logging", "pathlib", "pkgutil", "sqlite3")


def run_and_list_modules(code: str) -> tuple[str, list[str]]:
    """What a fresh interpreter printed running ``code``, and the modules it had loaded."""
    code += "\nprint('MODULES', ' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code], capture_output=True, text=True, check=True
    )
    printed, _, names = out.stdout.partition("MODULES ")
    return printed, names.split()


def test_help_does_not_import_heavy_libraries() -> None:
    printed, modules = run_and_list_modules(
        "from commsbot.cli import main; sys.argv=['commsbot','--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert "Commands:" in printed and "practices" in printed, printed
    tops = {m.split(".")[0] for m in modules}
    assert sorted(tops.intersection(HEAVY)) == []
    assert [m for m in modules if m.split(".")[0] == "commsbot"] == HELP_MODULES
    # Against a bare interpreter, which may load some of them itself (a site hook).
    _, bare = run_and_list_modules("pass")
    assert "sys" in bare
    assert sorted(set(modules).intersection(DEFERRED).difference(bare)) == []


def test_a_file_path_argument_is_a_pathlib_path_though_base_imports_no_pathlib() -> None:
    for given in ("backup.db", Path("backup.db")):
        converted = FILE_PATH.convert(given, None, None)
        assert type(converted) is type(Path()) and converted == Path("backup.db"), converted


def lazy_groups() -> list[tuple[tuple[str, ...], LazyGroup]]:
    groups = [((), cli)] + [(p, c) for p, c in walk(cli) if isinstance(c, LazyGroup)]
    assert len(groups) >= 3  # commsbot, queue, stats
    return groups


def test_the_command_table_holds_each_commands_own_short_help() -> None:
    for prefix, group in lazy_groups():
        for name, (import_path, short) in group.lazy_subcommands.items():
            command = pkgutil.resolve_name(import_path)
            assert isinstance(command, click.Command) and command.name == name, import_path
            stand_in = click.Command(name, help=short)
            # click shortens the short help to the terminal's width: the same at every width.
            for limit in range(10, 200):
                assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (
                    f"commsbot {' '.join((*prefix, name))}: the table's short help is not the "
                    f"command's ({command.get_short_help_str(10**6)!r})"
                )


def test_help_lists_the_commands_as_click_would_with_them_all_loaded() -> None:
    for prefix, group in lazy_groups():
        ctx = click.Context(group, info_name="commsbot")
        loaded = click.Group(group.name, commands={p[0]: c for p, c in walk(group) if len(p) == 1})
        for width in (40, 80, 120):
            lazy_listing, click_listing = (
                click.HelpFormatter(width=width),
                click.HelpFormatter(width=width),
            )
            group.format_commands(ctx, lazy_listing)
            loaded.format_commands(ctx, click_listing)
            assert lazy_listing.getvalue() == click_listing.getvalue(), prefix


def test_every_command_a_cli_module_defines_is_reachable() -> None:
    reachable = {id(command) for _, command in walk(cli)}
    for module_info in pkgutil.iter_modules(commsbot.cli.__path__, "commsbot.cli."):
        module = importlib.import_module(module_info.name)
        for attr, value in vars(module).items():
            if isinstance(value, click.Command) and value is not cli:
                assert id(value) in reachable, f"{module_info.name}:{attr} is in no group"
    for group in content_cmds.CONTENT_GROUPS.values():
        assert id(group) in reachable, group.name


def test_every_command_is_in_the_readme_command_reference() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Command reference", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `commsbot ([a-z -]+)` \|", section, flags=re.M))
    commands = {" ".join(path) for path, _ in walk(cli)}
    assert sorted(commands - listed) == [], "commands missing from the README's reference"
    assert sorted(listed - commands) == [], "README lists commands that do not exist"


def test_format_json_and_the_json_flag_are_the_same(invoke: Invoke) -> None:
    by_flag = invoke("status", "--json")
    by_format = invoke("status", "--format", "json")
    assert by_flag.exit_code == 0 and by_format.exit_code == 0, by_flag.output + by_format.output
    assert json.loads(by_flag.output).keys() == json.loads(by_format.output).keys()
    assert not invoke("status").output.lstrip().startswith("{")


def test_several_channels_are_named_by_repeating_channel_or_with_commas(invoke: Invoke) -> None:
    for args in (("--channel", "outbox", "--channel", "outbox"), ("--channel", "outbox,outbox")):
        result = invoke("queue", "add", "Hello", *args)
        assert result.exit_code == 0, result.output
    bogus = invoke("queue", "add", "Hello", "--channel", "outbox,nowhere")
    assert bogus.exit_code != 0 and "nowhere" in bogus.output


def test_a_mistyped_command_gets_a_suggestion_from_the_lazy_commands_too() -> None:
    runner = CliRunner()
    for args, suggestion in ((["queu"], "'queue'"), (["queue", "slot"], "'slots'")):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert f"Did you mean {suggestion}?" in result.output, result.output
