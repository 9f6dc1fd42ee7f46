"""The movement per Mastodon account (#16): two accounts of ours on one mastodon_mock (its
seeded users commsbot and partner; the others are fresh accounts), each reading the campaign hashtag and its own mentions
with cursors of its own; a status both read counts once in the network's figures, and a
refused token stops that account alone. Also: an old store's movement upgrades to the
account that read it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.clock import utcnow
from commsbot.config import Config, load_config
from commsbot.insights import tracking
from commsbot.posting import pipeline
from commsbot.service.jobs import JobContext
from commsbot.store import Store
from commsbot.store import movement as movement_q
from tests.support.mastodon import MOCK_CONFIG, MockMastodon, mastodon_account

Job = Callable[[JobContext], Awaitable[dict[str, Any]]]
NETWORK_ENV, TALLINN_ENV = "COMMSBOT_TEST_MV_NETWORK_TOKEN", "COMMSBOT_TEST_MV_TALLINN_TOKEN"
TAG = "CrossInnovation"


@pytest.fixture
def mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockMastodon]:
    server = MockMastodon(tmp_path, MOCK_CONFIG).start()
    try:
        monkeypatch.setenv(NETWORK_ENV, server.login("commsbot"))
        monkeypatch.setenv(TALLINN_ENV, server.login("partner"))
        yield server
    finally:
        server.stop()


def two_accounts(folder: Path, url: str, movement: str = "") -> Config:
    path = folder / "commsbot.toml"
    path.write_text(
        f"""
[store]
path = "commsbot.db"

[channels.outbox]
enabled = false

{mastodon_account("network-mastodon", url, NETWORK_ENV)}

{mastodon_account("tallinn-mastodon", url, TALLINN_ENV)}
cities = ["tallinn"]

