"""The service against servers that fail 30 % of the time, and it never stops.

A fault-injecting proxy in front of ``mastodon_mock`` answers a seeded 30 % of requests
with 500, 502 (after the server made the status), 429 with a retry time, an answer held
past the client's timeout (after the server made the status), or a dropped connection
(before or after the server did the work). The service runs until every item is posted,
bounded by a deadline: every item is on Mastodon exactly once, every post is recorded
sent, no job crashed, and the process is still running when the test stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from mastodon_support import MockMastodon
from reliability_support import (
    FAULTS,
    FORM,
    PROCESSED,
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

# The client gives up after a second; a "slow" answer comes after two.
TIMEOUT = 1.0
# More attempts than the default five: at 30 % faults, 0.3^5 of posts (one in 400)
# would otherwise end "failed" and wait for `queue retry`. Backoff 1 s doubling to 4 s.
POSTING = "max_attempts = 20\nretry_backoff_seconds = 1\nretry_backoff_max_seconds = 4"


@pytest.fixture
def mastodon(tmp_path: Path) -> Iterator[MockMastodon]:
    mock = MockMastodon(tmp_path).start()
    yield mock
    mock.stop()


@pytest.fixture
def faulty(mastodon: MockMastodon) -> Iterator[FaultProxy]:
    proxy = FaultProxy(
        mastodon.port,
        share=FORM.fault_share,
        seed=FORM.seed,
        delay=(0.0, 0.02),
        slow_seconds=TIMEOUT + 1,
        retry_after=2,
    ).start()
    yield proxy
    proxy.stop()


@pytest.mark.timeout(FORM.deadline + 60)
def test_every_post_is_delivered_exactly_once_through_faults(
    tmp_path: Path, mastodon: MockMastodon, faulty: FaultProxy
) -> None:
    _, token = mastodon.new_account()
    config = write_config(tmp_path, faulty.base_url, f"request_timeout = {TIMEOUT}", POSTING)
    imported = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "content",
            "import",
            str(write_items(tmp_path, FORM.fault_items)),
        ],
    )
    assert imported.exit_code == 0, imported.output
    db = tmp_path / "commsbot.db"
    service = ServiceProcess(config, tmp_path / "service.log", {TOKEN_ENV: token})
    try:
        wait_for(
            lambda: (
                count_by_status(db, "mastodon") == {"sent": FORM.fault_items} or not service.alive()
            ),
            "every post sent",
            FORM.deadline,
            poll=0.2,
        )
        assert service.alive(), service.text()
        assert service.terminate() == 0
    finally:
        service.kill()
    log = service.text()
    assert "Traceback" not in log and "crashed" not in log, log

    published = published_items(mastodon, token)
    duplicates = sum(n - 1 for n in published.values() if n > 1)
    lost = FORM.fault_items - len(published)
    assert (duplicates, lost) == (0, 0), published
    assert published == {i: 1 for i in range(FORM.fault_items)}
    assert count_by_status(db, "mastodon") == {"sent": FORM.fault_items}
    runs = rows(db, "SELECT count(*) AS n, count(error) AS errors FROM job_runs")
    assert runs[0]["errors"] == 0
    with Store(db, migrate=False) as store:
        assert store.integrity() == "ok"
    faults = faulty.counts.faults
    assert set(faults) == set(FAULTS), faults  # every kind was injected
    requests = sum(faulty.counts.requests.values())
    report(
        "fault injection: Mastodon behind a proxy failing 30 % of requests",
        {
            "items": FORM.fault_items,
            "requests": requests,
            "faults injected": f"{sum(faults.values())} ({sum(faults.values()) / requests:.0%})",
            **{f"  {kind}": faults[kind] for kind in FAULTS},
            "faults after the server made the status": sum(faults[k] for k in PROCESSED),
            "publish runs": runs[0]["n"],
            "duplicates": duplicates,
            "lost": lost,
            "service stopped by a fault": "never",
        },
    )
