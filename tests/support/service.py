"""Helpers for the service's tests: configs with slots and policies, and schedule folders."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from commsbot.config import Config, load_config


def write_config(folder: Path, extra: str = "", outbox: str = "", service: str = "") -> Path:
    """A config in ``folder``: a store, the outbox channel (plus ``outbox`` keys), and
    ``extra`` sections."""
    path = folder / "commsbot.toml"
    path.write_text(
        f"""
[store]
path = "commsbot.db"

[service]
timezone = "Europe/Brussels"
{service}

[channels.outbox]
enabled = true
path = "outbox"
{outbox}

{extra}
""",
        encoding="utf-8",
    )
    return path


def make_config(folder: Path, extra: str = "", outbox: str = "", service: str = "") -> Config:
    return load_config(write_config(folder, extra, outbox, service))


def write_schedules(folder: Path, text: str, name: str = "test.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


async def until(check: Callable[[], object], seconds: float = 30) -> None:
    """Wait (bounded) for a condition a running service makes true."""
    for _ in range(int(seconds * 20)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
