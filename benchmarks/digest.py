"""Digest fan-out: 2,000 e-mail subscribers through aiosmtpd and 5,000 Telegram subscribers
through FakeTelegram limited to 1,000 messages/s.

Each server runs in a process of its own (its own core and GIL, as a real server would).
Printed, measured in one run:

- e-mail, week 47 paced at 100 messages/s: wall time against the pace floor (2,000 / 100);
  week 48 unpaced: what this machine can do; SMTP connections the server saw (target:
  one per run, reused for every message); duplicates; a bare smtplib loop sending the
  same number of prepared messages over one connection (the server's floor);
- Telegram, 5,000 subscribers: wall time against the rate floor (5,000 / 1,000 per
  second; target within 10 %), 429 answers and duplicates (target 0 each); a bare
  python-telegram-bot loop at the same pace and number of sends in flight (what the
  client library manages on this machine); and 1,000 subscribers paced at 100 messages/s,
  a rate this machine keeps up with, against that floor.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import smtplib
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test servers live under tests/

EMAILS = 2_000
EMAIL_PACE = 100.0
CHATS = 5_000
RATE = 1_000.0
TOKEN_ENV = "COMMSBOT_BENCH_TELEGRAM_TOKEN"
SLOW_RATE, SLOW_CHATS = 100.0, 1_000
BARE_CHATS = 1_000
IN_FLIGHT = 8  # as many as the telegram channel keeps in flight (its concurrency)
CITIES = ["plzen", "vilnius", "tallinn", "birmingham", "amsterdam", "berlin"]
THEMES = ["brokerage", "smart-incentives", "culture-based-innovation"]
AFTER = {  # when each digest goes out: the Tuesday after its week
    "2026-W47": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    "2026-W48": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
}


# -- servers in their own processes -------------------------------------------------------


def smtp_child(conn: Connection) -> None:
    from tests.support.digest import smtp_server

    with smtp_server() as server:
        conn.send(server.port)
        while conn.recv() != "stop":
            got = server.recorder.messages
            per_digest = Counter((m.rcpt_tos[0], m.message["Subject"]) for m in got)
            conn.send(
                {
                    "messages": len(got),
                    "connections": server.recorder.connections,
                    "duplicates": sum(n - 1 for n in per_digest.values() if n > 1),
                }
            )


def telegram_child(conn: Connection) -> None:
    from tests.support.telegram_api import FakeTelegram

    with FakeTelegram() as fake:
        fake.set_rate_limit(RATE)
        conn.send((fake.token, fake.base_url))
        while (request := conn.recv()) != "stop":
            if isinstance(request, float):
                fake.set_rate_limit(request)
            sent = fake.all_sent()
            # A chat gets one message per digest: its second line names the week.
            chats = Counter((m["chat_id"], m["plain_text"].split("\n")[1]) for m in sent)
            conn.send(
                {
                    "messages": len(sent),
                    "rejected_429": fake.rejected_429,
                    "duplicates": sum(n - 1 for n in chats.values() if n > 1),
                }
            )


def start(target: Any) -> tuple[multiprocessing.Process, Connection]:
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.Process(target=target, args=(theirs,), daemon=True)
    process.start()
    return process, ours


# -- the store -----------------------------------------------------------------------------


def make_store(folder: Path, smtp_port: int) -> tuple[Any, Any]:
    from commsbot.config import load_config
    from commsbot.content.items import TYPES, add_items, load_sample
    from commsbot.store import Store, audience

    config_path = folder / "bench.toml"
    config_path.write_text(
        '[store]\npath = "bench.db"\n'
        "[channels.email]\nenabled = true\n"
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsecurity = "none"\n'
        'from = "Cross-Innovation <news@cross-innovation.example>"\n'
        'unsubscribe_url = "https://cross-innovation.example/unsubscribe?token={token}"\n'
        "max_per_second = 0\n",
        encoding="utf-8",
    )
    config = load_config(config_path)
    store = Store(config.store.path)
    load_sample(store, datetime(2026, 11, 2, tzinfo=UTC))  # before week 47
    week47 = datetime(2026, 11, 18, 12, tzinfo=UTC)
    practices = [
        (
            f"bench {i}",
            {
                "title": f"Cross-innovation practice {i} in {CITIES[i % 6].title()} & beyond",
                "city": CITIES[i % len(CITIES)],
                "theme": THEMES[i % len(THEMES)],
                "summary": "Creative businesses and manufacturers work together. " * 3,
                "url": f"https://cross-innovation.example/practices/bench-{i}",
            },
        )
        for i in range(8)
    ]
    add_items(store, TYPES["practice"], practices, week47)
    newsletter = {
        "title": "Cross-Innovation Newsletter #3",
        "number": 3,
        "published": "2026-11-18",
        "summary": "What the network did this autumn.",
        "url": "https://cross-innovation.example/newsletters/newsletter-3",
    }
    add_items(store, TYPES["newsletter"], [("bench newsletter", newsletter)], week47)
    week48 = datetime(2026, 11, 25, 12, tzinfo=UTC)
    later = [
        (f"bench late {i}", {**row, "title": row["title"] + " (2)"})
        for i, (_, row) in enumerate(practices)
    ]
    add_items(store, TYPES["practice"], later, week48)
    add_items(
        store,
        TYPES["newsletter"],
        [("bench newsletter 4", {**newsletter, "title": "Newsletter #4", "number": 4})],
        week48,
    )
    joined = datetime(2026, 11, 1, tzinfo=UTC)

    def choices(i: int) -> tuple[list[str], list[str]]:
        kind = i % 4
        city = [CITIES[i % len(CITIES)]] if kind in (1, 3) else []
        theme = [THEMES[i % len(THEMES)]] if kind in (2, 3) else []
        return city, theme

    with store.write():
        for i in range(EMAILS):
            cities, themes = choices(i)
            audience.upsert_subscriber(
                store, "email", f"partner{i}@example.org", "weekly", cities, themes, joined
            )
        for i in range(CHATS):
            cities, themes = choices(i)
            audience.upsert_subscriber(
                store, "telegram", str(10_000 + i), "weekly", cities, themes, joined
            )
    return store, config


# -- the legs ----------------------------------------------------------------------------


async def fan_out(
    store: Any, config: Any, channel: Any, period: str, limit: int | None = None
) -> tuple[float, Any]:
    from commsbot.digests.build import parse_period
    from commsbot.digests.send import send_period

    await channel.open()
    try:
        began = time.perf_counter()
        report = await send_period(
            store,
            config,
            {channel.name: channel},
            parse_period(period, config.zone),
            clock=lambda: AFTER[period],
            limit=limit,
        )
        return time.perf_counter() - began, report
    finally:
        await channel.close()


def bare_smtp(port: int, n: int, payload: bytes) -> float:
    """smtplib alone: the same number of prepared messages over one connection."""
    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for i in range(n):
            smtp.sendmail("news@cross-innovation.example", [f"bare{i}@example.org"], payload)
    return time.perf_counter() - began


async def bare_telegram(token: str, base_url: str, n: int, text: str) -> float:
    """python-telegram-bot alone, at the same pace and number of sends in flight."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from commsbot.delivery import Pacer

    bot = Bot(token, base_url=base_url, request=HTTPXRequest(connection_pool_size=IN_FLIGHT))
    await bot.initialize()
    pacer = Pacer(RATE)
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(chat: int) -> None:
        try:
            await bot.send_message(chat, text, parse_mode="HTML")
        finally:
            slots.release()

    tasks = []
    began = time.perf_counter()
    for i in range(n):
        await slots.acquire()
        await pacer.wait()
        tasks.append(asyncio.create_task(one(900_000 + i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    await bot.shutdown()
    return elapsed


async def machinery(store: Any, config: Any) -> tuple[float, int]:
    """The fan-out alone (render, write, record): a channel that answers at once, unpaced,
    to the Telegram subscribers still due week 48's digest."""
    from commsbot.channels.base import Channel, ChannelSettings, Delivery, DirectMessage, Rendered

    class Instant(Channel):
        kind = "telegram"
        sends_direct = True
        max_length = 4096
        rate_per_second = float("inf")
        concurrency = IN_FLIGHT
        takes_posts = False

        async def send(self, post: Rendered) -> Delivery:
            raise AssertionError("digests only")

        async def send_direct(self, message: DirectMessage) -> Delivery:
            await asyncio.sleep(0)
            return Delivery.sent(message.ref, "1")

    wall, report = await fan_out(store, config, Instant(ChannelSettings()), "2026-W48")
    return wall, report.total("sent")


def main() -> None:
    from dataclasses import replace

    from commsbot.channels.base import DirectMessage
    from commsbot.channels.email import EmailChannel
    from commsbot.channels.telegram import TelegramChannel, TelegramSettings

    smtp_proc, smtp_conn = start(smtp_child)
    tg_proc, tg_conn = start(telegram_child)
    port = smtp_conn.recv()
    token, base_url = tg_conn.recv()

    os.environ[TOKEN_ENV] = token

    def bot(per_second: float) -> TelegramChannel:
        """The real telegram channel, pointed at the fake and allowed its rate."""
        settings = TelegramSettings(
            enabled=True,
            bot_token_env=TOKEN_ENV,
            chat_id="@bench",
            base_url=base_url,
            base_file_url=base_url.replace("/bot", "/file/bot"),
            direct_per_second=per_second,
        )
        return TelegramChannel(settings)

    with tempfile.TemporaryDirectory() as tmp:
        store, config = make_store(Path(tmp), port)
        settings = config.channel("email")
        paced = EmailChannel(replace(settings, max_per_second=EMAIL_PACE))
        email_paced, paced_report = asyncio.run(fan_out(store, config, paced, "2026-W47"))
        unpaced = EmailChannel(replace(settings, max_per_second=0))
        email_fast, fast_report = asyncio.run(fan_out(store, config, unpaced, "2026-W48"))
        smtp_conn.send("stats")
        smtp_stats = smtp_conn.recv()
        sample = DirectMessage(1, "b@example.org", "x" * 1500, html="<p>" + "x" * 3000 + "</p>")
        bare_email = bare_smtp(port, EMAILS, unpaced.build(sample))
        smtp_conn.send("stop")

        tg_wall, tg_report = asyncio.run(fan_out(store, config, bot(RATE), "2026-W47"))
        tg_conn.send("stats")
        tg_stats = tg_conn.recv()
        line = "• <a href='https://cross-innovation.example/p'>A practice</a> (Plzeň, Brokerage)\n"
        bare_tg = asyncio.run(
            bare_telegram(token, base_url, BARE_CHATS, "<b>Digest</b>\n" + line * 9)
        )
        tg_conn.send(SLOW_RATE)  # the fake now allows 100/s
        before = tg_conn.recv()
        slow_wall, slow_report = asyncio.run(
            fan_out(store, config, bot(SLOW_RATE), "2026-W48", limit=SLOW_CHATS)
        )
        tg_conn.send("stats")
        slow_stats = tg_conn.recv()
        bare_wall, bare_sent = asyncio.run(machinery(store, config))  # the other 4,000
        tg_conn.send("stop")
        rows = dict(store.conn.execute("SELECT status, count(*) FROM digest_deliveries GROUP BY 1"))
        store.close()
    smtp_proc.join(10)
    tg_proc.join(10)

    email_floor = EMAILS / EMAIL_PACE
    print(f"e-mail: {EMAILS} subscribers, one weekly digest each (text + HTML)")
    print(
        f"  paced at {EMAIL_PACE:.0f}/s   {email_paced:6.2f} s  floor {email_floor:.2f} s  "
        f"ratio {email_paced / email_floor:.2f} (target <= 1.10)"
    )
    fast_rate = fast_report.total("sent") / email_fast
    print(f"  unpaced          {email_fast:6.2f} s  {fast_rate:5.0f} msg/s")
    print(f"  bare smtplib     {bare_email:6.2f} s  {EMAILS / bare_email:5.0f} msg/s (the server)")
    print(
        f"  sent {paced_report.total('sent')} + {fast_report.total('sent')}, server got "
        f"{smtp_stats['messages']}, SMTP connections {smtp_stats['connections']} (2 runs), "
        f"duplicates {smtp_stats['duplicates']}"
    )
    floor = CHATS / RATE
    capacity = BARE_CHATS / bare_tg
    print(f"telegram: {CHATS} subscribers, FakeTelegram limited to {RATE:.0f} messages/s")
    print(
        f"  fan-out          {tg_wall:6.2f} s  {tg_report.total('sent') / tg_wall:5.0f} msg/s  "
        f"rate floor {floor:.2f} s  ratio {tg_wall / floor:.2f} (target <= 1.10)"
    )
    print(
        f"  bare PTB loop    {capacity:5.0f} msg/s at the same pace, {IN_FLIGHT} in flight: "
        f"{CHATS / capacity:.2f} s for {CHATS}; fan-out / that {tg_wall / (CHATS / capacity):.2f}"
    )
    print(
        f"  sent {tg_report.total('sent')}, server got {tg_stats['messages']}, "
        f"429s {tg_stats['rejected_429']}, duplicates {tg_stats['duplicates']}"
    )
    print(
        f"  the fan-out alone (a channel answering at once): {bare_sent} in {bare_wall:.2f} s, "
        f"{bare_wall / bare_sent * 1e6:.0f} us per subscriber, {bare_sent / bare_wall:.0f}/s"
    )
    slow_floor = SLOW_CHATS / SLOW_RATE
    print(f"telegram: {SLOW_CHATS} subscribers, FakeTelegram limited to {SLOW_RATE:.0f} messages/s")
    print(
        f"  fan-out          {slow_wall:6.2f} s  rate floor {slow_floor:.2f} s  "
        f"ratio {slow_wall / slow_floor:.2f} (target <= 1.10)"
    )
    print(
        f"  sent {slow_report.total('sent')}, 429s "
        f"{slow_stats['rejected_429'] - before['rejected_429']}, "
        f"duplicates {slow_stats['duplicates']}"
    )
    print(f"delivery rows: {dict(sorted(rows.items()))}")


if __name__ == "__main__":
    main()
