"""The Telegram bot: users and the comms officer talk to it through FakeTelegram over loopback
HTTP, with real python-telegram-bot polling in the bot's own thread and event loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commsbot.bot.app import ALLOWED_UPDATES, TelegramBot, chat_hash
from commsbot.bot.replies import COMMANDS
from commsbot.config import Config, load_config
from commsbot.errors import ChannelError, ConfigError
from commsbot.store import Store
from commsbot.store import audience as audience_q
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from commsbot.text import is_valid_telegram_html
from tests.support.base import NOW
from tests.support.telegram import (
    ADMIN,
    CHANNEL,
    TOKEN_ENV,
    BotThread,
    add,
    ask,
    small_content,
    telegram_config,
)
from tests.support.telegram_api import FakeTelegram

BOT_NAME = "commsbot_test_bot"
WARSAW = "@ci_warszawa"


@dataclass
class Running:
    fake: FakeTelegram
    config: Config
    bot: TelegramBot

    def store(self) -> Store:
        return Store(self.config.store.path)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One bot for the module: small content, eleven practices, a past and a coming event."""
    folder = tmp_path_factory.mktemp("bot")
    with FakeTelegram(max_poll_timeout=1.0) as fake, pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, fake.token)
        path = telegram_config(folder, fake)
        # A second chat of the same bot (#16): its reactions belong to its own account.
        second = (
            f'\n[channels.warsaw-telegram]\nkind = "telegram"\nbot_token_env = "{TOKEN_ENV}"\n'
            f'chat_id = "{WARSAW}"\nbase_url = "{fake.base_url}"\n'
        )
        path.write_text(path.read_text(encoding="utf-8") + second, encoding="utf-8")
        config = load_config(path)
        with Store(config.store.path) as store:
            small_content(store)
            extra = [
                {"title": f"Extra practice {i}", "city": "vilnius", "theme": "brokerage"}
                for i in range(1, 9)
            ]
            add(store, "practice", extra, NOW)
            add(
                store,
                "event",
                [
                    {
                        "title": "Final conference",
                        "kind": "conference",
                        "city": "plzen",
                        "start_date": "2027-01-10",
                        "url": "https://example.org/final",
                    }
                ],
                NOW,
            )
        with BotThread(config) as bot:
            yield Running(fake, config, bot)


def reply(running: Running, text: str, user_id: int = 1001, chat_id: int | None = None) -> str:
    message = ask(running.fake, text, user_id, chat_id)
    assert message["parse_mode"] == "HTML"
    assert is_valid_telegram_html(message["text"])
    return str(message["plain_text"])


PRACTICES_PAGE_1 = "Good practices\n11 practices · page 1 of 3\n\n" + "\n\n".join(
    f"Extra practice {i}\nVilnius · Brokerage\n/practice extra-practice-{i}"
    for i in (8, 7, 6, 5, 4)
)
USAGE_PRACTICES = "Usage: /practices [city] [theme] — good practices, a page at a time"

