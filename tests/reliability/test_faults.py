"""The service against servers that fail 30 % of the time, and it never stops.

A fault-injecting proxy in front of ``mastodon_mock`` answers a seeded 30 % of requests
with 500, 502 (before or after the server made the status), 429 with a retry time, an
answer held past the client's timeout (after the server made the status), or a dropped
connection (before or after the server did the work). Another, in front of FakeTelegram,
does the same to 30 % of ``sendMessage`` calls. The service runs until every post has an
outcome, bounded by a deadline: every item is on Mastodon exactly once; on Telegram each
post whose answer was lost is ``unknown`` (never sent twice), every other is sent; no job
crashed, and the process is still running when the test stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.store import Store
from tests.support.mastodon import MockMastodon
from tests.support.reliability import (
    FAULTS,
    FORM,
    PROCESSED,
    TELEGRAM_TOKEN_ENV,
    TOKEN_ENV,
    UNANSWERED,
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

# Clients give up after a second; a "slow" answer comes after two.
TIMEOUT = 1.0
# More attempts than the default five: at 30 % faults, 0.3^5 of posts (one in 400)
# would otherwise end "failed" and wait for `queue retry`. Backoff 1 s doubling to 4 s.
POSTING = "max_attempts = 20\nretry_backoff_seconds = 1\nretry_backoff_max_seconds = 4"
# Telegram answers a 5xx only when it did not publish (the channel retries those): a 502
# after the work is done is a Mastodon fault only (see the README, "Reliability").
TELEGRAM_FAULTS = tuple(f for f in FAULTS if f != "502-after")


@pytest.fixture
def faulty_mastodon(mastodon: MockMastodon) -> Iterator[FaultProxy]:
    proxy = FaultProxy(
        mastodon.port,
        share=FORM.fault_share,
        seed=FORM.seed,
        delay=(0.0, 0.02),
        slow_seconds=TIMEOUT + 1,
    ).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty_telegram(telegram: FakeTelegram) -> Iterator[FaultProxy]:
    proxy = FaultProxy(
        telegram.port,
        share=FORM.fault_share,
        seed=FORM.seed + 1,
        faults=TELEGRAM_FAULTS,
        delay=(0.0, 0.02),
        slow_seconds=TIMEOUT + 1,
        dialect="telegram",
        faulty=lambda method, path: path.endswith("/sendMessage"),
    ).start()
    yield proxy
    proxy.stop()


@pytest.mark.timeout(FORM.deadline + 60)
def test_every_post_gets_its_outcome_through_faults_and_the_service_never_stops(
    tmp_path: Path,
    mastodon: MockMastodon,
    telegram: FakeTelegram,
    faulty_mastodon: FaultProxy,
    faulty_telegram: FaultProxy,
) -> None:
    _, token = mastodon.new_account()
    config = write_config(
        tmp_path,
        faulty_mastodon.base_url,
        mastodon=f"request_timeout = {TIMEOUT}",
        posting=POSTING,
        telegram_url=faulty_telegram.base_url,
        telegram=f"read_timeout = {TIMEOUT}",
    )
    items = FORM.fault_items
    import_file = write_items(tmp_path, items)
    imported = CliRunner().invoke(
        cli, ["--config", str(config), "content", "import", str(import_file)]
    )
    assert imported.exit_code == 0, imported.output
    db = tmp_path / "commsbot.db"
    env = {TOKEN_ENV: token, TELEGRAM_TOKEN_ENV: telegram.token}
    service = ServiceProcess(config, tmp_path / "service.log", env)
    try:
        wait_for(
            lambda: (
                (
                    count_by_status(db, "mastodon") == {"sent": items}
                    and sum(count_by_status(db, "telegram").get(s, 0) for s in ("sent", "unknown"))
                    == items
                )
                or not service.alive()
            ),
            "an outcome for every post",
            FORM.deadline,
            poll=0.2,
        )
        assert service.alive(), service.text()
        assert service.terminate() == 0
    finally:
        service.kill()
    log = service.text()
    assert "Traceback" not in log and "crashed" not in log, log

    # Mastodon: exactly once, read back from the server.
    published = published_items(mastodon, token)
    duplicates = sum(n - 1 for n in published.values() if n > 1)
    lost = items - len(published)
    assert (duplicates, lost) == (0, 0), published
    assert published == {i: 1 for i in range(items)}
    assert count_by_status(db, "mastodon") == {"sent": items}
    # Telegram: a send that got no answer is unknown; one that got an error is retried.
    tg = telegram_outcome(db, telegram, items)
    tg_faults = faulty_telegram.counts.faults
    assert tg["unknown"] == sum(tg_faults[f] for f in UNANSWERED)
    assert tg["unknown, in the channel"] == tg_faults["slow"] + tg_faults["drop-after"]
    assert tg["unknown, not in the channel (the gaps)"] == tg_faults["drop"]
    unknown = CliRunner().invoke(
        cli,
        ["--config", str(config), "queue", "list", "--status", "unknown", "--format", "json"],
    )
    assert unknown.exit_code == 0, unknown.output
    assert unknown.output.count('"status": "unknown"') == tg["unknown"]
    runs = rows(db, "SELECT count(*) AS n, count(error) AS errors FROM job_runs")[0]
    assert runs["errors"] == 0
    with Store(db, migrate=False) as store:
        assert store.integrity() == "ok"
    faults = faulty_mastodon.counts.faults
    assert set(faults) == set(FAULTS), faults  # every kind was injected
    requests = sum(faulty_mastodon.counts.requests.values())
    tg_calls = faulty_telegram.counts.requests
    sends = sum(n for key, n in tg_calls.items() if key.endswith("/sendMessage"))
    report(
        "fault injection: 30 % of requests fail",
        {
            "items": items,
            "Mastodon: requests": requests,
            "Mastodon: faults injected": f"{faults.total()} ({faults.total() / requests:.0%})",
            "  by kind (Mastodon)": ", ".join(f"{kind} {faults[kind]}" for kind in FAULTS),
            "  after the server made the status": sum(faults[k] for k in PROCESSED),
            "Mastodon: statuses (duplicates, lost)": f"{len(published)} ({duplicates}, {lost})",
            "Telegram: sendMessage calls": sends,
            "Telegram: faults injected": f"{tg_faults.total()} ({tg_faults.total() / sends:.0%})",
            "  by kind (Telegram)": ", ".join(
                f"{kind} {tg_faults[kind]}" for kind in TELEGRAM_FAULTS
            ),
            **{f"Telegram: {k}": v for k, v in tg.items()},
            "publish runs": runs["n"],
            "service stopped by a fault": "never",
        },
    )
