"""Two Telegram accounts with a bot each (#16): each runs its own bot application on its own
token, its chat users subscribe to that account, and the digests of each reach their own
subscribers through their own bot. Two fake Bot API servers, the real bots and the real CLI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from commsbot.bot.app import TelegramBots
from commsbot.channels.telegram import bot_accounts
from commsbot.cli import cli
from commsbot.config import Config, load_config
from commsbot.content.items import load_sample
from commsbot.store import Store
from tests.support.digest import at
from tests.support.telegram import _toml, ask
from tests.support.telegram_api import FakeTelegram

NETWORK, POLISH = "network-telegram", "polish-telegram"


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeTelegram, FakeTelegram]]:
    with (
        FakeTelegram("111:NETWORK", max_poll_timeout=1.0, bot_username="network_bot") as a,
        FakeTelegram("222:POLISH", max_poll_timeout=1.0, bot_username="polish_bot") as b,
    ):
        monkeypatch.setenv("COMMSBOT_TEST_NETWORK_TOKEN", a.token)
        monkeypatch.setenv("COMMSBOT_TEST_POLISH_TOKEN", b.token)
        yield a, b


def account(name: str, fake: FakeTelegram, env: str, chat: str) -> str:
    settings = {
        "kind": "telegram",
        "enabled": True,
        "bot_token_env": env,
        "chat_id": chat,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "poll_timeout": 1,
        "posts_per_minute": 1800,
        "chat_burst": 100_000,
    }
    return f"[channels.{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in settings.items())


def write_config(folder: Path, a: FakeTelegram, b: FakeTelegram) -> Path:
    path = folder / "commsbot.toml"
    path.write_text(
        '[store]\npath = "commsbot.db"\n\n[channels.outbox]\nenabled = false\n\n'
        + account(NETWORK, a, "COMMSBOT_TEST_NETWORK_TOKEN", "@network_news")
        + "\n"
        + account(POLISH, b, "COMMSBOT_TEST_POLISH_TOKEN", "@wiadomosci"),
        encoding="utf-8",
    )
    return path


class Running:
    """The service's bot part (every bot of the config) in a thread with its own loop."""

    def __init__(self, config: Config) -> None:
        # The subscriptions date from before week 47, so its digest is due to them.
        self.bots = TelegramBots(config, clock=lambda: at("2026-11-01"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TelegramBots:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.bots.start(), self.loop).result(timeout=30)
        return self.bots

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.bots.stop(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()


def test_each_bot_answers_for_its_account_and_its_digests_reach_its_subscribers(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeTelegram]
) -> None:
    network, polish = fakes
    path = write_config(tmp_path, network, polish)
    config = load_config(path)
    assert bot_accounts(config) == [NETWORK, POLISH]
    with Store(config.store.path) as store:
        load_sample(store, at("2026-11-18"))
    with Running(config) as bots:
        assert [b.username for b in bots.bots] == ["network_bot", "polish_bot"]
        weekly = ask(network, "/subscribe weekly", user_id=1001)
        other = ask(polish, "/subscribe weekly", user_id=2002)
        assert weekly["plain_text"].startswith("Subscribed: a weekly digest")
        assert other["plain_text"].startswith("Subscribed: a weekly digest")
        # Each bot answered only its own user, through its own server.
        assert network.messages_to(2002) == [] and polish.messages_to(1001) == []
    with Store(config.store.path) as store:
        rows = store.rows("SELECT channel, address FROM subscribers ORDER BY address")
    assert rows == [
        {"channel": NETWORK, "address": "1001"},
        {"channel": POLISH, "address": "2002"},
    ]
    sent = CliRunner().invoke(
        cli, ["--config", str(path), "digest", "send", "--period", "2026-W47"]
    )
    assert sent.exit_code == 0, sent.output
    to_network = [m for m in network.messages_to(1001) if "Subscribed" not in m["plain_text"]]
    to_polish = [m for m in polish.messages_to(2002) if "Subscribed" not in m["plain_text"]]
    assert len(to_network) >= 1 and len(to_polish) >= 1, sent.output
    assert network.messages_to(2002) == [] and polish.messages_to(1001) == []
    assert "/unsubscribe" in to_network[-1]["plain_text"] + to_polish[-1]["plain_text"]


def test_accounts_sharing_a_token_are_one_bot(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeTelegram]
) -> None:
    network, _ = fakes
    text = account(NETWORK, network, "COMMSBOT_TEST_NETWORK_TOKEN", "@network_news")
    text += "\n" + account(POLISH, network, "COMMSBOT_TEST_NETWORK_TOKEN", "@wiadomosci")
    path = tmp_path / "commsbot.toml"
    path.write_text('[store]\npath = "commsbot.db"\n\n' + text, encoding="utf-8")
    assert bot_accounts(load_config(path)) == [NETWORK]