PUBLIC = [
    ("/start", "Hello! I am the bot of the Cross-Innovation network, European cities where the creative industries work with other sectors.\n\nAsk me about good practices, events and their outcomes, or get a digest here:\n/practices — good practices, by city and theme\n/search words — practices that mention them\n/events — the network's events\n/subscribe — a weekly or monthly digest\n/language — the language I answer in\n\n/help lists everything I can do."),
    ("/practices", PRACTICES_PAGE_1),
    ("/practices plzen", "Good practices in Plzeň\n2 practices · page 1 of 1\n\nTram depot studios\nPlzeň · Smart Incentives\n/practice tram-depot\n\nThe <co>lab & friends\nPlzeň · Brokerage\n/practice co-lab"),
    ("/practices Plzeň smart incentives", "Good practices in Plzeň · Smart Incentives\n1 practice · page 1 of 1\n\nTram depot studios\nPlzeň · Smart Incentives\n/practice tram-depot"),
    ("/practices atlantis", f"I know no city or theme called “atlantis”. See /cities and /themes.\n{USAGE_PRACTICES}"),
    ("/practices vilnus", f"I know no city or theme called “vilnus”. Did you mean Vilnius?\n{USAGE_PRACTICES}"),
    ("/practices plzen vilnius", f"Give one city and one theme at most.\n{USAGE_PRACTICES}"),
    ("/practice co-lab", "The <co>lab & friends\nPlzeň · Brokerage\n\nDesigners & engineers meet at <co>lab.\n\n#CoWorking\n\nRead more"),
    ("/practice", "Usage: /practice <slug> — one practice in full"),
    ("/practice nope", "I have no practice called nope. Try /search nope or /practices."),
    ("/search vouchers", "Practices mentioning “vouchers”\n\nCreative vouchers\nVilnius · Smart Incentives\n/practice vouchers"),
    ('/search "co" OR lab*', 'Nothing mentions “"co" OR lab*”. Try fewer or other words, or browse /practices.'),
    ("/search", "Usage: /search <words> — practices that mention all the words"),
    ("/cities", "The partner cities\nPlzeň, Czechia — 2 practices\nVilnius, Lithuania — 9 practices\n\n/practices city lists a city's practices."),
    ("/themes", "The themes\n\nBrokerage — 9 practices\nMatching people.\n/practices brokerage\n\nSmart Incentives — 2 practices\n/practices smart-incentives"),
    ("/events", "Upcoming events\n\nFinal conference, Plzeň\nJan 10, 2027 · conference\nDetails"),
    ("/events past", "Past events\n\nPolicy clinic, Vilnius\nMar 1, 2013 to Mar 2, 2013 · policy clinic · 40+ participants\nDetails"),
    ("/events soon", "Usage: /events [upcoming|past] — the network's events"),
    ("/outcomes", "What the events achieved\n1 event with reported outcomes. The latest:\n\nPolicy clinic, Vilnius (Mar 2, 2013), at least 40 participants\nCities compared voucher schemes."),
    ("/newsletter", "Newsletter #1 (no. 1), Jun 30, 2013\n\nStudy visits & policy clinics.\n\nRead the newsletter"),
    ("/frobnicate", "Sorry, I don't know /frobnicate. Send /help to see what I can do."),
    (f"/help@{BOT_NAME}", None),  # checked below: the public list, no admin section
    ("hello there", "I answer commands: send /help to see them."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PUBLIC, ids=[t for t, _ in PUBLIC])
def test_public_commands_answer_from_the_store(
    running: Running, text: str, expected: str | None
) -> None:
    answer = reply(running, text)
    if expected is not None:
        assert answer == expected
    else:
        lines = answer.splitlines()
        assert lines[0] == "What I can do"
        public = [f"{c.usage} — {c.help}" for c in COMMANDS if not c.admin]
        assert lines[1 : 1 + len(public)] == public
        assert "For the comms officer" not in answer


def test_links_in_replies_are_escaped_html(running: Running) -> None:
    message = ask(running.fake, "/practice co-lab", user_id=1002)
    assert message["text"].startswith("<b>The &lt;co&gt;lab &amp; friends</b>\n")
    assert '<a href="https://example.org/co-lab?a=1&amp;b=2">Read more</a>' in message["text"]
    assert {
        "type": "text_link",
        "offset": 93,
        "length": 9,
        "url": "https://example.org/co-lab?a=1&b=2",
    } in message["entities"]


ADMIN_ONLY = ["/queue", "/status", "/announce Hello", "/approve 1", "/cancel 1"]


@pytest.mark.parametrize("text", ADMIN_ONLY)
def test_admin_commands_look_unknown_to_everyone_else(running: Running, text: str) -> None:
    name = text.split()[0]
    assert reply(running, text, user_id=1003) == (
        f"Sorry, I don't know {name}. Send /help to see what I can do."
    )


def test_the_comms_officer_queues_approves_and_cancels(running: Running) -> None:
    admin = [f"{c.usage} — {c.help}" for c in COMMANDS if c.admin]
    lines = reply(running, "/help", ADMIN).splitlines()
    start = lines.index("For the comms officer")
    assert lines[start + 1 : start + 1 + len(admin)] == admin
    assert (
        reply(running, "/queue", ADMIN)
        == "The outbox is empty: nothing waiting, failed or unknown."
    )
    assert reply(running, "/announce General Meeting <5> & more", ADMIN) == (
        "Announcement queued\nPost 1 on telegram: goes out from 2026-11-23 13:00 CET"
    )
    with running.store() as store:
        post = posts_q.get_post(store, 1)
    assert post is not None
    assert (post["status"], post["channel"]) == ("queued", "telegram")
    assert post["text"] == "General Meeting &lt;5&gt; &amp; more"
    assert reply(running, "/queue", ADMIN) == (
        "Outbox: 1 post waiting, failed or unknown\n\n"
        "1 telegram · queued · 2026-11-23 13:00 CET\n"
        "announcement announcement-1: General Meeting <5> & more\n\n/approve id · /cancel id"
    )
    assert reply(running, "/approve 1", ADMIN) == (
        "/approve: post 1 is queued; only a post that is waiting for approval or draft can be "
        "approved"
    )
    assert reply(running, "/status", ADMIN) == "Status\ntelegram: 1 queued\nSubscribers: none."
    assert reply(running, "/cancel 1", ADMIN) == "Post 1 on telegram cancelled."
    assert (
        reply(running, "/cancel x", ADMIN)
        == "Usage: /cancel <post id> — cancel a post not yet sent"
    )
    assert reply(running, "/approve 99", ADMIN) == "/approve: no post with id 99"
    assert reply(running, "/announce", ADMIN) == (
        "Usage: /announce <text> — queue an announcement on every channel"
    )


def test_paging_with_buttons_edits_the_same_message(running: Running) -> None:
    fake = running.fake
    first = ask(fake, "/practices", user_id=1004)
    assert first["reply_markup"] == {
        "inline_keyboard": [[{"text": "Next ▶", "callback_data": "practices:2::"}]]
    }
    edits = len(fake.edits)
    fake.push_callback_query("practices:2::", user_id=1004, message_id=first["message_id"])
    fake.wait_for_calls("editMessageText", edits + 1, timeout=10)
    (page2,) = [m for m in fake.messages_to(1004) if m["message_id"] == first["message_id"]]
    assert page2["plain_text"] == (
        "Good practices\n11 practices · page 2 of 3\n\n"
        + "\n\n".join(
            f"Extra practice {i}\nVilnius · Brokerage\n/practice extra-practice-{i}"
            for i in (3, 2, 1)
        )
        + "\n\nTram depot studios\nPlzeň · Smart Incentives\n/practice tram-depot"
        "\n\nCreative vouchers\nVilnius · Smart Incentives\n/practice vouchers"
    )
    assert page2["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "◀ Previous", "callback_data": "practices:1::"},
                {"text": "Next ▶", "callback_data": "practices:3::"},
            ]
        ]
    }
    answers = len(fake.callback_answers)
    fake.push_callback_query("practices:3:plzen:", user_id=1004, message_id=first["message_id"])
    fake.push_callback_query("something-else", user_id=1004, message_id=first["message_id"])
    fake.wait_for_calls("answerCallbackQuery", answers + 2, timeout=10)
    assert [a["text"] for a in fake.callback_answers[answers:]] == [
        None,
        "This button no longer works: send /practices again.",
    ]
    # A page past the end (practices were removed since) shows the last page.
    (latest,) = [m for m in fake.messages_to(1004) if m["message_id"] == first["message_id"]]
    assert latest["plain_text"].startswith("Good practices in Plzeň\n2 practices · page 1 of 1\n")


