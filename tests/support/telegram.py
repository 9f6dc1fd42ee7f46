"""What the Telegram tests share: configs pointing at FakeTelegram, a small store, and a bot
running in its own thread and event loop, as the service runs it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from commsbot.bot.app import TelegramBot
from commsbot.config import Config
from commsbot.content.items import add_items
from commsbot.content.types import TYPES
from commsbot.store import Store
from commsbot.store import content as content_q
from tests.support.base import NOW
from tests.support.telegram_api import FakeTelegram

TOKEN_ENV = "COMMSBOT_TEST_TELEGRAM_TOKEN"
CHANNEL = "@cross_innovation_news"
ADMIN = 4242


def telegram_config(
    folder: Path, fake: FakeTelegram, *, outbox: bool = False, **settings: Any
) -> Path:
    """A config with the telegram channel on FakeTelegram (token from TOKEN_ENV)."""
    values: dict[str, Any] = {
        "enabled": True,
        "bot_token_env": TOKEN_ENV,
        "chat_id": CHANNEL,
        "admins": [ADMIN],
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "poll_timeout": 1,
        "read_timeout": 3.0,
        # The fastest Telegram allows a bot: tests need not wait 3 s between posts.
        "posts_per_minute": 1800,
        # Tests ask many things from one chat; the fair share per chat has tests of its own.
        "chat_burst": 100_000,
        **settings,
    }
    lines = [f"{key} = {_toml(value)}" for key, value in values.items()]
    path = folder / "telegram.toml"
    path.write_text(
        '[store]\npath = "telegram.db"\n\n'
        # These tests post the store's content when the account is first enabled.
        '[posting]\nbacklog = "post"\n\n'
        f'[channels.outbox]\nenabled = {_toml(outbox)}\npath = "outbox"\n\n'
        "[channels.telegram]\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def small_content(store: Store, now: datetime = NOW) -> None:
    """Two cities, two themes, three practices (one with <co> and &), an event, a newsletter."""
    content_q.insert_reference(
        store,
        [
            {"slug": "plzen", "name": "Plzeň", "local_name": "Plzeň", "country": "Czechia"},
            {"slug": "vilnius", "name": "Vilnius", "country": "Lithuania"},
        ],
        [
            {"slug": "brokerage", "name": "Brokerage", "description": "Matching people."},
            {"slug": "smart-incentives", "name": "Smart Incentives"},
        ],
    )
    add(
        store,
        "practice",
        [
            {
                "slug": "co-lab",
                "title": "The <co>lab & friends",
                "city": "plzen",
                "theme": "brokerage",
                "summary": "Designers & engineers meet at <co>lab.",
                "url": "https://example.org/co-lab?a=1&b=2",
                "tags": ["co-working"],
            },
            {
                "slug": "vouchers",
                "title": "Creative vouchers",
                "city": "vilnius",
                "theme": "smart-incentives",
                "summary": "Vouchers for design services.",
                "url": "https://example.org/vouchers",
            },
            {
                "slug": "tram-depot",
                "title": "Tram depot studios",
                "city": "plzen",
                "theme": "smart-incentives",
                "summary": "Studios in a former tram depot.",
            },
        ],
        now,
    )
    add(
        store,
        "event",
        [
            {
                "slug": "policy-clinic",
                "title": "Policy clinic",
                "kind": "policy-clinic",
                "city": "vilnius",
                "start_date": "2013-03-01",
                "end_date": "2013-03-02",
                "participants": 40,
                "outcome": "Cities compared voucher schemes.",
                "url": "https://example.org/clinic",
            }
        ],
        now,
    )
    add(
        store,
        "newsletter",
        [
            {
                "slug": "newsletter-1",
                "title": "Newsletter #1",
                "number": 1,
                "published": "2013-06-30",
                "summary": "Study visits & policy clinics.",
                "url": "https://example.org/newsletter-1",
            }
        ],
        now,
    )


def add(store: Store, item_type: str, items: list[dict[str, Any]], now: datetime) -> None:
    """Add items through the same validation as the CLI."""
    ctype = TYPES[item_type]
    add_items(store, ctype, [(f"test {item_type} {i}", item) for i, item in enumerate(items)], now)


class BotThread:
    """A TelegramBot in a thread of its own with its own event loop; a context manager."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = lambda: NOW) -> None:
        self.bot = TelegramBot(config, clock=clock)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bot", daemon=True)

    def __enter__(self) -> TelegramBot:
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.bot.start(), self.loop).result(timeout=15)
        except BaseException:
            self._end()
            raise
        return self.bot

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.bot.stop(), self.loop).result(timeout=15)
        finally:
            self._end()

    def _end(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def ask(
    fake: FakeTelegram,
    text: str,
    user_id: int = 1001,
    chat_id: int | None = None,
    language_code: str | None = None,
) -> dict[str, Any]:
    """Send a message as a user (whose app speaks ``language_code``) and return the bot's
    next message to that chat."""
    chat = user_id if chat_id is None else chat_id
    before = len(fake.messages_to(chat))
    fake.push_message(text, user_id=user_id, chat_id=chat_id, language_code=language_code)
    return fake.wait_for_messages(chat, before + 1, timeout=10)[before]
