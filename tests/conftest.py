"""Shared fixtures: a config and store in a temporary folder, and a CLI runner.

Area-specific fixtures live next to their tests (or in tests/support/<area>.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from commsbot.cli import cli
from commsbot.config import Config, load_config
from commsbot.content.items import load_sample
from commsbot.store import Store
from tests.support.base import BASE_CONFIG, NOW, Invoke

# Fixtures of the browser tests (the report opened in headless Chromium), the guard
# that keeps every test on loopback, and the web console on a loopback port.
pytest_plugins = ["tests.support.browser", "tests.support.network", "tests.support.web"]

# CI runs each property test on the same examples every time (a failure there is
# reproducible, not a coin toss); a local run still explores new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


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


@pytest.fixture
def invoke(config_path: Path) -> Invoke:
    """Run a commsbot command with the test config; returns click's Result."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, ["--config", str(config_path), *args], input=input)

    return run