def test_subscriptions_from_the_chat(running: Running) -> None:
    assert (
        reply(running, "/subscriptions", 1005) == "This chat gets no digest. /subscribe starts one."
    )
    assert reply(running, "/subscribe monthly Plzeň brokerage", 1005) == (
        "Subscribed: a monthly digest in this chat of what is new in Plzeň on Brokerage. Language: English.\n"
        "/unsubscribe stops it at any time."
    )
    with running.store() as store:
        row = audience_q.get_subscriber(store, "telegram", "1005")
    assert row is not None
    assert (row["frequency"], row["cities"], row["themes"], row["status"]) == (
        "monthly",
        ["plzen"],
        ["brokerage"],
        "active",
    )
    assert reply(running, "/subscribe weekly monthly", 1005) == (
        "Choose weekly or monthly, not both.\nUsage: /subscribe [weekly|monthly] [city ...] "
        "[theme ...] — a digest in this chat, in its language"
    )
    assert reply(running, "/subscriptions", 1005) == (
        "This chat gets a monthly digest of what is new in Plzeň on Brokerage. Language: English.\n/unsubscribe stops it."
    )
    # Another frequency replaces the subscription, and the reply says so, both ways.
    assert reply(running, "/subscribe weekly Plzeň", 1005) == (
        "Subscribed: a weekly digest in this chat of what is new in Plzeň. Language: English.\n"
        "This replaces your monthly subscription: a chat has one digest.\n\n"
        "/unsubscribe stops it at any time."
    )
    assert reply(running, "/subscribe monthly", 1005).startswith(
        "Subscribed: a monthly digest in this chat of what is new. Language: English.\n"
        "This replaces your weekly subscription: a chat has one digest.\n"
    )
    # The same frequency again only changes the choices: nothing is replaced.
    assert "replaces" not in reply(running, "/subscribe monthly Plzeň brokerage", 1005)
    assert reply(running, "/unsubscribe", 1005) == (
        "Unsubscribed: this chat gets no more digests. /subscribe brings them back."
    )
    assert (
        reply(running, "/unsubscribe", 1005)
        == "This chat has no digest to stop. /subscribe starts one."
    )
    with running.store() as store:
        row = audience_q.get_subscriber(store, "telegram", "1005")
    assert row is not None and row["status"] == "unsubscribed"