[movement]
hashtags = ["{TAG}"]
mentions = true
{movement}
""",
        encoding="utf-8",
    )
    return load_config(path)


def run_jobs(config: Config, *jobs: Job) -> list[dict[str, Any]]:
    """Jobs as the service runs them: the channels opened, the jobs, the channels closed."""

    async def go() -> list[dict[str, Any]]:
        problems: list[str] = []
        channels = await pipeline.open_channels(config, problems)
        assert problems == []
        try:
            with Store(config.store.path) as store:
                return [await job(JobContext(store, config, utcnow, channels)) for job in jobs]
        finally:
            await pipeline.close_channels(channels)

    return asyncio.run(go())


def movement_json(config: Config, *args: str) -> Any:
    result = CliRunner().invoke(
        cli, ["--config", str(config.file), "stats", "movement", "--format", "json", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def without_week(total: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in total.items() if k not in ("week", "account") and "audience" not in k}


def test_each_account_reads_its_own_mentions_and_the_network_counts_a_status_once(
    mock: MockMastodon, tmp_path: Path
) -> None:
    alice, bob = (mock.client(mock.new_account()[1]) for _ in range(2))
    partner = mock.client(mock.login("partner"))
    alice.status_post(f"Joining the #{TAG} movement", language="pl")
    alice.status_post("@partner see you in Tallinn", language="et")
    bob.status_post("@commsbot thanks for the clinic", language="en")
    partner.status_post(f"Tallinn's practices, #{TAG}", language="et")
    alice.account_follow(partner.account_verify_credentials().id)
    config = two_accounts(tmp_path, mock.base_url)

    tracked, audience = run_jobs(config, tracking.track_movement, tracking.snapshot_audience)

    assert sorted(tracked) == ["network-mastodon", "tallinn-mastodon"]
    # Each reads the tag (2 statuses) and its own mentions (1), with its own allowance.
    for name in tracked:
        assert (tracked[name].account, tracked[name].new, tracked[name].requests) == (name, 3, 3)
    assert (audience["network-mastodon"], audience["tallinn-mastodon"]) == (0, 1)
    # status and the logs name the account; run --once prints the line after its name.
    line = "new 3, seen again 0, not public 0, refreshed 0, removed 0, requests 3"
    assert tracked["tallinn-mastodon"].describe() == f"tallinn-mastodon: {line}"
    assert str(tracked["tallinn-mastodon"]) == line
    with Store(config.store.path) as store:
        who = {alice.me().acct: "alice", bob.me().acct: "bob", "partner": "partner"}
        read = {
            (r["account"], who[r["acct"].split("@")[0]], r["mention"], r["own"])
            for r in store.rows("SELECT account, acct, mention, own FROM movement_statuses")
        }
        assert read == {
            ("network-mastodon", "alice", 0, 0),
            ("network-mastodon", "partner", 0, 0),
            ("network-mastodon", "bob", 1, 0),
            ("tallinn-mastodon", "alice", 0, 0),
            ("tallinn-mastodon", "partner", 0, 1),
            ("tallinn-mastodon", "alice", 1, 0),
        }
        for name in tracked:
            assert set(movement_q.cursors(store, name)) == {"tag:crossinnovation", "mentions"}

    network = movement_json(config)
    # alice's tagged status, read by both, counts once; partner is ours, never a voice.
    assert without_week(network["total"]) == {
        "tagged": 1,
        "accounts": 1,
        "mentions": 2,
        "replies": 0,
        "conversations": 0,
        "voices": 2,
        "new_voices": 2,
        "own": 1,
        "reach": 0,
    }
    voices = sorted(v["account"] for v in network["top_voices"])
    assert voices == sorted(f"{c.me().acct}@127.0.0.1" for c in (alice, bob))
    by_account = {a["account"]: a for a in network["by_account"]}
    assert list(by_account) == ["network-mastodon", "tallinn-mastodon"]
    assert (
        by_account["network-mastodon"]["mentions"],
        by_account["network-mastodon"]["voices"],
    ) == (
        1,
        2,
    )
    assert by_account["tallinn-mastodon"] | {"account": "-"} == {
        "account": "-",
        "tagged": 1,
        "accounts": 1,
        "mentions": 1,
        "replies": 0,
        "conversations": 0,
        "voices": 1,
        "new_voices": 1,
        "own": 1,
        "reach": 0,
        "audience_start": 1,
        "audience_end": 1,
        "audience_change": 0,
    }

    tallinn = movement_json(config, "--channel", "tallinn-mastodon")
    assert tallinn["account"] == "tallinn-mastodon" and tallinn["by_account"] == []
    assert without_week(tallinn["total"]) == without_week(by_account["tallinn-mastodon"])
    assert [s["channel"] for s in tallinn["audience"]["series"]] == ["tallinn-mastodon"]
    text = CliRunner().invoke(cli, ["--config", str(config.file), "stats", "movement"])
    assert "Per account" in text.output and "tallinn-mastodon" in text.output
    refused = CliRunner().invoke(
        cli, ["--config", str(config.file), "stats", "movement", "--channel", "outbox"]
    )
    assert refused.exit_code == 2
    assert (
        "no Mastodon or Bluesky account 'outbox' (known: network-mastodon, tallinn-mastodon)"
        in (refused.output)
    )
    report = tmp_path / "report.html"
    made = CliRunner().invoke(cli, ["--config", str(config.file), "report", "--html", str(report)])
    assert made.exit_code == 0, made.output
    html = report.read_text("utf-8")
    assert 'id="table-movement-accounts"' in html
    assert '<th scope="row">tallinn-mastodon</th>' in html

    # Each account's cursors hold: a second run finds nothing new for either.
    (again,) = run_jobs(config, tracking.track_movement)
    assert [(t.new, t.seen) for t in again.values()] == [(0, 0), (0, 0)]
    # A new mention reaches the account mentioned, and only that one.
    bob.status_post("@partner and Tallinn too")
    (third,) = run_jobs(config, tracking.track_movement)
    assert (third["network-mastodon"].new, third["tallinn-mastodon"].new) == (0, 1)


def test_a_refused_token_stops_that_account_alone(
    mock: MockMastodon, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.client(mock.new_account()[1]).status_post(f"#{TAG} from Vilnius")
    monkeypatch.setenv(TALLINN_ENV, "revoked-token")
    config = two_accounts(tmp_path, mock.base_url)

    (tracked,) = run_jobs(config, tracking.track_movement)

    assert tracked["network-mastodon"].new == 1
    refused = tracked["tallinn-mastodon"]
    assert isinstance(refused, str) and refused.startswith("not read: ")
    assert f"refused the token in {TALLINN_ENV}" in refused and "revoked-token" not in refused
    with Store(config.store.path) as store:
        assert store.scalar("SELECT count(*) FROM movement_statuses") == 1
        assert movement_q.cursors(store, "tallinn-mastodon") == {}


def test_movement_accounts_can_be_named(mock: MockMastodon, tmp_path: Path) -> None:
    config = two_accounts(tmp_path, mock.base_url, 'accounts = ["tallinn-mastodon"]')
    assert config.movement_accounts() == ["tallinn-mastodon"]
    (tracked,) = run_jobs(config, tracking.track_movement)
    assert list(tracked) == ["tallinn-mastodon"]


def test_an_old_store_gives_its_movement_to_the_account_that_read_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path, upto=14) as old:
        conn = old.conn
        conn.execute(
            "INSERT INTO accounts (name, kind, first_seen_at, last_seen_at) VALUES "
            "('network-mastodon', 'mastodon', 'x', 'x'), ('outbox', 'outbox', 'x', 'x')"
        )
        conn.execute(
            "INSERT INTO movement_statuses (remote_id, acct, account_url, created_at, "
            "first_seen_at, counts_at, mention) VALUES ('7', 'alice@x.social', "
            "'https://x.social/@alice', '2026-11-10T10:00:00Z', 'x', 'x', 1)"
        )
        conn.execute("INSERT INTO movement_tags (status_id, tag) VALUES (1, 'crossinnovation')")
        conn.execute(
            "INSERT INTO movement_cursors (source, newest_id, read_at) VALUES ('mentions', '7', 'x')"
        )
    with Store(path) as store:
        assert 20 in store.applied()
        assert store.rows("SELECT id, account, remote_id FROM movement_statuses") == [
            {"id": 1, "account": "network-mastodon", "remote_id": "7"}
        ]
        # The tag kept its status: rebuilding the table fired no ON DELETE CASCADE.
        assert store.scalar("SELECT count(*) FROM movement_tags") == 1
        assert movement_q.cursors(store, "network-mastodon")["mentions"]["newest_id"] == "7"
        assert store.scalar("PRAGMA foreign_keys") == 1
