"""Fixtures of the reliability tests: the two servers the service posts to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mastodon import MockMastodon
from tests.support.reliability import FIGURES
from tests.support.telegram_api import FakeTelegram


@pytest.fixture(scope="session")
def mastodon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockMastodon]:
    """One server for the session (it takes seconds to start); each test posts as an
    account of its own (``new_account``), so timelines never mix."""
    mock = MockMastodon(tmp_path_factory.mktemp("mastodon")).start()
    yield mock
    mock.stop()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        yield fake


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures of the crash, fault and bad-input runs, after the tests."""
    for title, figures in FIGURES:
        terminalreporter.write_sep("-", title)
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            terminalreporter.write_line(f"  {key.ljust(width)}  {value}")