def test_in_groups_only_commands_meant_for_this_bot_are_answered(running: Running) -> None:
    group = -4001
    assert reply(running, f"/help@{BOT_NAME} ", 1006, chat_id=group).startswith("What I can do\n")
    assert reply(running, f"/frobnicate@{BOT_NAME}", 1006, chat_id=group) == (
        "Sorry, I don't know /frobnicate. Send /help to see what I can do."
    )
    before = len(running.fake.messages_to(group))
    running.fake.push_message("/help@another_bot", user_id=1006, chat_id=group)
    running.fake.push_message("/frobnicate", user_id=1006, chat_id=group)
    running.fake.push_message("just chatting", user_id=1006, chat_id=group)
    # Updates are handled in order: once this is answered, the three above were ignored.
    assert reply(running, "/cities", 1006, chat_id=group).startswith("The partner cities\n")
    assert len(running.fake.messages_to(group)) == before + 1


def test_reaction_counts_are_stored_for_the_channel_post(running: Running) -> None:
    ids = {}
    with running.store() as store:
        for channel in ("telegram", "warsaw-telegram"):
            posts_q.insert_posts(
                store,
                [
                    {
                        "item_type": "practice",
                        "item_id": 2,
                        "item_ref": "vouchers",
                        "channel": channel,
                        "status": "queued",
                        "text": "Creative vouchers",
                        "not_before": "2026-11-23T12:00:00Z",
                    }
                ],
                NOW,
            )
            post_id = posts_q.list_posts(store, channel=channel, limit=10)[-1]["id"]
            sent = posts_q.change_post(
                store, post_id, ("queued",), NOW, status="sent", remote_id="7"
            )
            assert sent
            ids[channel] = post_id
    post_id = ids["telegram"]
    fake = running.fake
    assert "message_reaction_count" in fake.allowed_updates_seen[-1]
    fake.push_reaction_count(CHANNEL, 7, {"👍": 3, "🔥": 1})
    fake.push_reaction_count("@some_other_channel", 7, {"👍": 50})
    fake.push_reaction_count(CHANNEL, 999, {"👍": 50})
    fake.push_reaction_count(CHANNEL, 7, {"👍": 4, "🔥": 1, "custom:12": 2})
    reply(running, "/start", 1007)  # handled after the reactions: they are stored by now
    with running.store() as store:
        rows = store.rows("SELECT post_id, reactions FROM engagement ORDER BY id")
        latest = engagement_q.latest(store, post_id)
    assert rows == [{"post_id": post_id, "reactions": 4}, {"post_id": post_id, "reactions": 7}]
    assert latest is not None and latest["reactions"] == 7
    # The same message id in the bot's other chat is the other account's post.
    fake.push_reaction_count(WARSAW, 7, {"👍": 2})
    reply(running, "/start", 1007)
    with running.store() as store:
        warsaw = engagement_q.latest(store, ids["warsaw-telegram"])
        assert warsaw is not None and warsaw["reactions"] == 2
        assert engagement_q.latest(store, post_id)["reactions"] == 7  # type: ignore[index]


