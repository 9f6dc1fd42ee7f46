"""Every command has help text and answers --help (the CLI reference cannot go stale)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from commsbot.cli import cli
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


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from commsbot.cli import main; sys.argv=['commsbot','--help'];\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('jinja2', 'telegram', 'mastodon', 'feedparser', 'apscheduler',"
        " 'requests', 'asyncio') if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


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
