"""Two Telegram accounts with a bot each (#16): each runs its own bot application on its own
token, its chat users subscribe to that account, and the digests of each reach their own
subscribers through their own bot. Two fake Bot API servers, the real bots and the real CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from commsbot.bot.app import TelegramBot, telegram_bots
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
    """Every bot of the config in a thread with its own loop."""

    def __init__(self, config: Config) -> None:
        # The subscriptions date from before week 47, so its digest is due to them.
        self.bots = telegram_bots(config, clock=lambda: at("2026-11-01"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> list[TelegramBot]:
        self.thread.start()
        for bot in self.bots:
            asyncio.run_coroutine_threadsafe(bot.start(), self.loop).result(timeout=30)
        return self.bots

    def __exit__(self, *exc: object) -> None:
        try:
            for bot in reversed(self.bots):
                asyncio.run_coroutine_threadsafe(bot.stop(), self.loop).result(timeout=30)
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
        assert [b.username for b in bots] == ["network_bot", "polish_bot"]
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


@pytest.mark.parametrize(
    ("status", "said"),
    [(401, "Telegram rejected the bot token"), (502, "cannot reach Telegram")],
    ids=["token-refused", "server-down"],
)
def test_a_bot_that_cannot_start_is_restarted_alone_while_the_other_answers(
    tmp_path: Path,
    fakes: tuple[FakeTelegram, FakeTelegram],
    caplog: pytest.LogCaptureFixture,
    status: int,
    said: str,
) -> None:
    """One bot failing to start neither stops nor restarts the other (#16): the failing one
    is tried again on its own with the back-off, and status names its account."""
    from commsbot.service import status as service_status
    from commsbot.service.lock import StoreLock
    from commsbot.service.process import SERVICE_LOCK, Service
    from commsbot.store import service as service_q
    from tests.support.service import until

    network, polish = fakes
    path = write_config(tmp_path, network, polish)
    path.write_text(
        path.read_text() + "\n[service]\nrestart_seconds = 1\nrestart_max_seconds = 2\n"
    )
    config = load_config(path)
    polish.fail_next("getMe", status, count=10_000)
    caplog.set_level("INFO", logger="commsbot.service")
    polish_part, network_part = f"telegram-bot ({POLISH})", f"telegram-bot ({NETWORK})"

    def state(part: str) -> str | None:
        with Store(config.store.path) as store:
            row = service_q.part_states(store).get(part)
        return None if row is None else str(row["state"])

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    def parts() -> dict[str, str]:
        with Store(config.store.path) as store:
            rows = service_status.gather(store, config, at("2026-11-01"))["parts"]
        return {r["part"]: r["state"] for r in rows}

    async def scenario() -> tuple[list[dict[str, object]], dict[str, str], dict[str, object]]:
        service = Service(config)
        task = asyncio.create_task(service.run())
        try:
            await until(lambda: state(network_part) == "running")
            await until(lambda: logged(f"{polish_part} failed to start") >= 1)
            first = await asyncio.to_thread(ask, network, "/start", user_id=1001)
            # The failing bot is tried again, alone: the other keeps answering between tries.
            await until(lambda: logged(f"{polish_part} failed to start") >= 3)
            shown = parts()
            second = await asyncio.to_thread(ask, network, "/start", user_id=1002)
            polish.clear_faults()  # its server is back, or the token accepted
            await until(lambda: state(polish_part) == "running")
            recovered = await asyncio.to_thread(ask, polish, "/start", user_id=2002)
            return [first, second], shown, recovered
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)

    with StoreLock(config.store.path, SERVICE_LOCK):
        answers, shown, recovered = asyncio.run(scenario())

    assert all(a["plain_text"] for a in answers)
    assert recovered["plain_text"]
    assert shown[network_part].startswith("running since "), shown
    assert shown[polish_part].startswith("failing since ") and said in shown[polish_part], shown
    assert "; next try at " in shown[polish_part]
    # The network bot started once: never stopped or restarted for the other's failures.
    assert logged(f"{network_part} started") == 1
    assert logged(f"{network_part} failed") == 0
    assert logged(f"{polish_part} started") == 1
    assert network.token not in caplog.text and polish.token not in caplog.text


def _commsbot_bot(path: Path) -> subprocess.Popen[str]:
    commsbot = str(Path(sys.executable).with_name("commsbot"))
    return subprocess.Popen(
        [commsbot, "--config", str(path), "bot"],
        env=dict(os.environ),  # the tokens' variables, set by the fixture
        stderr=subprocess.PIPE,
        text=True,
    )


def test_commsbot_bot_keeps_one_bot_answering_while_the_other_is_retried(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeTelegram]
) -> None:
    network, polish = fakes
    path = write_config(tmp_path, network, polish)
    path.write_text(path.read_text() + "\n[service]\nrestart_seconds = 1\n")
    polish.fail_next("getMe", 502, count=10_000)
    process = _commsbot_bot(path)
    try:
        assert process.stderr is not None
        lines: list[str] = []

        def read_until(text: str) -> None:
            while not lines or text not in lines[-1]:  # bounded by pytest's timeout
                lines.append(process.stderr.readline())  # type: ignore[union-attr]
                assert lines[-1], f"commsbot bot ended: {lines}"

        read_until("bot @network_bot is answering")
        assert ask(network, "/start", user_id=1001)["plain_text"]
        polish.wait_for_calls("getMe", 3, timeout=20)  # tried again, alone
        assert ask(network, "/start", user_id=1002)["plain_text"]
        polish.clear_faults()
        read_until("bot @polish_bot is answering")
        assert ask(polish, "/start", user_id=2002)["plain_text"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        logged = "".join(lines) + process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    assert f"telegram-bot ({POLISH}) failed to start: cannot reach Telegram" in logged
    assert f"telegram-bot ({NETWORK}) failed" not in logged
    assert logged.count("bot @network_bot is answering") == 1
    assert network.token not in logged and polish.token not in logged


def test_commsbot_bot_ends_with_the_error_when_no_bot_can_start(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeTelegram]
) -> None:
    network, polish = fakes
    path = write_config(tmp_path, network, polish)
    for fake in fakes:
        fake.fail_next("getMe", 401, count=10)
    process = _commsbot_bot(path)
    try:
        _, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    assert process.returncode == 1
    assert "Telegram rejected the bot token in $COMMSBOT_TEST_NETWORK_TOKEN" in errors
    assert "Traceback" not in errors
