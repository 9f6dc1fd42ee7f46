"""The README's tour, run as a new comms officer would run it (the service itself aside)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from commsbot.store import Store
from tests.support.base import Invoke

README = Path(__file__).resolve().parents[1] / "README.md"
# Not run here: `run` starts the service (tested in test_service_process.py), and
# `queue approve 12 13` names posts that wait for approval only under an approval policy.
NOT_HERE = ("commsbot run\n", "commsbot queue approve")


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


def test_every_tour_command_works(
    invoke: Invoke, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    commands = tour_commands()
    assert len(commands) >= 12
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output
