"""The telegram channel: real python-telegram-bot against FakeTelegram over loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from commsbot.channels.base import DirectMessage, Outcome, Rendered
from commsbot.channels.telegram import TelegramChannel, TelegramSettings
from commsbot.config import Config, load_config
from commsbot.errors import ChannelError, ConfigError
from commsbot.posting import select
from commsbot.service.runs import run_once
from commsbot.store import Store, iso
from commsbot.store import posts as posts_q
from commsbot.text import is_valid_telegram_html
from tests.support.base import NOW
from tests.support.telegram import CHANNEL, TOKEN_ENV, small_content, telegram_config
from tests.support.telegram_api import FakeTelegram

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    with FakeTelegram(max_poll_timeout=1.0) as server:
        monkeypatch.setenv(TOKEN_ENV, server.token)
        yield server


@pytest.fixture
def tg_config(tmp_path: Path, fake: FakeTelegram) -> Config:
    config = load_config(telegram_config(tmp_path, fake))
    with Store(config.store.path) as store:
        small_content(store)
    return config


def posts(config: Config) -> list[dict[str, Any]]:
    with Store(config.store.path) as store:
        return posts_q.list_posts(store, limit=100)


def settings(fake: FakeTelegram, **overrides: Any) -> TelegramSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "bot_token_env": TOKEN_ENV,
        "chat_id": CHANNEL,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "posts_per_minute": 1800.0,
        "part_interval": 0.05,
        **overrides,
    }
    return TelegramSettings(**values)


def rendered(text: str, post_id: int = 1, **extra: Any) -> Rendered:
    return Rendered(post_id, "telegram", "practice", "x", text, f"key-{post_id}", **extra)


async def with_channel(fake: FakeTelegram, scenario: Any, **overrides: Any) -> Any:
    channel = TelegramChannel(settings(fake, **overrides))
    await channel.open()
    try:
        return await scenario(channel)
    finally:
        await channel.close()


# -- posting through the pipeline --------------------------------------------------------


def test_run_once_posts_every_item_to_the_channel_escaped(
    tg_config: Config, fake: FakeTelegram, invoke: Any
) -> None:
    result = invoke("run", "--once", "--json", "--config", str(tg_config.file))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["channels"] == [
        {"channel": "telegram", "new": 5, "posted": 5, "retrying": 0, "failed": 0, "unknown": 0}
    ]
    sent = fake.messages_to(CHANNEL)
    assert [m["method"] for m in sent] == ["sendMessage"] * 5
    assert all(m["parse_mode"] == "HTML" and is_valid_telegram_html(m["text"]) for m in sent)
    # What a reader sees keeps the literal characters; the link is the last line.
    assert sent[0]["plain_text"] == (
        "The <co>lab & friends\nPlzeň · Brokerage\n\nDesigners & engineers meet at <co>lab."
        "\n\n#Brokerage #CoWorking\n\nhttps://example.org/co-lab?a=1&b=2"
    )
    assert sent[0]["text"].startswith("<b>The &lt;co&gt;lab &amp; friends</b>\n")
    assert sent[3]["plain_text"] == (
        "Policy clinic · Vilnius\n\nMar 1, 2013 to Mar 2, 2013 · 40+ participants\n\n"
        "Cities compared voucher schemes.\n\n#CrossInnovation\n\nhttps://example.org/clinic"
    )
    rows = posts(tg_config)
    assert [(r["status"], r["remote_id"]) for r in rows] == [("sent", str(i)) for i in range(1, 6)]
    assert rows[0]["remote_url"] == f"https://t.me/{CHANNEL[1:]}/1"
    # A second run posts nothing again.
    assert invoke("run", "--once", "--config", str(tg_config.file)).exit_code == 0
    assert len(fake.messages_to(CHANNEL)) == 5


def test_the_token_never_reaches_a_log(
    tg_config: Config, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(tg_config.store.path) as store, caplog.at_level(logging.DEBUG):
        run(run_once(store, tg_config, clock=lambda: NOW))
    names = {r.name for r in caplog.records}
    assert "commsbot.dispatch" in names  # logs were on while it posted
    assert [r.getMessage() for r in caplog.records if fake.token in r.getMessage()] == []


@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
def test_429_pauses_the_channel_for_the_time_telegram_gives(
    tg_config: Config, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("sendMessage", 429, retry_after=30)
    with Store(tg_config.store.path) as store, caplog.at_level(logging.INFO):
        summary, _ = run(run_once(store, tg_config, clock=lambda: NOW))
    # Handled, so not reported as an error with a traceback.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert (summary.outcomes["telegram"]["retrying"], summary.outcomes["telegram"]["sent"]) == (
        1,
        0,
    )
    first, *rest = posts(tg_config)
    assert (first["status"], first["next_attempt_at"]) == (
        "queued",
        iso(NOW + timedelta(seconds=30)),
    )
    assert first["last_error"] == "Telegram flood control: retry after 30 s"
    assert [r["status"] for r in rest] == ["queued"] * 4
    assert fake.calls["sendMessage"] == 1  # nothing else was tried during the pause

    later = NOW + timedelta(seconds=31)
    with Store(tg_config.store.path) as store:
        summary, _ = run(run_once(store, tg_config, clock=lambda: later))
    assert summary.outcomes["telegram"]["sent"] == 5
    assert [r["status"] for r in posts(tg_config)] == ["sent"] * 5
    assert fake.messages_to(CHANNEL)[0]["plain_text"].startswith("The <co>lab & friends")


def test_403_stops_the_channel_with_telegrams_message_and_the_post_waits_for_it(
    tg_config: Config, fake: FakeTelegram
) -> None:
    # The bot lost its right to post: not this post's fault, so it is not failed but
    # waits, with the rest, for the channel to be cleared.
    fake.fail_next("sendMessage", 403, "Forbidden: bot is not a member of the channel chat")
    with Store(tg_config.store.path) as store:
        summary, _ = run(run_once(store, tg_config, clock=lambda: NOW))
        blocked = select.channel_blocked(store, "telegram", NOW)
    assert (summary.outcomes["telegram"]["failed"], summary.outcomes["telegram"]["sent"]) == (0, 0)
    first, *rest = posts(tg_config)
    assert (first["status"], first["attempts"]) == ("queued", 0)
    assert first["last_error"] == "Telegram: Forbidden: bot is not a member of the channel chat"
    assert [r["status"] for r in rest] == ["queued"] * 4
    assert blocked is not None and "bot is not a member" in blocked
    assert fake.calls["sendMessage"] == 1


def test_timeout_is_unknown_and_never_resent(tmp_path: Path, fake: FakeTelegram) -> None:
    config = load_config(telegram_config(tmp_path, fake, read_timeout=0.2))
    with Store(config.store.path) as store:
        small_content(store)
        store.conn.execute("UPDATE practices SET status = 'draft' WHERE slug != 'co-lab'")
    fake.set_delay("sendMessage", 0.6)
    with Store(config.store.path) as store:
        summary, _ = run(run_once(store, config, clock=lambda: NOW))
    assert summary.outcomes["telegram"]["unknown"] == 3
    rows = posts(config)
    assert {r["status"] for r in rows} == {"unknown"}
    assert rows[0]["last_error"].startswith("no answer from Telegram (Timed out);")
    # Telegram did publish them: a blind retry would have doubled each one.
    assert len(fake.wait_for_messages(CHANNEL, 3, timeout=5)) == 3
    fake.set_delay("sendMessage", None)
    with Store(config.store.path) as store:
        run(run_once(store, config, clock=lambda: NOW + timedelta(hours=1)))
    assert fake.calls["sendMessage"] == 3
    assert {r["status"] for r in posts(config)} == {"unknown"}


def test_connection_dropped_after_sending_is_unknown(fake: FakeTelegram) -> None:
    fake.drop_share("sendMessage", 1.0, after_processing=True)

    async def scenario(channel: TelegramChannel) -> Any:
        return await channel.send(rendered("<b>hello</b>"))

    delivery = run(with_channel(fake, scenario))
    assert delivery.outcome is Outcome.UNKNOWN
    assert "it may have been delivered" in (delivery.error or "")
    assert [m["plain_text"] for m in fake.messages_to(CHANNEL)] == ["hello"]


def test_unreachable_server_and_server_errors_are_retried(fake: FakeTelegram) -> None:
    async def scenario(channel: TelegramChannel) -> list[Any]:
        fake.fail_next("sendMessage", 500, "Internal Server Error")
        answered = await channel.send(rendered("one"))
        fake.stop()
        refused = await channel.send(rendered("two", 2))
        return [answered, refused]

    answered, refused = run(with_channel(fake, scenario))
    assert (answered.outcome, answered.error) == (
        Outcome.RETRY_LATER,
        "Telegram: Internal Server Error",
    )
    assert refused.outcome is Outcome.RETRY_LATER
    assert refused.error is not None and refused.error.startswith("cannot reach Telegram:")


@pytest.mark.parametrize("mode", ["silent", "slow-headers", "slow-body"])
def test_a_send_ends_at_the_total_time_whatever_the_server_does(
    fake: FakeTelegram, mode: str
) -> None:
    """A Bot API server trickling its answer a byte every 2 s gets past read_timeout, not
    past total_timeout (#13); Telegram may have the message, so it is unknown."""
    from tests.support.mastodon import MisbehavingProxy

    bad = MisbehavingProxy(fake.port, lambda m, p: p.endswith("/sendMessage"), mode, 2.0)
    bad.start()
    try:

        async def scenario(channel: TelegramChannel) -> tuple[Any, float]:
            started = time.monotonic()
            delivery = await channel.send(rendered("<b>hello</b>"))
            return delivery, time.monotonic() - started

        delivery, took = asyncio.run(
            with_channel(
                fake, scenario, base_url=f"{bad.base_url}/bot", read_timeout=30, total_timeout=3
            )
        )
    finally:
        bad.stop()
    assert delivery.outcome is Outcome.UNKNOWN
    assert (delivery.error or "").startswith(
        "no complete answer from Telegram within 3 s (see channels.telegram.total_timeout)"
    )
    assert took < 25, f"took {took:.1f} s"


# -- what a post becomes --------------------------------------------------------------


def test_image_with_a_short_caption_is_a_photo_else_a_text(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)

    async def scenario(channel: TelegramChannel) -> list[Any]:
        return [
            await channel.send(
                rendered("<b>Short</b> caption", 1, image="https://example.org/a.jpg")
            ),
            await channel.send(rendered("x" * 1025, 2, image="https://example.org/a.jpg")),
            await channel.send(rendered("From a file", 3, image=str(picture))),
            await channel.send(rendered("Missing", 4, image=str(tmp_path / "gone.png"))),
        ]

    by_url, too_long, from_file, missing = run(with_channel(fake, scenario))
    assert [d.outcome for d in (by_url, too_long, from_file)] == [Outcome.SENT] * 3
    assert (missing.outcome, missing.error) == (
        Outcome.FAILED,
        f"image {tmp_path / 'gone.png'}: No such file or directory",
    )
    sent = fake.messages_to(CHANNEL)
    assert [(m["method"], m["caption"] or m["text"]) for m in sent] == [
        ("sendPhoto", "<b>Short</b> caption"),
        ("sendMessage", "x" * 1025),
        ("sendPhoto", "From a file"),
    ]
    assert sent[0]["photo_ref"] == "https://example.org/a.jpg"
    assert sent[2]["photo_data"] == picture.read_bytes()


def test_text_that_is_not_telegram_html_is_refused_before_sending(fake: FakeTelegram) -> None:
    async def scenario(channel: TelegramChannel) -> Any:
        return await channel.send(rendered("plain template: a < b & c"))

    delivery = run(with_channel(fake, scenario))
    assert delivery.outcome is Outcome.FAILED
    assert (delivery.error or "").startswith("the text is not valid Telegram HTML")
    assert fake.calls["sendMessage"] == 0


def test_length_counts_visible_text_in_utf16_units() -> None:
    channel = TelegramChannel(TelegramSettings())
    assert channel.length('<b>R&amp;D</b> <a href="https://x.org/?a=1&amp;b=2">😀</a>') == 6
    assert channel.limit() == 4096
    assert channel.rate_per_second == pytest.approx(20 / 60)
    assert TelegramChannel(TelegramSettings(posts_per_minute=6)).rate_per_second == 0.1


def test_a_long_practice_is_cut_to_telegrams_limit(tg_config: Config, fake: FakeTelegram) -> None:
    with Store(tg_config.store.path) as store:
        store.conn.execute(
            "UPDATE practices SET summary = ? WHERE slug = 'co-lab'", ("Emoji 😀 & more. " * 400,)
        )
        summary, _ = run(run_once(store, tg_config, clock=lambda: NOW))
    assert summary.outcomes["telegram"]["sent"] == 5
    first = fake.messages_to(CHANNEL)[0]
    assert len(first["plain_text"].encode("utf-16-le")) // 2 <= 4096
    assert first["plain_text"].endswith("…\n\nhttps://example.org/co-lab?a=1&b=2")


# -- messages to one chat (digests) ------------------------------------------------------


def test_send_direct_html_split_and_blocked(fake: FakeTelegram) -> None:
    fake.add_chat(77, type="private")
    long_text = "\n\n".join(f"Item {i}: " + "word " * 60 for i in range(30))

    async def scenario(channel: TelegramChannel) -> list[Any]:
        html = await channel.send_direct(
            DirectMessage(10, "77", "Hi & bye", html="<b>Hi</b> &amp; bye")
        )
        split = await channel.send_direct(DirectMessage(11, "77", long_text))
        fake.fail_next("sendMessage", 403)
        blocked = await channel.send_direct(DirectMessage(12, "78", "hello"))
        return [html, split, blocked]

    html, split, blocked = run(with_channel(fake, scenario))
    assert (html.post_id, html.outcome, html.remote_id) == (10, Outcome.SENT, "1")
    assert split.outcome is Outcome.SENT
    texts = [m["text"] for m in fake.messages_to(77)]
    assert texts[0] == "<b>Hi</b> &amp; bye"
    assert len(texts) == 1 + 3
    assert " ".join(" ".join(texts[1:]).split()) == " ".join(long_text.split())
    assert all(len(t) <= 4096 for t in texts[1:])
    # The parts to one chat are spaced by part_interval.
    times = [r["time"] for r in fake.requests if r["method"] == "sendMessage"][1:4]
    assert all(later - earlier >= 0.05 for earlier, later in itertools.pairwise(times))
    assert (blocked.post_id, blocked.outcome) == (12, Outcome.BOUNCED)
    assert blocked.error == "Telegram: Forbidden: bot was blocked by the user"


@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
def test_send_direct_failing_after_the_first_part_is_unknown(fake: FakeTelegram) -> None:
    async def scenario(channel: TelegramChannel) -> Any:
        fake.fail_next("sendMessage", 429, retry_after=5)
        nothing_sent = await channel.send_direct(DirectMessage(6, "79", "word " * 2000))
        fake.set_rate_limit(0.001, burst=1)  # the first part passes, the second hits the limit
        partial = await channel.send_direct(DirectMessage(7, "79", "word " * 2000))
        return nothing_sent, partial

    nothing_sent, partial = run(with_channel(fake, scenario))
    assert (nothing_sent.outcome, nothing_sent.retry_after) == (Outcome.RETRY_AFTER, 5.0)
    assert (partial.outcome, partial.remote_id) == (Outcome.UNKNOWN, "1")
    # 2000 words need three parts: the first went out, the second did not.
    assert partial.error == "part 2 of 3 not sent: Telegram flood control: retry after 1 s"
    assert len(fake.messages_to(79)) == 1


# -- opening -------------------------------------------------------------------------


def test_open_reports_what_is_missing_without_the_token(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def opened(**overrides: Any) -> str:
        channel = TelegramChannel(settings(fake, **overrides))
        with pytest.raises(ChannelError) as caught:
            await channel.open()
        return str(caught.value)

    assert (
        run(opened(chat_id=""))
        == "channels.telegram.chat_id is not set: the channel or group to post to"
    )
    monkeypatch.setenv(TOKEN_ENV, "999:WRONG-SECRET")
    message = run(opened())
    assert message == f"Telegram rejected the bot token in ${TOKEN_ENV}"
    monkeypatch.delenv(TOKEN_ENV)
    assert run(opened()) == (
        f"channels.telegram.bot_token_env names the environment variable {TOKEN_ENV}, "
        "which is not set"
    )


def test_run_once_leaves_out_a_channel_with_a_bad_token(
    tmp_path: Path, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch, invoke: Any
) -> None:
    path = telegram_config(tmp_path, fake, outbox=True)
    with Store(load_config(path).store.path) as store:
        small_content(store)
    monkeypatch.setenv(TOKEN_ENV, "999:WRONG-SECRET")
    result = invoke("run", "--once", "--config", str(path))
    assert result.exit_code == 1  # a channel left out needs attention (#20)
    assert f"problem: telegram: Telegram rejected the bot token in ${TOKEN_ENV}" in result.output
    assert "WRONG-SECRET" not in result.output
    assert len(list((tmp_path / "outbox").glob("*.txt"))) == 5


def test_config_keys_are_typed(tmp_path: Path, fake: FakeTelegram) -> None:
    config = load_config(telegram_config(tmp_path, fake, admins=[1, 2], salt_env="SALT"))
    telegram = config.channel("telegram")
    assert isinstance(telegram, TelegramSettings)
    assert (telegram.admins, telegram.salt_env, telegram.chat_id) == ((1, 2), "SALT", CHANNEL)
    path = tmp_path / "numeric.toml"
    # An integer, as Telegram shows a channel's id (#13).
    path.write_text("[channels.telegram]\nchat_id = -1001234\n", encoding="utf-8")
    assert load_config(path).channel("telegram").chat_id == -1001234  # type: ignore[attr-defined]
    path.write_text("[channels.telegram]\nchat_id = true\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"channels\.telegram\.chat_id: must be a string or an integer, not a boolean",
    ):
        load_config(path)


def test_every_sample_item_renders_valid_telegram_html(sample_store: Store, config: Config) -> None:
    from commsbot.content.places import Places
    from commsbot.posting.pipeline import render_item
    from commsbot.render import Renderer
    from commsbot.store import content as content_q

    channel = TelegramChannel(TelegramSettings())
    renderer, lookup = Renderer(None), Places.load(sample_store)
    rendered_items = 0
    for item_type in ("practice", "event", "newsletter"):
        for item in content_q.list_items(sample_store, item_type):
            out = render_item(renderer, lookup, channel, item_type, item)
            assert is_valid_telegram_html(out.text), out.text
            assert not out.truncated
            rendered_items += 1
    assert rendered_items == 44 + 12 + 2
    announcement = renderer.render(
        channel, "announcement", {"text": "Meet in Plzeň <soon> & bring R&D"}, link=None, what="x"
    )
    assert announcement.text == "Meet in Plzeň &lt;soon&gt; &amp; bring R&amp;D"
    news = {
        "slug": "n1",
        # As the store holds a feed's news: clean text, decoded once at ingest (#14).
        "title": "Big news & <co>",
        "summary": "First second <3",
        "link": "https://example.org/n1?a=1&b=2",
    }
    out = render_item(renderer, lookup, channel, "news", news)
    assert out.text == (
        "<b>Big news &amp; &lt;co&gt;</b>\n\nFirst second &lt;3\n\n"
        "https://example.org/n1?a=1&amp;b=2"
    )


def test_describe_names_the_bot_and_the_chat(fake: FakeTelegram) -> None:
    fake.add_chat(CHANNEL, title="Cross-Innovation News", member_count=250)

    async def scenario(channel: TelegramChannel) -> dict[str, str]:
        return await channel.describe()

    info = run(with_channel(fake, scenario))
    chat_id = fake.chat_id_for(CHANNEL)
    assert info == {
        "bot": "@commsbot_test_bot",
        "chat": f"Cross-Innovation News (channel, id {chat_id})",
        "members": "250",
        "limit": "4096 characters, 1024 as an image caption (UTF-16 units)",
        "posting": "at most 1800 posts a minute, HTML",
    }
    fake.fail_next("getChat", 400, "Bad Request: chat not found")
    with pytest.raises(
        ChannelError,
        match=r"^Telegram about channels\.telegram\.chat_id '@cross_innovation_news': Chat not found$",
    ):
        run(with_channel(fake, scenario))
