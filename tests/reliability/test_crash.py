"""The service killed with SIGKILL at random moments, mid-send, and started again.

``commsbot run`` posts generated practices to ``mastodon_mock`` through a proxy that
slows every request, so that most kills land while a status is on its way; each time the
process is killed it is started again. At the end every item is on Mastodon exactly
once (read back from the server), nothing is missing from the store, and the store
passes ``PRAGMA integrity_check``. The Telegram half of the run is the separate
``check_telegram`` below, for when the Telegram channel exists.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mastodon_support import MockMastodon
from reliability_support import (
    FORM,
    TOKEN_ENV,
    FaultProxy,
    ServiceProcess,
    count_by_status,
    published_items,
    report,
    rows,
    wait_for,
    write_config,
    write_items,
)

from commsbot.cli import cli
from commsbot.store import Store

STATUSES = r"^POST /api/v1/statuses$"


@pytest.fixture
def mastodon(tmp_path: Path) -> Iterator[MockMastodon]:
    mock = MockMastodon(tmp_path).start()
    yield mock
    mock.stop()


@pytest.fixture
def slow_proxy(mastodon: MockMastodon) -> Iterator[FaultProxy]:
    # 20-120 ms before a request reaches the server and again before its answer comes
    # back: a status takes about a quarter of a second, so kills land mid-request.
    proxy = FaultProxy(mastodon.port, delay=(0.02, 0.12)).start()
    yield proxy
    proxy.stop()


@pytest.mark.timeout(FORM.deadline + 60)
def test_killed_at_random_moments_every_item_is_posted_exactly_once(
    tmp_path: Path, mastodon: MockMastodon, slow_proxy: FaultProxy
) -> None:
    _, token = mastodon.new_account()
    config = write_config(tmp_path, slow_proxy.base_url, "request_timeout = 10")
    imported = CliRunner().invoke(
        cli, ["--config", str(config), "content", "import", str(write_items(tmp_path, FORM.items))]
    )
    assert imported.exit_code == 0, imported.output
    db = tmp_path / "commsbot.db"
    rng = random.Random(FORM.seed)
    env = {TOKEN_ENV: token}
    lives: list[ServiceProcess] = []
    figures: dict[str, Any] = {"items": FORM.items}
    mid_request = left_sending = early = 0
    try:
        for kill in range(FORM.kills):
            posted_before = slow_proxy.requests_to("POST", STATUSES)
            life = ServiceProcess(config, tmp_path / f"life{kill:02d}.log", env)
            lives.append(life)
            if rng.random() < 0.2:
                # Killed while starting: opening the store, recovering, connecting.
                early += 1
                time.sleep(rng.uniform(0.1, 1.0))
            else:
                wait_for(
                    lambda life=life, before=posted_before: (
                        slow_proxy.requests_to("POST", STATUSES) > before or not life.alive()
                    ),
                    f"a status posted by life {kill}",
                    FORM.deadline,
                )
                time.sleep(rng.uniform(0.0, 0.6))
            assert life.alive(), life.text()
            mid_request += slow_proxy.in_flight() > 0
            life.kill()
            left_sending += count_by_status(db, "mastodon").get("sending", 0)
        last = ServiceProcess(config, tmp_path / "last.log", env)
        lives.append(last)
        wait_for(
            lambda: count_by_status(db, "mastodon") == {"sent": FORM.items} or not last.alive(),
            "every post sent",
            FORM.deadline,
            poll=0.2,
        )
        assert last.alive(), last.text()
        assert last.terminate() == 0
    finally:
        for life in lives:
            life.kill()

    for life in lives:
        assert "Traceback" not in life.text(), life.text()
    assert count_by_status(db, "mastodon") == {"sent": FORM.items}
    published = published_items(mastodon, token)
    duplicates = sum(n - 1 for n in published.values() if n > 1)
    lost = FORM.items - len(published)
    assert (duplicates, lost) == (0, 0), published
    assert published == {i: 1 for i in range(FORM.items)}
    # Nothing missing from the store: each item once, its post pointing at its status.
    stored = rows(
        db,
        "SELECT p.slug, count(o.id) AS posts, count(o.remote_id) AS remote FROM practices p "
        "LEFT JOIN posts o ON o.item_type = 'practice' AND o.item_id = p.id GROUP BY p.id",
    )
    assert len(stored) == FORM.items
    assert all((r["posts"], r["remote"]) == (1, 1) for r in stored), stored
    with Store(db, migrate=False) as store:
        assert store.integrity() == "ok"
    figures |= {
        "kills survived": FORM.kills,
        "kills while starting": early,
        "kills with a request in flight": mid_request,
        "posts left 'sending' by kills": left_sending,
        "status requests": slow_proxy.requests_to("POST", STATUSES),
        "duplicates": duplicates,
        "lost": lost,
        "integrity_check": "ok",
    }
    report("crash test: SIGKILL at random moments, Mastodon", figures)