def test_each_use_is_logged_with_a_salted_hash_of_the_chat(running: Running) -> None:
    for text in ("/start", "/search design", "/queue", "/nope"):
        reply(running, text, 1008)
    with running.store() as store:
        rows = store.rows("SELECT command, chat_hash FROM bot_queries ORDER BY id")
        assert store.meta("bot_chat_salt") is None  # not in the store, so in no backup
    # A salt made on first use, beside the store and readable by its owner only.
    salt_file = running.config.store.path.with_name("telegram.db.salt")
    assert salt_file.stat().st_mode & 0o777 == 0o600
    salt = salt_file.read_text(encoding="ascii").strip()
    assert len(salt) == 64
    mine = [r["command"] for r in rows if r["chat_hash"] == chat_hash(salt, 1008)]
    assert mine == ["start", "search", "unknown", "unknown"]
    assert not any("1008" in r["chat_hash"] for r in rows)
    assert chat_hash(salt, 1008) != chat_hash("another salt", 1008)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from([c.name for c in COMMANDS]),
    args=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300),
    admin=st.booleans(),
)
def test_any_arguments_get_a_valid_reply_through_telegram(
    running: Running, command: str, args: str, admin: bool
) -> None:
    text = f"/{command} {args}"
    message = ask(running.fake, text, user_id=ADMIN if admin else 1009)
    assert is_valid_telegram_html(message["text"])
    assert len(message["plain_text"].encode("utf-16-le")) // 2 <= 4096


def test_a_flooding_chat_gets_its_share_then_silence_and_others_are_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flooder, victim = 3001, 3002
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        monkeypatch.setenv(TOKEN_ENV, fake.token)
        # Three at once, and then (in this test's time) no more.
        config = load_config(telegram_config(tmp_path, fake, chat_burst=3, chat_per_minute=0.01))
        with BotThread(config):
            for n in range(60):
                fake.push_message(f"/search flood {n}", user_id=flooder)
            answer = ask(fake, "/start", user_id=victim)["plain_text"]
            # Updates are handled in order: the flood is behind us when the victim is answered.
            flooded = [m["plain_text"] for m in fake.messages_to(flooder)]
        with Store(config.store.path) as store:
            logged = store.rows("SELECT command FROM bot_queries ORDER BY id")
    assert answer.startswith("Hello!")
    assert len(flooded) == 4
    assert flooded[3].startswith("You are sending more than I can answer")
    assert [r["command"] for r in logged] == ["search"] * 3 + ["start"]


