"""What most tests share: a fixed "now", the smallest config, the CLI runner's type."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from click.testing import Result

from commsbot.store import posts as posts_q

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

BASE_CONFIG = """
[store]
path = "commsbot.db"

[service]
timezone = "Europe/Brussels"

[channels.outbox]
enabled = true
path = "outbox"
"""

Invoke = Callable[..., Result]


def channel_config(folder: Path, section: str, extra: str = "", *, outbox: bool = False) -> Path:
    """``folder/commsbot.toml`` posting practices through one channel section (the outbox
    too if asked), for the channels' end-to-end tests."""
    path = folder / "commsbot.toml"
    path.write_text(
        f"""
[store]
path = "commsbot.db"

[posting]
content_types = ["practice"]
# These tests post the store's content when the account is first enabled.
backlog = "post"

[channels.outbox]
enabled = {json.dumps(outbox)}
path = "outbox"

{section}
{extra}
""",
        encoding="utf-8",
    )
    return path


def missing_part(reason: str) -> NoReturn:
    """A system part a test needs is absent: skip with the reason, or fail when CI=true
    (.ci/run installs every part, so there its absence is a defect, not a skip)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def outcomes(*rows: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Delivery outcomes as ``posts.record_outcomes`` takes them, from dicts naming only
    the columns a test sets (the others NULL)."""
    return [tuple(row.get(key) for key in posts_q.OUTCOMES) for row in rows]
