"""The README's tour, run as a new comms officer would run it (the service itself aside)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commsbot.cli import cli
from commsbot.store import Store

README = Path(__file__).resolve().parents[1] / "README.md"
# Not run here: `run` starts the service (tested in test_service_process.py); the test
# stands in for it with `run --once`, on the store `make run` leaves.
NOT_HERE = ("commsbot run\n",)


def tour_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    tour = text.split("## A tour for the comms officer", 1)[1].split("```sh", 1)[1].split("```")[0]
    joined = re.sub(r"\\\n\s*", " ", tour)
    commands = []
    for line in joined.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line.startswith("commsbot ") or any((line + "\n").startswith(s) for s in NOT_HERE):
            continue
        commands.append(shlex.split(line)[1:])
    return commands


def test_every_tour_command_works_on_the_store_make_run_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    root = README.parent
    for name in ("templates", "schedules"):
        shutil.copytree(root / name, tmp_path / name)
    shutil.copy(root / "config.example.toml", tmp_path / "config.example.toml")
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--config", "config.example.toml", *args])

    # What `make run` does, with the service's first round as `run --once`.
    assert invoke("init", "--sample").exit_code == 0
    assert invoke("run", "--once").exit_code == 0
    commands = tour_commands()
    assert len(commands) >= 12
    assert ["queue", "approve", "45", "46"] in commands
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output
    with Store(tmp_path / "commsbot.db") as store:
        approved = store.rows("SELECT status FROM posts WHERE id IN (45, 46)")
    assert [r["status"] for r in approved] == ["sent", "sent"]  # the tour's run --once
