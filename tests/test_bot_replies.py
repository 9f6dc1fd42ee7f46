"""The bot's answers without the network: any arguments, any content, a valid reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commsbot.bot.replies import COMMANDS, Replies, page_data, parse_page_data
from commsbot.config import Config, load_config
from commsbot.content.items import load_sample
from commsbot.store import Store
from commsbot.store import answers as answers_q
from commsbot.store import content as content_q
from commsbot.store import posts as posts_q
from commsbot.text import is_valid_telegram_html, slugify, telegram_length
from tests.support.base import NOW

CONFIG = """
[store]
path = "replies.db"

[channels.outbox]
enabled = true
path = "outbox"

[channels.telegram]
chat_id = "@news"
enabled = true
"""


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Config]]:
    folder = tmp_path_factory.mktemp("replies")
    (folder / "commsbot.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "commsbot.toml")
    with Store(config.store.path) as store:
        load_sample(store, NOW)
        yield store, config


def check(text: str) -> None:
    assert is_valid_telegram_html(text), text
    assert telegram_length(text) <= 4096


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.one_of(st.sampled_from([c.name for c in COMMANDS]), st.text(max_size=40)),
    args=st.one_of(
        st.text(max_size=500),
        st.lists(
            st.sampled_from(
                ["plzen", "Plzeň", "smart", "incentives", "brokerage", "weekly", "past", "1", "*"]
            ),
            max_size=6,
        ).map(" ".join),
    ),
    admin=st.booleans(),
)
def test_any_command_and_arguments_get_a_valid_reply(
    sample: tuple[Store, Config], command: str, args: str, admin: bool
) -> None:
    store, config = sample
    logged, reply = Replies(store, config, lambda: NOW).answer(command, args, "42", admin=admin)
    assert logged in {c.name for c in COMMANDS} | {"unknown"}
    check(reply.text)
    assert all(len(b.data.encode()) <= 64 for b in reply.buttons)


def test_a_huge_practice_is_cut_to_fit(sample: tuple[Store, Config]) -> None:
    store, config = sample
    store.conn.execute(
        "UPDATE practices SET summary = ?, body = ?, tags = ? WHERE slug = 'plzen-creative-voucher'",
        ("👨‍👩‍👧‍👦 & <co> " * 3000, "🇨🇿 " * 5000, '["' + "x" * 5000 + '"]'),
    )
    _, reply = Replies(store, config, lambda: NOW).answer(
        "practice", "plzen-creative-voucher", "42", admin=False
    )
    check(reply.text)
    assert reply.text.endswith("…")


def test_announce_says_what_became_of_each_post(sample: tuple[Store, Config]) -> None:
    store, config = sample
    replies = Replies(store, config, lambda: NOW)
    _, reply = replies.answer("announce", "Vote for the next meeting city", "1", admin=True)
    latest = store.scalar("SELECT max(id) FROM announcements")
    first, second = posts_q.posts_for_item(store, "announcement", latest)
    assert (first["channel"], second["channel"]) == ("outbox", "telegram")
    assert reply.text == (
        "<b>Announcement queued</b>\n"
        f"Post {first['id']} on outbox: goes out from 2026-11-23 13:00 CET\n"
        f"Post {second['id']} on telegram: goes out from 2026-11-23 13:00 CET"
    )
    posts_q.change_post(store, second["id"], ("queued",), NOW, status="pending_approval")
    _, reply = replies.answer("approve", str(second["id"]), "1", admin=True)
    assert reply.text == (
        f"Post {second['id']} approved: it goes out on telegram from 2026-11-23 13:00 CET."
    )


def test_places_match_names_of_several_words(sample: tuple[Store, Config]) -> None:
    store, config = sample
    places = Replies(store, config, lambda: NOW).places()
    assert places.parse(["Warszawa", "spatial", "cross", "collaboration", "LISBOA", "x"]) == (
        ["warsaw", "lisbon"],
        ["spatial-cross-collaboration"],
        ["x"],
    )


def test_page_buttons_carry_their_filters_or_none() -> None:
    assert page_data("plzen", None, 3) == "practices:3:plzen:"
    assert parse_page_data("practices:3:plzen:") == ("plzen", None, 3)
    assert page_data("a" * 40, "b" * 20, 2) is None
    assert parse_page_data("practices:x::") is None
    assert parse_page_data("other:1::") is None


@pytest.mark.parametrize(
    "words", ["creative", "design", "Plzeň", "city innovation", "DESIGN games"]
)
def test_search_puts_title_matches_first_then_newest(
    sample: tuple[Store, Config], words: str
) -> None:
    store = sample[0]
    found = answers_q.search_practices(store, words, 10)
    assert found
    wanted = {slugify(w) for w in words.split()}
    flags = [wanted <= set(slugify(r["title"]).split("-")) for r in found]
    assert flags == sorted(flags, reverse=True)
    for group in (True, False):
        ids = [r["id"] for r, flag in zip(found, flags, strict=True) if flag is group]
        assert ids == sorted(ids, reverse=True)
    assert len(found) == min(10, len(content_q.search_practices(store, words, 100)))


def test_a_template_that_renders_invalid_html_is_reported(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "start.j2").write_text("<blink>Welcome</blink>", encoding="utf-8")
    (tmp_path / "c.toml").write_text(
        '[store]\npath = "c.db"\n[service]\ntemplates = "."\n', encoding="utf-8"
    )
    config = load_config(tmp_path / "c.toml")
    with Store(config.store.path) as store:
        logged, reply = Replies(store, config, lambda: NOW).answer("start", "", "1", admin=False)
    assert (logged, reply.text) == (
        "start",
        "/start: template bot/start.j2 does not render valid Telegram HTML",
    )


# Forged button data and admin arguments (#13): each gets the reply a wrong button or a
# wrong id gets, never an exception. '²' and '٣' pass str.isdigit(); 30 digits overflow SQLite.
FORGED_BUTTONS = [
    "practices:9999999999999999999::",
    "practices:²::",
    "practices:٣::",
    "practices:-1::",
    "practices:" + "9" * 5000 + "::",
]


@pytest.mark.parametrize("data", FORGED_BUTTONS)
def test_forged_button_data_is_a_button_that_no_longer_works(
    sample: tuple[Store, Config], data: str
) -> None:
    store, config = sample
    assert Replies(store, config, lambda: NOW).page(data) is None


def test_the_largest_page_a_button_may_name_shows_the_last_page(
    sample: tuple[Store, Config],
) -> None:
    store, config = sample
    reply = Replies(store, config, lambda: NOW).page(f"practices:{2**63 - 1}::")
    assert reply is not None and "page 9 of 9" in reply.text


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("approve", "²", "Usage: <code>/approve"),
        ("cancel", "٣", "Usage: <code>/cancel"),
        ("approve", "9" * 30, f"no post with id {'9' * 30}"),
        ("cancel", str(2**63), f"no post with id {2**63}"),
        ("approve", "-5", "Usage: <code>/approve"),
        ("search", "a\x00b", "Nothing mentions “a b”"),
        ("search", "\x00", "Usage: <code>/search"),
        ("practice", "\x00\x1b", "Usage: <code>/practice"),
    ],
)
def test_forged_arguments_get_the_usage_or_not_found_reply(
    sample: tuple[Store, Config], command: str, args: str, expected: str
) -> None:
    store, config = sample
    logged, reply = Replies(store, config, lambda: NOW).answer(command, args, "7", admin=True)
    assert logged == command
    assert expected in reply.text
    check(reply.text)
