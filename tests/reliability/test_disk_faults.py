"""Real commsbot processes on a real read-only and a real full file system (#13).

Each scenario runs in a private mount namespace (``unshare``): a small tmpfs holds a copy
of a sample store, is filled up or remounted read-only, and every command must end with
one clear ``Error:`` line, no traceback, and every table of the store as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from tests.support.base import missing_part
from tests.support.reliability import report

CONFIG = '[store]\npath = "commsbot.db"\n\n[channels.outbox]\nenabled = true\npath = "outbox"\n'
# Runs inside the namespace: mount, copy, break the file system, run the commands, then
# (with room again) take every table's fingerprint.
DRIVER = r"""
import hashlib, json, os, shutil, sqlite3, subprocess, sys
work, source, mode, commands = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", work], check=True)
for name in os.listdir(source):
    shutil.copy(os.path.join(source, name), work)
filler = os.path.join(work, "filler")
if mode == "read-only":
    subprocess.run(["mount", "-o", "remount,ro", work], check=True)
else:
    room = os.statvfs(work)
    keep = {"full": 0, "nearly full": 1536 * 1024}[mode]
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(room.f_bavail * room.f_frsize - keep, 0))
        except OSError:
            pass  # full: as wanted
results = []
for args in commands:
    done = subprocess.run(
        [sys.executable, "-m", "commsbot", "--config", os.path.join(work, "c.toml"), *args],
        capture_output=True, text=True, timeout=120,
    )
    results.append([done.returncode, done.stdout + done.stderr])
if os.path.exists(filler):
    os.remove(filler)
uri = "file:" + os.path.join(work, "commsbot.db") + ("?immutable=1" if mode == "read-only" else "")
conn = sqlite3.connect(uri, uri=True)
tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
prints = {}
for table in tables:
    if not table.startswith("sqlite_"):
        rows = sorted(repr(r) for r in conn.execute(f"SELECT * FROM {table}"))
        prints[table] = [len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()]
print(json.dumps({"results": results, "fingerprint": prints}))
"""


def namespace_or_skip() -> list[str]:
    """How to enter a private mount namespace; without one, skip (fail when CI=true)."""
    for command in (["unshare", "-rm"], ["unshare", "-m"]):
        if shutil.which("unshare") and subprocess.run([*command, "true"]).returncode == 0:
            return command
    reason = "no private mount namespace (unshare -rm, from util-linux) for a real full disk"
    missing_part(reason)


def fingerprint(db: Path) -> dict[str, list[Any]]:
    import hashlib
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        found = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if not table.startswith("sqlite_"):
                rows = sorted(repr(r) for r in conn.execute(f"SELECT * FROM {table}"))
                found[table] = [len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()]
        return found
    finally:
        conn.close()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample store (checkpointed: one file) and its config, copied into each scenario."""
    folder = tmp_path_factory.mktemp("source")
    (folder / "c.toml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(folder / "c.toml"), "init", "--sample"])
    assert result.exit_code == 0, result.output
    import sqlite3

    conn = sqlite3.connect(folder / "commsbot.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    for leftover in folder.glob("commsbot.db-*"):
        leftover.unlink()
    return folder


def big_import(folder: Path) -> Path:
    path = folder / "big.json"
    rows = [
        {
            "title": f"Imported practice {i}",
            "city": "plzen",
            "theme": "brokerage",
            "summary": "A summary long enough to take room. " * 30,
            "url": f"https://example.org/imported/{i}",
        }
        for i in range(2500)
    ]
    path.write_text(json.dumps({"practices": rows}), encoding="utf-8")
    return path


def run_scenario(
    source: Path, tmp_path: Path, mode: str, commands: list[list[str]]
) -> dict[str, Any]:
    namespace = namespace_or_skip()
    work = tmp_path / "mnt"
    work.mkdir()
    done = subprocess.run(
        [
            *namespace,
            sys.executable,
            "-c",
            DRIVER,
            str(work),
            str(source),
            mode,
            json.dumps(commands),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


CASES = {
    "read-only": [
        (["run", "--once"], "cannot write the lock file", "the file system is read-only"),
        (["status"], "the file system holding the store is read-only", ""),
        (["queue", "add", "Hello", "--channel", "outbox"], "read-only", ""),
    ],
    "full": [
        (["run", "--once"], "the disk is full", ""),
        (
            ["queue", "add", "Hello", "--channel", "outbox"],
            "the disk holding the store is full",
            "",
        ),
    ],
    "nearly full": [
        (
            ["content", "import", "{big}"],
            "the disk holding the store is full",
            "nothing was imported",
        ),
    ],
}


@pytest.mark.parametrize("mode", list(CASES))
def test_a_broken_file_system_is_one_clear_error_and_loses_nothing(
    source: Path, tmp_path: Path, mode: str, tally: Counter[str]
) -> None:
    big = big_import(tmp_path)
    commands = [[a.replace("{big}", str(big)) for a in args] for args, _, _ in CASES[mode]]

    found = run_scenario(source, tmp_path, mode, commands)

    for (args, *wanted), (code, output) in zip(CASES[mode], found["results"], strict=True):
        tally[f"inputs tried ({mode})"] += 1
        tally["tracebacks"] += "Traceback" in output
        lines = output.strip().splitlines()
        assert code == 1, (args, output)
        assert "Traceback" not in output, (args, output)
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, output)
        assert all(w in lines[0] for w in wanted), (args, output)
        assert "rollback" not in output
    assert found["fingerprint"] == fingerprint(source / "commsbot.db")


@pytest.fixture(scope="module")
def tally() -> Any:
    counted: Counter[str] = Counter(tracebacks=0)
    yield counted
    report("disk faults", dict(counted))
