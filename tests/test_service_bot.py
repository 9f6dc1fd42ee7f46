"""The bot runs inside the service: one process posts to the channel and answers users."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from commsbot.config import load_config
from commsbot.content.items import load_sample
from commsbot.service.process import Service
from commsbot.store import Store
from tests.support.base import NOW
from tests.support.service import until
from tests.support.telegram import CHANNEL, TOKEN_ENV, ask, telegram_config
from tests.support.telegram_api import FakeTelegram


def test_service_posts_to_the_channel_and_answers_chat_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "123:TEST")
    with FakeTelegram(token="123:TEST") as fake:
        schedules = tmp_path / "schedules"
        schedules.mkdir()
        (schedules / "jobs.toml").write_text(
            '[publish]\njob = "publish"\nevery = "1h"\nat_start = true\n'
        )
        path = telegram_config(tmp_path, fake)
        path.write_text(path.read_text() + f'\n[service]\nschedules = "{schedules}"\n')
        config = load_config(path)
        with Store(config.store.path) as store:
            load_sample(store, NOW)

        async def scenario() -> dict[str, object]:
            service = Service(config)
            task = asyncio.create_task(service.run())
            try:
                # Both at once: the sample reaches the channel and a user gets an answer.
                await asyncio.to_thread(fake.wait_for_messages, CHANNEL, 58, 60)
                return await asyncio.to_thread(ask, fake, "/practice plzen-creative-voucher")
            finally:
                service.stop()
                await asyncio.wait_for(task, 30)

        reply = asyncio.run(scenario())
        assert "Plzeň Creative Voucher for Engineering Firms" in str(reply["text"])
        assert "message_reaction_count" in (fake.allowed_updates_seen[-1] or [])
        assert len(fake.messages_to(CHANNEL)) == 58


def test_audience_snapshot_counts_channel_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commsbot.clock import utcnow
    from commsbot.insights.tracking import snapshot_audience
    from commsbot.posting.pipeline import close_channels, open_channels
    from commsbot.service.jobs import JobContext

    monkeypatch.setenv(TOKEN_ENV, "123:TEST")
    with FakeTelegram(token="123:TEST") as fake:
        fake.add_chat(CHANNEL, member_count=137)
        config = load_config(telegram_config(tmp_path, fake))

        async def scenario() -> dict[str, object]:
            channels = await open_channels(config, [])
            try:
                with Store(config.store.path) as store:
                    return await snapshot_audience(JobContext(store, config, utcnow, channels))
            finally:
                await close_channels(channels)

        assert asyncio.run(scenario()) == {"telegram": 137}
        assert fake.calls["getChatMemberCount"] == 1


def test_a_bot_that_cannot_reach_telegram_is_restarted_and_status_tells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commsbot.service import status
    from commsbot.service.lock import StoreLock
    from commsbot.service.process import SERVICE_LOCK
    from commsbot.store import service as service_q

    monkeypatch.setenv(TOKEN_ENV, "123:TEST")
    with FakeTelegram(token="123:TEST") as fake:
        path = telegram_config(tmp_path, fake)
        path.write_text(path.read_text() + "\n[service]\nrestart_seconds = 1\n")
        config = load_config(path)
        # Telegram is unreachable when the service starts (#13).
        fake.fail_next("getMe", 502, "Bad Gateway", count=1000)

        def part_row() -> dict[str, object]:
            with Store(config.store.path) as store:
                [row] = status.gather(store, config, NOW)["parts"]
                return dict(row)

        def part_state() -> str | None:
            with Store(config.store.path) as store:
                state = service_q.part_states(store).get("telegram-bot (telegram)")
                return None if state is None else str(state["state"])

        async def scenario() -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
            service = Service(config)
            task = asyncio.create_task(service.run())
            try:
                await until(lambda: part_state() == "failed")
                failed = part_row()
                fake.clear_faults()  # Telegram is back
                await until(lambda: part_state() == "running")
                running = part_row()
                return failed, running, await asyncio.to_thread(ask, fake, "/start")
            finally:
                service.stop()
                await asyncio.wait_for(task, 30)

        with StoreLock(config.store.path, SERVICE_LOCK):
            failed, running, reply = asyncio.run(scenario())

    state = str(failed["state"])
    assert state.startswith("failing since "), state
    assert "cannot reach Telegram" in state and "; next try at " in state
    assert str(running["state"]).startswith("running since ")
    assert reply["text"]  # the restarted bot answers
