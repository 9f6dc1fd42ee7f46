"""Tests of the fake Telegram Bot API server, driven by a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import html
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReactionTypeEmoji,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.support.telegram_api import FakeTelegram, parse_html

T = TypeVar("T")
CHANNEL = "@commsbot_news"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram(max_poll_timeout=2.0) as server:
        yield server


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run a coroutine with a hard upper bound, so no test can hang."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def make_bot(fake: FakeTelegram, token: str | None = None, **request_kwargs: Any) -> Bot:
    request = HTTPXRequest(**request_kwargs) if request_kwargs else None
    return Bot(
        token or fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=request,
    )


async def send(fake: FakeTelegram, chat_id: int | str, text: str) -> None:
    async with make_bot(fake) as bot:
        await bot.send_message(chat_id, text)


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the int form is deprecated
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ---- basics ---------------------------------------------------------------------------------


def test_get_me(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            me = await bot.get_me()
            assert me.username == "commsbot_test_bot"
            assert me.is_bot
            assert me.id == 123
            assert bot.username == "commsbot_test_bot"

    run(scenario())
    assert fake.calls["getMe"] >= 1


def test_urls_and_lifecycle() -> None:
    server = FakeTelegram(token="42:ABC")
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/bot"
        assert server.base_file_url == f"http://127.0.0.1:{server.port}/file/bot"
        with pytest.raises(RuntimeError):
            server.start()
    server.stop()  # idempotent


def test_send_message_html_is_parsed_and_recorded(fake: FakeTelegram) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Open", url="https://example.org")]])
    text = '<b>Alert</b> &amp; <a href="https://example.org/x">details</a> 😀 <i>now</i>'

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            message = await bot.send_message(CHANNEL, text, parse_mode="HTML", reply_markup=markup)
            assert message.text == "Alert & details 😀 now"
            assert message.chat.type == "channel"
            assert message.chat.id < -1_000_000_000_000
            assert message.chat.username == CHANNEL[1:]
            assert message.sender_chat is not None
            assert [(e.type, e.offset, e.length) for e in message.entities] == [
                ("bold", 0, 5),
                ("text_link", 8, 7),
                ("italic", 19, 3),  # the emoji counts as two UTF-16 units
            ]
            assert message.text_html == (
                '<b>Alert</b> &amp; <a href="https://example.org/x">details</a> 😀 <i>now</i>'
            )
            assert message.reply_markup == markup
            second = await bot.send_message(message.chat.id, "plain follow-up")
            assert second.message_id == message.message_id + 1

    run(scenario())
    sent = fake.messages_to(CHANNEL)
    assert [m["text"] for m in sent] == [text, "plain follow-up"]
    first = sent[0]
    assert first["method"] == "sendMessage"
    assert first["parse_mode"] == "HTML"
    assert first["plain_text"] == "Alert & details 😀 now"
    assert first["reply_markup"] == markup.to_dict()
    assert first["photo"] is False
    assert first["message_id"] == 1
    assert isinstance(first["date"], int)
    assert fake.messages_to(first["chat_id"]) == sent


def test_private_chat_ids_and_message_ids(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            a1 = await bot.send_message(7, "one")
            b1 = await bot.send_message(8, "uno")
            a2 = await bot.send_message("7", "two")
            assert (a1.message_id, a2.message_id, b1.message_id) == (1, 2, 1)
            assert a1.chat.type == "private"
            assert a1.from_user is not None and a1.from_user.is_bot

    run(scenario())
    assert [m["text"] for m in fake.messages_to(7)] == ["one", "two"]


@pytest.mark.parametrize(
    ("text", "parse_mode", "fragment"),
    [
        ("a" * 4097, None, "message is too long"),
        ("😀" * 2049, None, "message is too long"),  # 4098 UTF-16 code units
        ("", None, "message text is empty"),
        ("<b> </b>", "HTML", "message text is empty"),
        ("<foo>x</foo>", "HTML", 'unsupported start tag "foo" at byte offset 0'),
        ("<b>unclosed", "HTML", 'can\'t find end tag corresponding to start tag "b"'),
        ("a < b", "HTML", 'unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", "HTML", "unmatched end tag"),
        ('<span class="x">x</span>', "HTML", 'tag "span" must have class "tg-spoiler"'),
        ("x <b", "HTML", "unclosed start tag at byte offset 2"),
    ],
)
def test_send_message_validation(
    fake: FakeTelegram, text: str, parse_mode: str | None, fragment: str
) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            with pytest.raises(BadRequest) as caught:
                await bot.send_message(1, text, parse_mode=parse_mode)
            assert fragment in caught.value.message.lower()
            if parse_mode == "HTML" and "empty" not in fragment:
                assert "can't parse entities" in caught.value.message.lower()

    run(scenario())
    assert fake.sent == []


def test_limits_count_text_after_entity_parsing(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            await bot.send_message(1, "a" * 4096)
            await bot.send_message(1, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
            await bot.send_message(1, "a & b < c", parse_mode=None)
            # like Telegram, a bare '&' or an unknown entity is kept literally
            message = await bot.send_message(1, "R&D &copy; &lt;3", parse_mode="HTML")
            assert message.text == "R&D &copy; <3"

    run(scenario())
    assert len(fake.messages_to(1)) == 4


def test_caption_too_long(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
                await bot.send_photo(1, tiny_png(), caption="c" * 1025)
            await bot.send_photo(
                1, tiny_png(), caption="<i>" + "c" * 1024 + "</i>", parse_mode="HTML"
            )

    run(scenario())
    assert len(fake.messages_to(1)) == 1


# ---- fault injection ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
def test_429_becomes_retry_after(fake: FakeTelegram) -> None:
    fake.fail_next("sendmessage", 429, retry_after=7)

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(1, "hi")
            assert retry_after_seconds(caught.value) == 7
            await bot.send_message(1, "hi again")  # only the next call failed

    run(scenario())
    assert [m["text"] for m in fake.messages_to(1)] == ["hi again"]
    assert fake.calls["sendMessage"] == 2


def test_403_becomes_forbidden_for_count_calls(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 403, count=2)

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            for _ in range(2):
                with pytest.raises(Forbidden, match="bot was blocked by the user"):
                    await bot.send_message(1, "hi")
            await bot.send_message(1, "third time lucky")

    run(scenario())
    assert len(fake.messages_to(1)) == 1


def test_wrong_token_is_invalid_token(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        bot = make_bot(fake, token="999:WRONG")
        with pytest.raises(InvalidToken):
            await bot.initialize()  # calls getMe
        await bot.shutdown()

    run(scenario())


def test_raw_http_shapes(fake: FakeTelegram) -> None:
    with httpx.Client(timeout=5.0) as client:
        wrong = client.post(f"{fake.base_url}0:NOPE/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

        unknown = client.post(f"{fake.base_url}{fake.token}/sendTelepathy")
        assert unknown.status_code == 404
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}

        by_json = client.post(
            f"{fake.base_url}{fake.token}/SENDMESSAGE",
            json={"chat_id": 5, "text": "123", "reply_markup": {"inline_keyboard": []}},
        )
        assert by_json.status_code == 200
        body = by_json.json()
        assert body["ok"] is True
        assert body["result"]["text"] == "123"
        assert body["result"]["chat"] == {"id": 5, "type": "private", "first_name": "User5"}

        by_get = client.get(f"{fake.base_url}{fake.token}/getme")
        assert by_get.json()["result"]["username"] == "commsbot_test_bot"

    assert fake.calls["sendMessage"] == 1
    assert fake.calls["getMe"] == 2  # the wrong-token call is counted too
    assert fake.calls["sendTelepathy"] == 1


def test_drop_share_gives_network_error(fake: FakeTelegram) -> None:
    fake.drop_share("sendMessage", 1.0, seed=1)

    async def scenario() -> None:
        async with make_bot(fake, read_timeout=2.0) as bot:
            with pytest.raises(NetworkError):
                await bot.send_message(1, "lost")

    run(scenario())
    assert fake.sent == []
    assert fake.calls["sendMessage"] == 1


def test_drop_share_is_deterministic(fake: FakeTelegram) -> None:
    async def pattern() -> list[bool]:
        outcome: list[bool] = []
        async with make_bot(fake, read_timeout=2.0) as bot:
            for i in range(12):
                try:
                    await bot.send_message(1, f"m{i}")
                except NetworkError:
                    outcome.append(False)
                else:
                    outcome.append(True)
        return outcome

    fake.drop_share("sendMessage", 0.5, seed=7)
    first = run(pattern())
    fake.drop_share("sendMessage", 0.5, seed=7)
    second = run(pattern())
    assert first == second
    assert set(first) == {True, False}  # some sends dropped, some answered


def test_drop_after_processing_loses_only_the_answer(fake: FakeTelegram) -> None:
    fake.drop_share("sendMessage", 1.0, seed=0, after_processing=True)

    async def scenario() -> None:
        async with make_bot(fake, read_timeout=2.0) as bot:
            with pytest.raises(NetworkError):
                await bot.send_message(1, "delivered but unacknowledged")

    run(scenario())
    assert [m["text"] for m in fake.messages_to(1)] == ["delivered but unacknowledged"]


def test_delay_beyond_client_timeout_is_timed_out(fake: FakeTelegram) -> None:
    fake.set_delay("sendMessage", 1.0)

    async def scenario() -> None:
        async with make_bot(fake, read_timeout=0.2) as bot:
            started = time.monotonic()
            with pytest.raises(TimedOut):
                await bot.send_message(1, "slow")
            assert time.monotonic() - started < 0.9

    run(scenario())
    # Telegram still processes a request whose client gave up.
    assert [m["text"] for m in fake.wait_for_messages(1, 1, timeout=3.0)] == ["slow"]


@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
def test_rate_limit_answers_429(fake: FakeTelegram) -> None:
    fake.set_rate_limit(0.5, burst=2)

    async def scenario() -> list[str]:
        results: list[str] = []
        async with make_bot(fake) as bot:
            for i in range(5):
                try:
                    await bot.send_message(1, f"m{i}")
                except RetryAfter as exc:
                    assert retry_after_seconds(exc) == 1
                    results.append("429")
                else:
                    results.append("ok")
        return results

    assert run(scenario()) == ["ok", "ok", "429", "429", "429"]
    assert fake.rejected_429 == 3
    fake.set_rate_limit(None)
    run(send(fake, 1, "unlimited again"))


@pytest.mark.filterwarnings("ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning")
def test_ptb_rate_limiter_retries_after_429(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 429, retry_after=1)

    async def scenario() -> None:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .rate_limiter(AIORateLimiter(max_retries=1))
            .build()
        )
        async with app:
            await app.bot.send_message(1, "eventually")

    started = time.monotonic()
    run(scenario())
    assert time.monotonic() - started >= 1.0
    assert fake.calls["sendMessage"] == 2
    assert [m["text"] for m in fake.messages_to(1)] == ["eventually"]


# ---- photos and files --------------------------------------------------------------------------


def test_send_photo_bytes_multipart_and_download(fake: FakeTelegram) -> None:
    png = tiny_png(3, 2) + b"\r\n--not-a-boundary\r\n\x00\xff"

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            message = await bot.send_photo(
                CHANNEL, png, caption="<b>Chart</b>", parse_mode="HTML", filename="chart.png"
            )
            assert message.caption == "Chart"
            assert message.caption_entities[0].type == "bold"
            largest = message.photo[-1]
            assert (largest.width, largest.height) == (3, 2)
            tg_file = await bot.get_file(largest.file_id)
            assert tg_file.file_path is not None
            assert tg_file.file_path.startswith(fake.base_file_url)
            assert bytes(await tg_file.download_as_bytearray()) == png
            again = await bot.send_photo(CHANNEL, largest.file_id)  # re-send by file_id
            assert again.photo[-1].file_id == largest.file_id

    run(scenario())
    first, second = fake.messages_to(CHANNEL)
    assert first["method"] == "sendPhoto"
    assert first["photo"] is True
    assert first["caption"] == "<b>Chart</b>"
    assert first["text"] is None
    assert first["photo_data"] == png
    assert second["photo_ref"] is not None
    assert any(r["files"] == {"photo": "chart.png"} for r in fake.requests)


# ---- updates -------------------------------------------------------------------------------


def test_get_updates_long_poll_and_offset(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            assert await bot.get_updates(timeout=0) == ()
            timer = threading.Timer(0.3, fake.push_message, args=("hello",), kwargs={"user_id": 5})
            timer.start()
            started = time.monotonic()
            try:
                updates = await bot.get_updates(timeout=2)
            finally:
                timer.cancel()
            assert 0.2 < time.monotonic() - started < 1.8
            assert len(updates) == 1
            first = updates[0]
            assert first.message is not None
            assert first.message.text == "hello"
            assert first.message.chat.type == "private"
            assert first.effective_user is not None and first.effective_user.id == 5

            # not confirmed yet: delivered again
            assert [u.update_id for u in await bot.get_updates(timeout=0)] == [first.update_id]
            fake.push_message("/start now", user_id=5)
            fake.push_message("third", user_id=6)
            rest = await bot.get_updates(offset=first.update_id + 1, timeout=0, limit=1)
            assert [u.update_id for u in rest] == [first.update_id + 1]
            command = rest[0].message
            assert command is not None
            assert [(e.type, e.offset, e.length) for e in command.entities] == [
                ("bot_command", 0, 6)
            ]
            remaining = await bot.get_updates(offset=first.update_id + 1, timeout=0)
            assert [u.effective_message.text for u in remaining if u.effective_message] == [
                "/start now",
                "third",
            ]
            last = await bot.get_updates(offset=-1, timeout=0)
            assert [u.update_id for u in last] == [first.update_id + 2]

    run(scenario())
    assert fake.calls["getUpdates"] == 6


def test_timeout_without_updates_is_bounded(fake: FakeTelegram) -> None:
    fake.max_poll_timeout = 0.3

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            started = time.monotonic()
            assert await bot.get_updates(timeout=30) == ()
            assert time.monotonic() - started < 2.0

    run(scenario())


def test_concurrent_get_updates_conflict(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as first, make_bot(fake) as second:
            polling = asyncio.create_task(first.get_updates(timeout=2))
            await asyncio.to_thread(fake.wait_for_calls, "getUpdates", 1)
            await asyncio.sleep(0.1)
            competitor = asyncio.create_task(second.get_updates(timeout=2))
            with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                await polling
            fake.push_message("wake up")
            assert len(await competitor) == 1

    run(scenario())


def test_reaction_count_update(fake: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(fake) as bot:
            sent = await bot.send_message(CHANNEL, "vote")
            # Telegram's default allowed_updates excludes message_reaction_count
            fake.push_reaction_count(CHANNEL, sent.message_id, {"👍": 1})
            assert await bot.get_updates(timeout=0) == ()

            fake.push_reaction_count(CHANNEL, sent.message_id, {"👍": 3, "🔥": 1})
            updates = await bot.get_updates(
                timeout=1, allowed_updates=["message", "message_reaction_count"]
            )
            assert len(updates) == 1
            counts = updates[0].message_reaction_count
            assert counts is not None
            assert counts.chat.id == sent.chat.id
            assert counts.message_id == sent.message_id
            totals = {
                r.type.emoji: r.total_count
                for r in counts.reactions
                if isinstance(r.type, ReactionTypeEmoji)
            }
            assert totals == {"👍": 3, "🔥": 1}

    run(scenario())
    assert fake.allowed_updates_seen == [["message", "message_reaction_count"]]


def test_callback_query_answer_and_edits(fake: FakeTelegram) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ack", callback_data="ack:1")]])

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            sent = await bot.send_message(42, "Incident open", reply_markup=markup)
            fake.push_callback_query("ack:1", user_id=42, message_id=sent.message_id)
            (update,) = await bot.get_updates(timeout=1)
            query = update.callback_query
            assert query is not None
            assert query.data == "ack:1"
            assert query.message is not None
            assert query.message.message_id == sent.message_id
            assert await query.answer("Acknowledged")
            with pytest.raises(BadRequest, match=r"(?i)query is too old"):
                await query.answer("twice")

            edited = await bot.edit_message_text(
                "<b>Incident acked</b>",
                chat_id=42,
                message_id=sent.message_id,
                parse_mode="HTML",
                reply_markup=markup,
            )
            assert not isinstance(edited, bool)
            assert edited.text == "Incident acked"
            assert edited.edit_date is not None
            with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
                await bot.edit_message_text(
                    "<b>Incident acked</b>",
                    chat_id=42,
                    message_id=sent.message_id,
                    parse_mode="HTML",
                    reply_markup=markup,
                )
            cleared = await bot.edit_message_reply_markup(chat_id=42, message_id=sent.message_id)
            assert not isinstance(cleared, bool)
            assert cleared.reply_markup is None
            with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
                await bot.edit_message_text("x", chat_id=42, message_id=999)

    run(scenario())
    (record,) = fake.messages_to(42)
    assert record["text"] == "<b>Incident acked</b>"
    assert record["edited"] == 2
    assert record["reply_markup"] is None
    assert fake.callback_answers[0]["text"] == "Acknowledged"
    assert [e["method"] for e in fake.edits] == ["editMessageText", "editMessageReplyMarkup"]


def test_chat_info_and_commands(fake: FakeTelegram) -> None:
    fake.add_chat(CHANNEL, title="Comms News", member_count=250)

    async def scenario() -> None:
        async with make_bot(fake) as bot:
            info = await bot.get_chat(CHANNEL)
            assert info.type == "channel"
            assert info.title == "Comms News"
            assert await bot.get_chat_member_count(CHANNEL) == 250
            assert await bot.get_chat_member_count(info.id) == 250
            assert await bot.set_my_commands([("start", "Start"), ("status", "Status")])
            commands = await bot.get_my_commands()
            assert [c.command for c in commands] == ["start", "status"]
            with pytest.raises(BadRequest):
                await bot.set_my_commands([("Bad-Command", "nope")])
            assert await bot.delete_webhook(drop_pending_updates=True)
            assert await bot.log_out()
            assert await bot.close()

    run(scenario())
    assert fake.calls["setMyCommands"] == 2
    assert fake.calls["logOut"] == 1
    assert fake.calls["close"] == 1


def test_wait_for_messages_reports_what_arrived(fake: FakeTelegram) -> None:
    run(send(fake, 9, "only one"))
    with pytest.raises(AssertionError, match="only one"):
        fake.wait_for_messages(9, 2, timeout=0.2)


# ---- a whole Application ---------------------------------------------------------------------


def test_application_answers_start_command(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.effective_user is not None
        await update.message.reply_html(f"Hello <b>{update.effective_user.first_name}</b>!")

    async def scenario() -> None:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)
            .base_file_url(fake.base_file_url)
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        try:
            fake.push_message("/start", user_id=77, first_name="Bob")
            replies = await asyncio.to_thread(fake.wait_for_messages, 77, 1, 5.0)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
        assert replies[0]["text"] == "Hello <b>Bob</b>!"
        assert replies[0]["plain_text"] == "Hello Bob!"

    run(scenario())
    assert fake.calls["deleteWebhook"] >= 1
    assert fake.allowed_updates_seen and "message_reaction_count" in fake.allowed_updates_seen[0]
    assert fake.pending_updates == []  # the updater confirmed what it handled


def test_stop_ends_pending_long_poll_quickly() -> None:
    server = FakeTelegram(max_poll_timeout=30.0).start()
    try:

        async def scenario() -> None:
            async with make_bot(server) as bot:
                polling = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
                await asyncio.to_thread(server.wait_for_calls, "getUpdates", 1)
                await asyncio.sleep(0.1)
                started = time.monotonic()
                await asyncio.to_thread(server.stop)
                assert time.monotonic() - started < 2.0
                with contextlib.suppress(NetworkError):
                    await polling

        run(scenario())
    finally:
        server.stop()


# ---- the HTML parser on its own ------------------------------------------------------------------


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=200))
def test_escaped_text_round_trips(text: str) -> None:
    plain, entities = parse_html(html.escape(text, quote=False))
    assert plain == text
    assert entities == []