def test_only_a_groups_administrators_change_its_subscription(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, member, admin, creator = -5001, 71, 72, 73
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        monkeypatch.setenv(TOKEN_ENV, fake.token)
        config = load_config(telegram_config(tmp_path, fake))
        fake.add_chat(group, type="supergroup", title="Partners")
        fake.set_member(group, admin, "administrator")
        fake.set_member(group, creator, "creator")
        with BotThread(config):

            def say(text: str, user: int) -> str:
                return str(ask(fake, text, user_id=user, chat_id=group)["plain_text"])

            refused = "Only this group's administrators can change its digest subscription."
            assert say("/subscribe monthly", member) == refused
            assert say("/subscribe monthly", admin).startswith("Subscribed: a monthly digest")
            assert say("/unsubscribe", member) == refused
            assert say("/subscriptions", member).startswith("This chat gets a monthly digest")
            assert say("/unsubscribe", creator).startswith("Unsubscribed")
        assert fake.calls["getChatMember"] == 4
        with Store(config.store.path) as store:
            row = audience_q.get_subscriber(store, "telegram", str(group))
    assert row is not None and row["status"] == "unsubscribed"


def test_new_subscriptions_are_paced(tmp_path: Path) -> None:
    from commsbot.bot.replies import Replies

    with FakeTelegram() as fake:
        config = load_config(telegram_config(tmp_path, fake, new_subscriptions_per_hour=2))
    with Store(config.store.path) as store:
        small_content(store)
        now = [NOW]
        replies = Replies(store, config, lambda: now[0])
        texts = [replies.answer("subscribe", "", chat, admin=False)[1].text for chat in "123"]
        assert texts[0].startswith("Subscribed") and texts[1].startswith("Subscribed")
        assert texts[2] == (
            "/subscribe: many chats subscribed in the last hour: please try again later."
        )
        # A chat already subscribed may change its choices; an hour later others may join.
        assert replies.answer("subscribe", "monthly", "1", admin=False)[1].text.startswith(
            "Subscribed: a <b>monthly</b>"
        )
        now[0] = NOW + timedelta(hours=1, seconds=1)
        assert replies.answer("subscribe", "", "3", admin=False)[1].text.startswith("Subscribed")


def test_a_subscribed_chat_changes_its_choices_whatever_the_account_is_named(
    tmp_path: Path,
) -> None:
    """The pacing counts new chats of the bot's own account: a chat subscribed to an
    account not named "telegram" is no new one when it changes its choices."""
    from commsbot.bot.replies import Replies

    with FakeTelegram() as fake:
        path = telegram_config(tmp_path, fake, new_subscriptions_per_hour=2)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "[channels.telegram]", '[channels.network-telegram]\nkind = "telegram"'
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    with Store(config.store.path) as store:
        small_content(store)
        replies = Replies(store, config, lambda: NOW)
        assert replies.account == "network-telegram"
        for chat in "12":
            assert replies.answer("subscribe", "", chat, admin=False)[1].text.startswith(
                "Subscribed"
            )
        changed = replies.answer("subscribe", "monthly", "1", admin=False)[1].text
        assert changed.startswith("Subscribed: a <b>monthly</b>"), changed


def test_the_salt_comes_from_a_file_named_in_the_config(tmp_path: Path) -> None:
    from commsbot.bot.app import chat_salt
    from commsbot.channels.telegram import TelegramSettings

    named = TelegramSettings(salt_file=tmp_path / "keys" / "bot.salt")
    (tmp_path / "keys").mkdir()
    first = chat_salt(named, tmp_path / "commsbot.db")
    assert first == chat_salt(named, tmp_path / "commsbot.db")  # made once, then read
    assert (tmp_path / "keys" / "bot.salt").read_text(encoding="ascii") == first + "\n"
    assert not (tmp_path / "commsbot.db.salt").exists()
    (tmp_path / "keys" / "bot.salt").write_text("short\n", encoding="ascii")
    with pytest.raises(ConfigError, match=r"channels.telegram.salt_file: .*bot.salt: a salt needs"):
        chat_salt(named, tmp_path / "commsbot.db")
    missing = TelegramSettings(salt_file=tmp_path / "none" / "bot.salt")
    with pytest.raises(ConfigError, match=r"none/bot.salt: cannot write a salt"):
        chat_salt(missing, tmp_path / "commsbot.db")


def test_the_migration_takes_the_salt_out_of_an_existing_store(tmp_path: Path) -> None:
    with Store(tmp_path / "old.db", upto=10) as store:
        store.conn.execute("INSERT INTO meta (key, value) VALUES ('bot_chat_salt', 'old')")
        audience_q.log_bot_query(store, "start", chat_hash("old", 5), NOW)
    with Store(tmp_path / "old.db") as store:
        assert store.meta("bot_chat_salt") is None
        # The old hashes stay (the usage figures keep them), unlinkable to new ones.
        assert store.scalar("SELECT chat_hash FROM bot_queries") == chat_hash("old", 5)


# -- starting and stopping -----------------------------------------------------------------


def test_salt_from_the_environment_and_start_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        monkeypatch.setenv(TOKEN_ENV, fake.token)
        monkeypatch.setenv("COMMSBOT_TEST_SALT", "pepper")
        config = load_config(telegram_config(tmp_path, fake, salt_env="COMMSBOT_TEST_SALT"))
        with BotThread(config):
            reply_text = ask(fake, "/start", user_id=55)["plain_text"]
        assert reply_text.startswith("Hello!")
        with Store(config.store.path) as store:
            assert store.rows("SELECT command, chat_hash FROM bot_queries") == [
                {"command": "start", "chat_hash": chat_hash("pepper", 55)}
            ]
            assert store.meta("bot_chat_salt") is None
        assert fake.allowed_updates_seen
        assert all(seen == list(ALLOWED_UPDATES) for seen in fake.allowed_updates_seen)
        assert [c["command"] for c in next(iter(fake.commands.values()))] == [
            c.name for c in COMMANDS if not c.admin
        ]

        monkeypatch.setenv(TOKEN_ENV, "999:WRONG-SECRET")
        with (
            pytest.raises(
                ChannelError, match=rf"^Telegram rejected the bot token in \${TOKEN_ENV}$"
            ),
            BotThread(config),
        ):
            pass
        monkeypatch.delenv(TOKEN_ENV)
        with (
            pytest.raises(ConfigError, match=f"names the environment variable {TOKEN_ENV}"),
            BotThread(config),
        ):
            pass


def test_a_reply_that_cannot_be_made_gets_an_apology(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine" / "bot"
    mine.mkdir(parents=True)
    (mine / "start.j2").write_text("<blink>Welcome</blink>", encoding="utf-8")
    (mine / "problem.j2").write_text("{{ no_such_thing }}", encoding="utf-8")
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        monkeypatch.setenv(TOKEN_ENV, fake.token)
        path = telegram_config(tmp_path, fake)
        with path.open("a", encoding="utf-8") as config_file:
            config_file.write('\n[service]\ntemplates = "mine"\n')
        with BotThread(load_config(path)):
            assert ask(fake, "/start", user_id=71)["plain_text"] == (
                "Sorry, that went wrong. Please try again later."
            )
            assert ask(fake, "/themes", user_id=71)["plain_text"] == "The themes"


def test_bot_command_runs_until_sigterm(tmp_path: Path) -> None:
    with FakeTelegram(max_poll_timeout=1.0) as fake:
        path = telegram_config(tmp_path, fake)
        with Store(load_config(path).store.path) as store:
            small_content(store)
        env = {**os.environ, TOKEN_ENV: fake.token}
        commsbot = str(Path(sys.executable).with_name("commsbot"))
        process = subprocess.Popen(
            [commsbot, "--verbose", "--config", str(path), "bot"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            logged: list[str] = []
            while not logged or "Ctrl-C" not in logged[-1]:  # bounded by pytest's timeout
                logged.append(process.stderr.readline())
                assert logged[-1], f"commsbot bot ended: {logged}"
            assert logged[-1] == f"bot @{BOT_NAME} is answering; Ctrl-C stops it\n"
            assert ask(fake, "/newsletter", user_id=66)["plain_text"].startswith("Newsletter #1")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            rest = process.stderr.read()
            assert rest.endswith("bot stopped\n")
            # Even --verbose logs never show the token (it is in every Bot API URL).
            assert fake.token not in "".join(logged) + rest
            assert "Polling Updates" in "".join(logged) + rest
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


def test_bot_command_needs_the_telegram_section(invoke: Any) -> None:
    result = invoke("bot")
    assert result.exit_code == 1
    assert "no channel 'telegram' is configured (configured: outbox)" in result.output


def test_announce_takes_a_translation_line_per_language(tmp_path: Path) -> None:
    """/announce's text, then `pl: …` lines (#19): an account posting only in Polish posts
    the Polish line; without one it is not among the accounts (missing_translation skip)."""
    with FakeTelegram(max_poll_timeout=1.0) as fake, pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, fake.token)
        path = telegram_config(tmp_path, fake)
        polish = (
            '\n[channels.polski]\nkind = "outbox"\nenabled = true\npath = "outbox-pl"\n'
            'languages = ["pl"]\nmissing_translation = "skip"\n'
        )
        path.write_text(path.read_text(encoding="utf-8") + polish, encoding="utf-8")
        config = load_config(path)
        with BotThread(config) as bot:
            running = Running(fake, config, bot)
            done = reply(
                running, "/announce The conference opens\nPl: Konferencja się otwiera", ADMIN
            )
            assert done.startswith("Announcement queued\n") and "on polski" in done
            alone = reply(running, "/announce Only in English", ADMIN)
            assert "on telegram" in alone and "polski" not in alone
            twice = reply(running, "/announce Hi\npl: Cześć\npl: Hej", ADMIN)
            assert twice.startswith("The text in pl is given twice.\nUsage: /announce")
            empty = reply(running, "/announce Hi\npl:", ADMIN)
            assert empty.startswith("Write the text in pl after “pl:”.")
            lines = reply(running, "/help", ADMIN)
            assert "a line per translation that starts with its language code" in lines
    with Store(config.store.path) as store:
        rows = store.rows("SELECT channel, text, payload FROM posts ORDER BY id")
    by_channel = {r["channel"]: r for r in rows[:2]}
    assert by_channel["polski"]["text"].startswith("Konferencja się otwiera")
    assert '"language": "pl"' in by_channel["polski"]["payload"]
    assert by_channel["telegram"]["text"].startswith("The conference opens")
    assert [r["channel"] for r in rows[2:]] == ["telegram"]
