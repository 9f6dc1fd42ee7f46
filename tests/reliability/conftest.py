"""Fixtures of the reliability tests: the two servers the service posts to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mastodon_support import MockMastodon

from tests.fakes.telegram_api import FakeTelegram


@pytest.fixture
def mastodon(tmp_path: Path) -> Iterator[MockMastodon]:
    mock = MockMastodon(tmp_path).start()
    yield mock
    mock.stop()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        yield fake
