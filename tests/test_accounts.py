"""Several accounts per platform (#16): two Mastodon accounts on one mastodon_mock (its
seeded users) and two Telegram channels of one bot on the fake Bot API, each taking what
its filters say, exactly once; a rate limit on one account leaves the other posting."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from commsbot.cli import cli
from commsbot.store import Store
from commsbot.store import posts as posts_q
from tests.support.mastodon import MOCK_CONFIG, MockMastodon, mastodon_account
from tests.support.telegram_api import FakeTelegram

SAMPLE = json.loads(
    (Path(__file__).resolve().parent.parent / "commsbot/content/sample/network.json").read_text(
        "utf-8"
    )
)
NETWORK_ENV, TALLINN_ENV, BOT_ENV = (
    "COMMSBOT_TEST_NETWORK_TOKEN",
    "COMMSBOT_TEST_TALLINN_TOKEN",
    "COMMSBOT_TEST_BOT_TOKEN",
)
NEWS_CHAT, WARSAW_CHAT = "@cross_innovation_news", "@ci_warszawa"
# Each account's request allowance on the rate-limited server: the Tallinn account's four
# practices fit in it with its opening requests, the network account's 14 posts do not.
LIMITED_MOCK_CONFIG = MOCK_CONFIG + "\n[ratelimit]\nenabled = true\nlimit = 9\n"


def telegram(name: str, chat: str, fake: FakeTelegram) -> str:
    """A Telegram account of the one test bot, on the fake Bot API."""
    return (
        f'[channels.{name}]\nkind = "telegram"\nenabled = true\nbot_token_env = "{BOT_ENV}"\n'
        f'chat_id = "{chat}"\nbase_url = "{fake.base_url}"\n'
        f'base_file_url = "{fake.base_file_url}"\nposts_per_minute = 1800'
    )


def accounts_config(folder: Path, mastodon_url: str, fake: FakeTelegram) -> Path:
    """The example of the README's "Several accounts", on the test servers."""
    path = folder / "commsbot.toml"
    path.write_text(
        f"""
[store]
path = "commsbot.db"

[posting]
backlog = "post"  # the sample is posted when the accounts are first enabled

[channels.outbox]
enabled = false

{mastodon_account("network-mastodon", mastodon_url, NETWORK_ENV)}
content_types = ["event", "newsletter", "announcement"]

{mastodon_account("tallinn-mastodon", mastodon_url, TALLINN_ENV)}
cities = ["tallinn"]
content_types = ["practice"]

{telegram("network-telegram", NEWS_CHAT, fake)}
content_types = ["newsletter"]

# The same bot in a second channel: one account more, one rate limit shared.
{telegram("warsaw-telegram", WARSAW_CHAT, fake)}
cities = ["warsaw"]
""",
        encoding="utf-8",
    )
    return path


def expected() -> dict[str, set[tuple[str, str]]]:
    """Who should get what, read from the sample network itself (not from commsbot)."""
    practices = [("practice", p["slug"], p) for p in SAMPLE["practices"]]
    events = [("event", e["slug"], e) for e in SAMPLE["events"]]
    newsletters = {("newsletter", n["slug"]) for n in SAMPLE["newsletters"]}
    return {
        "network-mastodon": {(t, s) for t, s, _ in events} | newsletters,
        "tallinn-mastodon": {(t, s) for t, s, p in practices if p["city"] == "tallinn"},
        "network-telegram": newsletters,
        "warsaw-telegram": {(t, s) for t, s, i in practices + events if i["city"] == "warsaw"},
    }


def invoke(path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(path), *args])


def posts(path: Path) -> list[dict[str, Any]]:
    with Store(path.parent / "commsbot.db") as store:
        return posts_q.list_posts(store, limit=10_000)


def statuses(mock: MockMastodon, token: str) -> list[Any]:
    client = mock.client(token)
    me = client.account_verify_credentials()
    return list(client.fetch_remaining(client.account_statuses(me.id, limit=40)))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    with FakeTelegram(max_poll_timeout=1.0) as server:
        monkeypatch.setenv(BOT_ENV, server.token)
        yield server


def start_mock(folder: Path, config: str, monkeypatch: pytest.MonkeyPatch) -> MockMastodon:
    mock = MockMastodon(folder, config).start()
    monkeypatch.setenv(NETWORK_ENV, mock.login("commsbot"))
    monkeypatch.setenv(TALLINN_ENV, mock.login("partner"))
    return mock


@pytest.fixture
def mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockMastodon]:
    server = start_mock(tmp_path, MOCK_CONFIG, monkeypatch)
    try:
        yield server
    finally:
        server.stop()


