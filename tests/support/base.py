"""What most tests share: a fixed "now", the smallest config, the CLI runner's type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from click.testing import Result

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
