"""The service killed with SIGKILL at random moments, mid-send, and started again.

``commsbot run`` posts generated practices to ``mastodon_mock`` and to FakeTelegram, each
through a proxy that slows every request so that most kills land while a post is on its
way; each time the process is killed it is started again. At the end every item is on
Mastodon exactly once (read back from the server) and in the Telegram channel at most
once, every item missing from Telegram is listed ``unknown`` (in the store and in
``commsbot status``), nothing is missing from the store, and the store passes
``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.store import Store
from commsbot.store.service import LEFT_BY_CRASH
from tests.support.mastodon import MockMastodon
from tests.support.reliability import (
    FORM,
    TELEGRAM_TOKEN_ENV,
    TOKEN_ENV,
    FaultProxy,
    ServiceProcess,
    count_by_status,
    published_items,
    report,
    rows,
    telegram_outcome,
    wait_for,
    write_config,
    write_items,
)
from tests.support.telegram_api import FakeTelegram

STATUSES = r"^POST /api/v1/statuses$"
# 10-80 ms before a request reaches its server and again before the answer comes back:
# a post takes a tenth of a second or more, most of it in flight, so most kills land
# mid-request.
DELAY = (0.01, 0.08)


@pytest.fixture
def slow_mastodon(mastodon: MockMastodon) -> Iterator[FaultProxy]:
    proxy = FaultProxy(mastodon.port, delay=DELAY).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def slow_telegram(telegram: FakeTelegram) -> Iterator[FaultProxy]:
    proxy = FaultProxy(telegram.port, delay=DELAY, dialect="telegram").start()
    yield proxy
    proxy.stop()


def settled(db: Path, items: int) -> bool:
    """Every Mastodon post sent; every Telegram post sent or unknown."""
    telegram = count_by_status(db, "telegram")
    return count_by_status(db, "mastodon") == {"sent": items} and (
        sum(telegram.get(s, 0) for s in ("sent", "unknown")) == items
    )


@pytest.mark.timeout(FORM.deadline + 60)
def test_killed_at_random_moments_every_item_is_posted_once_or_listed_unknown(
    tmp_path: Path,
    mastodon: MockMastodon,
    telegram: FakeTelegram,
    slow_mastodon: FaultProxy,
    slow_telegram: FaultProxy,
) -> None:
    _, token = mastodon.new_account()
    config = write_config(
        tmp_path,
        slow_mastodon.base_url,
        mastodon="request_timeout = 10",
        telegram_url=slow_telegram.base_url,
    )
    items = write_items(tmp_path, FORM.items)
    imported = CliRunner().invoke(cli, ["--config", str(config), "content", "import", str(items)])
    assert imported.exit_code == 0, imported.output
    db = tmp_path / "commsbot.db"
    rng = random.Random(FORM.seed)
    env = {TOKEN_ENV: token, TELEGRAM_TOKEN_ENV: telegram.token}
    lives: list[ServiceProcess] = []
    mid_request = left_sending = early = 0
    try:
        for kill in range(FORM.kills):
            posted_before = slow_mastodon.requests_to("POST", STATUSES)
            life = ServiceProcess(config, tmp_path / f"life{kill:02d}.log", env)
            lives.append(life)
            if rng.random() < 0.2:
                # Killed while starting: opening the store, recovering, connecting.
                early += 1
                time.sleep(rng.uniform(0.1, 1.0))
            else:
                # Killed after a few statuses (counted, so that however fast the machine,
                # the kills cannot run out of items), at a random moment of the next one.
                target = posted_before + rng.randint(1, 4)
                wait_for(
                    lambda life=life, until=target: (  # type: ignore[misc]
                        slow_mastodon.requests_to("POST", STATUSES) >= until or not life.alive()
                    ),
                    f"statuses posted by life {kill}",
                    FORM.deadline,
                    poll=0.01,
                )
                time.sleep(rng.uniform(0.0, 0.1))
            assert life.alive(), life.text()
            mid_request += slow_mastodon.in_flight() + slow_telegram.in_flight() > 0
            life.kill()
            left_sending += sum(
                count_by_status(db, c).get("sending", 0) for c in ("mastodon", "telegram")
            )
        last = ServiceProcess(config, tmp_path / "last.log", env)
        lives.append(last)
        wait_for(
            lambda: settled(db, FORM.items) or not last.alive(),
            "every post sent or unknown",
            FORM.deadline,
            poll=0.2,
        )
        assert last.alive(), last.text()
        status = CliRunner().invoke(cli, ["--config", str(config), "status", "--json"])
        assert last.terminate() == 0
    finally:
        for life in lives:
            life.kill()

    for life in lives:
        assert "Traceback" not in life.text(), life.text()
    # Mastodon: exactly once, read back from the server.
    assert count_by_status(db, "mastodon") == {"sent": FORM.items}
    published = published_items(mastodon, token)
    duplicates = sum(n - 1 for n in published.values() if n > 1)
    lost = FORM.items - len(published)
    assert (duplicates, lost) == (0, 0), published
    assert published == {i: 1 for i in range(FORM.items)}
    # Telegram: at most once; a post cut off by a kill is unknown, never sent again.
    tg = telegram_outcome(db, telegram, FORM.items)
    assert tg["unknown"] <= FORM.kills
    unknown = rows(db, "SELECT id, last_error FROM posts WHERE status = 'unknown'")
    assert {r["last_error"] for r in unknown} <= {LEFT_BY_CRASH}
    # ...and commsbot status lists them for the officer.
    assert status.exit_code == 0, status.output
    listed = {p["id"] for p in json.loads(status.output)["attention"]}
    assert {r["id"] for r in unknown} <= listed
    # Nothing missing from the store: each item, one post per channel, each with its id.
    stored = rows(
        db,
        "SELECT p.slug, count(o.id) AS posts, count(o.remote_id) AS remote FROM practices p "
        "LEFT JOIN posts o ON o.item_type = 'practice' AND o.item_id = p.id GROUP BY p.id",
    )
    assert len(stored) == FORM.items
    assert all(r["posts"] == 2 for r in stored), stored
    assert sum(r["remote"] for r in stored) == 2 * FORM.items - tg["unknown"]
    with Store(db, migrate=False) as store:
        assert store.integrity() == "ok"
    figures: dict[str, Any] = {
        "items": FORM.items,
        "kills survived (SIGKILL)": FORM.kills,
        "  while starting": early,
        "  with a request in flight": mid_request,
        "posts left 'sending' by the kills": left_sending,
        "Mastodon: statuses (duplicates, lost)": f"{len(published)} ({duplicates}, {lost})",
        "Mastodon: status requests": slow_mastodon.requests_to("POST", STATUSES),
        **{f"Telegram: {k}": v for k, v in tg.items()},
        "integrity_check": "ok",
    }
    report("crash test: SIGKILL at random moments", figures)
