"""Shared fixtures: a config and store in a temporary folder, and a CLI runner.

Area-specific fixtures live next to their tests (or in tests/<area>_support.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commsbot.cli import cli
from commsbot.config import Config, load_config
from commsbot.content import load_sample
from commsbot.store import Store

# Fixtures of the browser tests (the report opened in headless Chromium) and of the
# Bluesky tests (a local AT Protocol network).
pytest_plugins = ["tests.browser_support", "tests.bluesky_support"]

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


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "commsbot.toml"
    path.write_text(BASE_CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store(config.store.path) as s:
        yield s


@pytest.fixture
def sample_store(store: Store) -> Store:
    load_sample(store, NOW)
    return store


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(config_path: Path) -> Invoke:
    """Run a commsbot command with the test config; returns click's Result."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, ["--config", str(config_path), *args], input=input)

    return run