def test_each_item_reaches_exactly_the_accounts_that_take_it_once(
    tmp_path: Path, mock: MockMastodon, fake: FakeTelegram
) -> None:
    import os

    path = accounts_config(tmp_path, mock.base_url, fake)
    assert invoke(path, "init", "--sample").exit_code == 0
    first = invoke(path, "run", "--once")
    assert first.exit_code == 0, first.output

    got: dict[str, set[tuple[str, str]]] = {}
    for row in posts(path):
        assert row["status"] == "sent", row
        got.setdefault(row["channel"], set()).add((row["item_type"], row["item_ref"]))
    assert got == expected()
    # What the servers hold, per account: Tallinn's practices on Tallinn's account only.
    assert len(statuses(mock, os.environ[TALLINN_ENV])) == 4
    assert len(statuses(mock, os.environ[NETWORK_ENV])) == len(expected()["network-mastodon"])
    assert len(fake.messages_to(NEWS_CHAT)) == 2
    assert len(fake.messages_to(WARSAW_CHAT)) == len(expected()["warsaw-telegram"])

    again = invoke(path, "run", "--once")
    assert again.exit_code == 0, again.output
    assert len(posts(path)) == sum(len(v) for v in expected().values())
    assert len(statuses(mock, os.environ[TALLINN_ENV])) == 4
    assert len(fake.messages_to(WARSAW_CHAT)) == len(expected()["warsaw-telegram"])

    by_channel = json.loads(invoke(path, "stats", "--by", "channel", "--format", "json").output)
    sent = {r["channel"]: r["posts"] for r in by_channel["rows"]}
    assert sent == {name: len(items) for name, items in expected().items()}
    by_platform = json.loads(invoke(path, "stats", "--by", "platform", "--format", "json").output)
    assert {r["platform"]: r["posts"] for r in by_platform["rows"]} == {
        "mastodon": 14 + 4,
        "telegram": 2 + len(expected()["warsaw-telegram"]),
    }
    report = tmp_path / "report.html"
    assert invoke(path, "report", "--html", str(report)).exit_code == 0
    html = report.read_text("utf-8")
    accounts = html[html.index('id="table-accounts"') : html.index('id="table-platforms"')]
    assert all(f'<th scope="row">{name}</th>' in accounts for name in expected())
    platforms = html[html.index('id="table-platforms"') : html.index('id="weekly"')]
    assert '<th scope="row">mastodon</th><td class="n">18</td>' in platforms


def test_preview_and_queue_add_say_which_accounts_take_it(
    tmp_path: Path, mock: MockMastodon, fake: FakeTelegram
) -> None:
    path = accounts_config(tmp_path, mock.base_url, fake)
    assert invoke(path, "init", "--sample").exit_code == 0
    tallinn = next(p["slug"] for p in SAMPLE["practices"] if p["city"] == "tallinn")
    shown = invoke(path, "preview", "practice", tallinn)
    assert shown.exit_code == 0, shown.output
    assert "--- taken by: tallinn-mastodon\n" in shown.output
    assert "--- network-mastodon: not taken (content_types: not practice)" in shown.output
    assert "--- warsaw-telegram: not taken (cities: not tallinn)" in shown.output

    queued = invoke(path, "queue", "add", "The network meets in Plzeň")
    assert queued.exit_code == 0, queued.output
    assert "on network-mastodon: queued" in queued.output
    assert "not for tallinn-mastodon (content_types: not announcement" in queued.output
    named = invoke(path, "queue", "add", "Tallinn only", "--channel", "tallinn-mastodon")
    assert named.exit_code == 0 and "on tallinn-mastodon: queued" in named.output
    # `channels test NAME` checks that account's own token: it posts as the partner.
    tested = invoke(path, "channels", "test", "tallinn-mastodon")
    assert tested.exit_code == 0, tested.output
    assert "A partner city" in tested.output and "tallinn-mastodon: OK" in tested.output


def test_a_rate_limit_on_one_account_leaves_the_other_posting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeTelegram
) -> None:
    mock = start_mock(tmp_path, LIMITED_MOCK_CONFIG, monkeypatch)
    try:
        path = accounts_config(tmp_path, mock.base_url, fake)
        assert invoke(path, "init", "--sample").exit_code == 0
        invoke(path, "run", "--once")
        outcome = Counter((r["channel"], r["status"]) for r in posts(path))
        assert outcome[("tallinn-mastodon", "sent")] == 4
        network_sent = outcome[("network-mastodon", "sent")]
        assert 0 < network_sent < 14
        assert outcome[("network-mastodon", "queued")] == 14 - network_sent
        listing = invoke(path, "channels").output
        [network] = [line for line in listing.splitlines() if line.startswith("network-mastodon")]
        [tallinn] = [line for line in listing.splitlines() if line.startswith("tallinn-mastodon")]
        assert "paused until" in network
        assert " ok " in tallinn
    finally:
        mock.stop()
