"""``run --once``'s garbage collection (#15): off while it starts, the start-up frozen
and young collections rarer while the jobs run, the process's own settings after."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import pytest

from commsbot.cli.run_cmds import RunCollections
from commsbot.store import Store
from tests.support.base import Invoke


@pytest.fixture
def own_settings() -> Iterator[tuple[bool, tuple[int, int, int]]]:
    """The test process's collector, as a command run in it must leave it."""
    gc.unfreeze()
    gc.enable()
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.isenabled(), gc.get_threshold()
    gc.set_threshold(*before)


def test_the_collector_is_off_during_start_up_then_sweeps_only_what_the_run_makes(
    own_settings: tuple[bool, tuple[int, int, int]],
) -> None:
    with RunCollections() as collections:
        assert not gc.isenabled()
        collections.started()
        assert gc.isenabled()
        assert gc.get_threshold() == RunCollections.THRESHOLD
        # What start-up made is out of every sweep of the run.
        assert gc.get_freeze_count() > 0
    assert (gc.isenabled(), gc.get_threshold()) == own_settings
    assert gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled(
    own_settings: tuple[bool, tuple[int, int, int]],
) -> None:
    gc.disable()
    try:
        with RunCollections() as collections:
            collections.started()
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_run_once_leaves_the_processs_collector_as_it_was(
    sample_store: Store,
    invoke: Invoke,
    own_settings: tuple[bool, tuple[int, int, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    during: list[tuple[bool, tuple[int, int, int], int]] = []
    started = RunCollections.started

    def noted(self: RunCollections) -> None:
        started(self)
        during.append((gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()))

    monkeypatch.setattr(RunCollections, "started", noted)
    result = invoke("run", "--once", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["channels"][0]["posted"] == 58
    # The jobs ran with the run's settings, once start-up was over.
    assert len(during) == 1
    enabled, threshold, frozen = during[0]
    assert enabled and threshold == RunCollections.THRESHOLD and frozen > 0
    assert (gc.isenabled(), gc.get_threshold()) == own_settings
    assert gc.get_freeze_count() == 0
