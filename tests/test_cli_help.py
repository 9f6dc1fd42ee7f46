"""Every command has help text and answers --help (the CLI reference cannot go stale)."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from commsbot.cli import cli


def walk(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
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
