"""Digest fan-out through real servers on 127.0.0.1: aiosmtpd for e-mail, FakeTelegram
(through python-telegram-bot) for Telegram. Exactly once per (digest, subscriber)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Coroutine, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from commsbot.channels.base import Channel
from commsbot.channels.email import EmailChannel
from commsbot.channels.telegram import TelegramChannel, TelegramSettings
from commsbot.config import Config, load_config
from commsbot.content.items import add_items, load_sample
from commsbot.content.types import TYPES
from commsbot.digests.build import parse_period
from commsbot.digests.send import Report, send_period
from commsbot.digests.subscribers import add_email
from commsbot.service.jobs import job
from commsbot.store import Store, audience
from tests.support.base import Invoke
from tests.support.digest import (
    SmtpServer,
    add_practice,
    at,
    delivery_rows,
    smtp_server,
    subscribe,
    write_config,
)
from tests.support.telegram_api import FakeTelegram

T = TypeVar("T")
W47_DAY = "2026-11-18"
AFTER_W47 = at("2026-11-24")  # the Tuesday after week 47, when its digest goes out
JOINED = at("2026-11-01")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def config_path(tmp_path: Path, smtp: SmtpServer) -> Path:
    """Overrides conftest's: the same store and outbox, plus e-mail to the test server."""
    return write_config(tmp_path / "commsbot.toml", smtp.port)


@pytest.fixture
def week47(store: Store) -> Store:
    load_sample(store, at(W47_DAY))
    return store


async def fan_out(
    store: Store,
    config: Config,
    period: str,
    *,
    now: datetime = AFTER_W47,
    channels: dict[str, Channel] | None = None,
    **kwargs: Any,
) -> Report:
    chosen: dict[str, Channel] = (
        channels if channels is not None else {"email": EmailChannel(config.channel("email"))}
    )
    for channel in chosen.values():
        await channel.open()
    try:
        return await send_period(
            store,
            config,
            chosen,
            parse_period(period, config.zone),
            clock=lambda: now,
            **kwargs,
        )
    finally:
        for channel in chosen.values():
            await channel.close()


def recipients(smtp: SmtpServer) -> list[str]:
    """Who the server got messages for, sorted: two messages may be in flight at once."""
    return sorted(m.rcpt_tos[0] for m in smtp.recorder.messages)


def statuses(store: Store) -> dict[int, str]:
    return {r["subscriber_id"]: r["status"] for r in delivery_rows(store)}


def test_each_subscriber_gets_their_digest_once(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    anna = subscribe(week47, "email", "anna@example.org", "weekly", JOINED, ("plzen",))
    jonas = subscribe(week47, "email", "jonas@example.org", "weekly", JOINED)
    subscribe(week47, "email", "monthly@example.org", "monthly", JOINED)
    subscribe(week47, "email", "late@example.org", "weekly", at("2026-11-23"))  # after W47
    report = run(fan_out(week47, config, "2026-W47"))
    assert report.rows() == [
        {
            "period": "2026-W47",
            "channel": "email",
            "sent": 2,
            "skipped": 0,
            "retrying": 0,
            "failed": 0,
            "bounced": 0,
            "unknown": 0,
            "waiting": 0,
        }
    ]
    assert smtp.recorder.connections == 1
    assert recipients(smtp) == ["anna@example.org", "jonas@example.org"]
    [received] = smtp.recorder.to("anna@example.org")
    to_anna, text = received.message, received.part("plain")
    assert "For Plzeň · all themes." in text
    assert "(Plzeň, " in text and "(Tallinn, " not in text
    assert to_anna["List-Unsubscribe"] == (
        f"<https://cross-innovation.example/unsubscribe?token={anna['token']}>"
    )
    assert statuses(week47) == {anna["id"]: "sent", jonas["id"]: "sent"}
    [row] = [r for r in delivery_rows(week47) if r["subscriber_id"] == anna["id"]]
    assert (row["channel"], row["attempts"], row["sent_at"]) == ("email", 1, "2026-11-24T12:00:00Z")
    assert row["remote_id"].startswith("2.0.0 queued as test-")

    again = run(fan_out(week47, config, "2026-W47", now=at("2026-11-25")))
    assert again.rows() == []
    assert len(smtp.recorder.messages) == 2


def test_same_choices_share_a_rendering_but_not_a_token(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    subs = [
        subscribe(week47, "email", f"{name}@example.org", "weekly", JOINED, ("tallinn",))
        for name in ("kadri", "mart")
    ]
    run(fan_out(week47, config, "2026-W47"))
    for sub in subs:
        [received] = smtp.recorder.to(sub["address"])
        message = received.message
        link = f"https://cross-innovation.example/unsubscribe?token={sub['token']}"
        assert message["List-Unsubscribe"] == f"<{link}>"
        text, html = received.part("plain"), received.part("html")
        assert text.rstrip().endswith(f"Unsubscribe in one step: {link}")
        assert f'<a href="{link}"' in html
        assert "token-mark" not in received.data.decode("ascii")
    first, second = (m.message for m in smtp.recorder.messages)
    assert first["Subject"] == second["Subject"]


def test_content_can_never_carry_a_subscribers_token(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    # A feed item whose link and title hold what a template could take for the token's
    # place: the old shared rendering filled it in for every subscriber (#14 item 4).
    bait = "https://harvest.example/?t=commsbot-unsubscribe-token-mark&u={token}"
    # The title also holds the mark the renderer itself uses for the link's place (U+FDD0).
    title = "Win {token} commsbot-unsubscribe-token-mark \ufdd0 now"
    row = {"guid": "urn:bait", "title": title, "link": bait}
    added, problems = add_items(week47, TYPES["news"], [("bait", row)], at(W47_DAY))
    assert added == 1, problems
    subs = [subscribe(week47, "email", f"{n}@example.org", "weekly", JOINED) for n in ("ann", "bo")]
    run(fan_out(week47, config, "2026-W47"))
    for sub in subs:
        [received] = smtp.recorder.to(sub["address"])
        link = f"https://cross-innovation.example/unsubscribe?token={sub['token']}"
        text, html = received.part("plain"), received.part("html")
        assert bait in text and bait.replace("&", "&amp;") in html
        assert "Win {token} commsbot-unsubscribe-token-mark  now" in text
        # The token is in the unsubscribe link and the header, and nowhere else.
        assert text.count(sub["token"]) == 1 and link in text
        assert html.count(sub["token"]) == 1 and f'<a href="{link}"' in html
        assert received.message["List-Unsubscribe"] == f"<{link}>"


def test_nothing_new_means_nothing_sent(store: Store, config: Config, smtp: SmtpServer) -> None:
    load_sample(store, at("2026-11-01"))  # all before week 47
    sub = subscribe(store, "email", "a@example.org", "weekly", JOINED)
    report = run(fan_out(store, config, "2026-W47"))
    assert report.total("skipped") == 1 and report.total("sent") == 0
    assert smtp.recorder.messages == []
    assert statuses(store) == {sub["id"]: "skipped"}


def test_send_empty_when_configured(
    tmp_path: Path, store: Store, smtp: SmtpServer, config_path: Path
) -> None:
    with config_path.open("a", encoding="utf-8") as f:
        f.write("\n[digest]\nsend_empty = true\n")
    config = load_config(config_path)
    load_sample(store, at("2026-11-01"))
    subscribe(store, "email", "a@example.org", "weekly", JOINED)
    report = run(fan_out(store, config, "2026-W47"))
    assert report.total("sent") == 1
    [message] = smtp.recorder.messages
    assert message.message["Subject"].endswith(": 0 new items")


def test_next_digest_starts_where_the_last_one_ended(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    sub = subscribe(week47, "email", "a@example.org", "weekly", JOINED, ("vilnius",))
    run(fan_out(week47, config, "2026-W47"))
    add_practice(week47, "vilnius", "brokerage", at("2026-11-25"), "New in week 48")
    add_practice(week47, "plzen", "brokerage", at("2026-11-25"), "Not for Vilnius")
    run(fan_out(week47, config, "2026-W48", now=at("2026-12-01")))
    first, second = (m.message for m in smtp.recorder.messages)
    assert first["Subject"].endswith(": 13 new items")
    assert second["Subject"].endswith(": 1 new item")
    body = smtp.recorder.messages[1].part("plain")
    assert "New in week 48" in body and "Not for Vilnius" not in body
    assert "New since Nov 23, 2026." in body
    assert statuses(week47) == {sub["id"]: "sent"}


def test_catch_up_after_downtime(store: Store, config: Config, smtp: SmtpServer) -> None:
    load_sample(store, at("2026-11-01"))
    subscribe(store, "email", "a@example.org", "weekly", JOINED, ("vilnius",))
    run(fan_out(store, config, "2026-W44", now=at("2026-11-02")))  # covers up to 2 Nov
    add_practice(store, "vilnius", "brokerage", at("2026-11-04"), "Week 45 item")
    add_practice(store, "vilnius", "brokerage", at("2026-11-11"), "Week 46 item")
    # The service was down for weeks 45 and 46; the week 46 digest carries both.
    run(fan_out(store, config, "2026-W46", now=at("2026-11-17")))
    subjects = [m.message["Subject"] for m in smtp.recorder.messages]
    assert subjects[-1].endswith(": 2 new items")
    body = smtp.recorder.messages[-1].part("plain")
    assert "Week 45 item" in body and "Week 46 item" in body
    assert "New since Nov 2, 2026." in body


def test_resume_after_a_crash_leaves_unknown_unsent(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    subs = [subscribe(week47, "email", f"p{i}@example.org", "weekly", JOINED) for i in range(1, 6)]
    # A run that crashed between writing the row of p2 and recording its outcome.
    period = parse_period("2026-W47", config.zone)
    from commsbot.store import digests as q

    digest = q.ensure_digest(week47, "weekly", "2026-W47", period.start, period.end, AFTER_W47)
    q.claim(week47, digest["id"], subs[1]["id"], "email", AFTER_W47)
    report = run(fan_out(week47, config, "2026-W47"))
    assert report.stale == 1
    assert report.total("sent") == 4
    assert recipients(smtp) == [
        "p1@example.org",
        "p3@example.org",
        "p4@example.org",
        "p5@example.org",
    ]
    assert statuses(week47) == {
        subs[0]["id"]: "sent",
        subs[1]["id"]: "unknown",
        subs[2]["id"]: "sent",
        subs[3]["id"]: "sent",
        subs[4]["id"]: "sent",
    }
    [stale] = [r for r in delivery_rows(week47) if r["status"] == "unknown"]
    assert stale["error"] == (
        "the run stopped between writing this delivery and recording its outcome"
    )
    run(fan_out(week47, config, "2026-W47", now=at("2026-11-26")))
    assert len(smtp.recorder.messages) == 4


def test_stopping_after_n_then_finishing_sends_no_duplicates(
    week47: Store, invoke: Invoke, smtp: SmtpServer
) -> None:
    for i in range(1, 8):
        subscribe(week47, "email", f"p{i}@example.org", "weekly", JOINED)
    result = invoke("digest", "send", "--period", "2026-W47", "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["digests"][0]["sent"] == 3
    assert len(smtp.recorder.messages) == 3
    for _ in range(2):  # finishing, then once more for good measure
        result = invoke("digest", "send", "--period", "2026-W47")
        assert result.exit_code == 0, result.output
    assert recipients(smtp) == [f"p{i}@example.org" for i in range(1, 8)]
    assert result.output == "nobody is due a digest for 2026-W47\n"
    listed = invoke("digest", "list").output
    assert "2026-W47" in listed
    assert smtp.recorder.connections == 2  # one per run that had something to send


def test_bounce_marks_the_address_and_skips_it_next_time(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    gone = subscribe(week47, "email", "gone@example.org", "weekly", JOINED)
    ok = subscribe(week47, "email", "ok@example.org", "weekly", JOINED)
    smtp.recorder.rcpt_replies["gone@example.org"] = "550 5.1.1 No such user"
    report = run(fan_out(week47, config, "2026-W47"))
    assert (report.total("bounced"), report.total("sent")) == (1, 1)
    found = audience.get_subscriber(week47, "email", "gone@example.org")
    assert found is not None and found["status"] == "bounced"
    [row] = [r for r in delivery_rows(week47) if r["subscriber_id"] == gone["id"]]
    assert (row["status"], row["error"]) == ("failed", "SMTP RCPT: 550 5.1.1 No such user")
    add_practice(week47, "plzen", "brokerage", at("2026-11-25"))
    run(fan_out(week47, config, "2026-W48", now=at("2026-12-01")))
    assert [m.rcpt_tos[0] for m in smtp.recorder.messages] == ["ok@example.org"] * 2
    assert statuses(week47)[ok["id"]] == "sent"


def test_temporary_failures_are_retried_later_then_given_up(
    tmp_path: Path, week47: Store, smtp: SmtpServer, config_path: Path
) -> None:
    with config_path.open("a", encoding="utf-8") as f:
        f.write("\n[posting]\nmax_attempts = 2\nretry_backoff_seconds = 600\n")
    config = load_config(config_path)
    busy = subscribe(week47, "email", "busy@example.org", "weekly", JOINED)
    smtp.recorder.rcpt_replies["busy@example.org"] = "452 4.2.2 Mailbox full"
    report = run(fan_out(week47, config, "2026-W47"))
    assert report.total("retrying") == 1
    [row] = delivery_rows(week47)
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == (
        "retry",
        1,
        "2026-11-24T12:10:00Z",
    )
    # Not due yet five minutes later; due after the backoff, and given up at the limit.
    assert (
        run(fan_out(week47, config, "2026-W47", now=at("2026-11-24", 12).replace(minute=5))).rows()
        == []
    )
    report = run(fan_out(week47, config, "2026-W47", now=at("2026-11-24", 13)))
    assert report.total("failed") == 1
    [row] = delivery_rows(week47)
    assert (row["status"], row["attempts"], row["subscriber_id"]) == ("failed", 2, busy["id"])
    assert row["error"] == "gave up after 2 attempts: SMTP RCPT: 452 4.2.2 Mailbox full"
    smtp.recorder.rcpt_replies.clear()
    run(fan_out(week47, config, "2026-W47", now=at("2026-11-25")))
    assert smtp.recorder.messages == []


def test_lost_answer_after_data_is_unknown_and_not_resent(
    week47: Store, config: Config, smtp: SmtpServer
) -> None:
    subscribe(week47, "email", "a@example.org", "weekly", JOINED)
    subscribe(week47, "email", "b@example.org", "weekly", JOINED)
    smtp.recorder.drop_after_data.add("a@example.org")
    report = run(fan_out(week47, config, "2026-W47"))
    assert (report.total("unknown"), report.total("sent")) == (1, 1)
    run(fan_out(week47, config, "2026-W47", now=at("2026-11-25")))
    assert recipients(smtp) == ["a@example.org", "b@example.org"]
    assert list(statuses(week47).values()) == ["unknown", "sent"]


def test_dry_run_writes_and_sends_nothing(week47: Store, invoke: Invoke, smtp: SmtpServer) -> None:
    subscribe(week47, "email", "a@example.org", "weekly", JOINED)
    subscribe(week47, "telegram", "4242", "weekly", JOINED)
    result = invoke("digest", "send", "--period", "2026-W47", "--dry-run")
    # A subscriber whom no enabled channel reaches needs attention: exit code 1 (#20).
    assert result.exit_code == 1, result.output
    assert "dry run: nothing was sent or stored" in result.output
    assert "1 telegram subscriber(s) wait: channel telegram is not enabled" in result.output
    assert week47.rows("SELECT * FROM digests") == []
    assert delivery_rows(week47) == []
    assert smtp.recorder.messages == [] and smtp.recorder.connections == 0


def test_a_period_is_sent_only_once_it_is_over(week47: Store, invoke: Invoke) -> None:
    result = invoke("digest", "send", "--period", "2999-W01")
    assert result.exit_code == 1
    assert result.output.startswith("Error: 2999-W01 is not over until 2999-01-07 00:00 CET;")
    assert week47.rows("SELECT * FROM digests") == []


def test_the_job_needs_a_subscriber_channel(config: Config, tmp_path: Path) -> None:
    digests = job("send-digests")
    assert digests.requires(config) is None
    plain = tmp_path / "plain.toml"
    plain.write_text('[channels.outbox]\nenabled = true\npath = "outbox"\n', encoding="utf-8")
    assert digests.requires(load_config(plain)) == (
        "no subscriber channel (email or telegram) is enabled"
    )


# -- Telegram, through PTB and FakeTelegram ------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


TOKEN_ENV = "COMMSBOT_TEST_DIGEST_TELEGRAM_TOKEN"


def telegram(fake: FakeTelegram, per_second: float = 200.0) -> TelegramChannel:
    """The real telegram channel on FakeTelegram, allowed more than Telegram's 30/s."""
    os.environ[TOKEN_ENV] = fake.token
    settings = TelegramSettings(
        enabled=True,
        bot_token_env=TOKEN_ENV,
        chat_id="@digest_test",
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        direct_per_second=per_second,
    )
    return TelegramChannel(settings)


def test_telegram_fan_out(week47: Store, config: Config, fake: FakeTelegram) -> None:
    chats = [1000 + i for i in range(12)]
    for chat in chats:
        subscribe(week47, "telegram", str(chat), "weekly", JOINED, ("vilnius",))
    report = run(fan_out(week47, config, "2026-W47", channels={"telegram": telegram(fake)}))
    assert report.total("sent") == 12
    for chat in chats:
        [message] = fake.messages_to(chat)
        assert message["parse_mode"] == "HTML"
        assert message["plain_text"].startswith("Cross-Innovation digest\nWeek 47")
        assert "(Vilnius, " in message["plain_text"]
        assert message["plain_text"].endswith("Send /unsubscribe to stop this digest.")
    rows = delivery_rows(week47)
    assert {r["remote_id"] for r in rows} == {"1"}  # the first message in each chat
    run(fan_out(week47, config, "2026-W47", channels={"telegram": telegram(fake)}))
    assert fake.calls["sendMessage"] == 12


def test_telegram_429_blocked_and_lost_answers(
    week47: Store, config: Config, fake: FakeTelegram
) -> None:
    for chat in (2001, 2002, 2003, 2004):
        subscribe(week47, "telegram", str(chat), "weekly", JOINED)
    fake.fail_next("sendMessage", 429, retry_after=1)
    fake.fail_next("sendMessage", 403)
    report = run(fan_out(week47, config, "2026-W47", channels={"telegram": telegram(fake)}))
    assert (report.total("retrying"), report.total("bounced"), report.total("sent")) == (1, 1, 2)
    rows = {r["subscriber_id"]: r for r in delivery_rows(week47)}
    retry = next(r for r in rows.values() if r["status"] == "retry")
    assert retry["next_attempt_at"] == "2026-11-24T12:00:01Z"  # Telegram's own wait
    bounced = [s for s in audience.list_subscribers(week47, status="bounced")]
    assert len(bounced) == 1
    # The retry goes out on the next run; nothing else is sent again.
    fake.drop_share("sendMessage", 1.0, after_processing=True)
    report = run(
        fan_out(
            week47, config, "2026-W47", now=at("2026-11-25"), channels={"telegram": telegram(fake)}
        )
    )
    assert report.total("unknown") == 1  # delivered, but the answer was lost
    assert len(fake.all_sent()) == 3
    fake.drop_share("sendMessage", 0)
    run(
        fan_out(
            week47, config, "2026-W47", now=at("2026-11-26"), channels={"telegram": telegram(fake)}
        )
    )
    assert len(fake.all_sent()) == 3
    assert sorted(s for s in statuses(week47).values()) == ["failed", "sent", "sent", "unknown"]


def test_email_and_telegram_in_one_run(
    week47: Store, config: Config, smtp: SmtpServer, fake: FakeTelegram
) -> None:
    subscribe(week47, "email", "a@example.org", "weekly", JOINED)
    subscribe(week47, "telegram", "3001", "weekly", JOINED)
    subscribe(week47, "email", "m@example.org", "monthly", JOINED)
    channels: dict[str, Channel] = {
        "email": EmailChannel(config.channel("email")),
        "telegram": telegram(fake),
    }
    report = run(fan_out(week47, config, "2026-W47", channels=channels))
    assert {r["channel"]: r["sent"] for r in report.rows()} == {"email": 1, "telegram": 1}
    assert [m.rcpt_tos[0] for m in smtp.recorder.messages] == ["a@example.org"]
    assert len(fake.messages_to(3001)) == 1


def test_config_show_with_email(invoke: Invoke) -> None:
    result = invoke("config", "show")
    assert result.exit_code == 0, result.output
    assert 'from = "Cross-Innovation <news@cross-innovation.example>"' in result.output
    assert "# username_env is not set" in result.output


def test_unreachable_relay_is_reported_and_nobody_is_marked(week47: Store, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from commsbot.cli import cli

    with smtp_server() as stopped:
        port = stopped.port
    config_path = write_config(tmp_path / "down.toml", port)
    subscribe(week47, "email", "a@example.org", "weekly", JOINED)
    result = CliRunner().invoke(
        cli, ["--config", str(config_path), "digest", "send", "--period", "2026-W47"]
    )
    assert result.exit_code == 1, result.output  # needs attention (#20)
    assert f"problem: email: channels.email: 127.0.0.1:{port}: cannot connect:" in result.output
    assert (
        "problem: 1 email subscriber(s) wait: channel email is not enabled or could not be opened"
        in result.output
    )
    assert delivery_rows(week47) == []


def test_run_once_sends_the_digests_due(week47: Store, config: Config, smtp: SmtpServer) -> None:
    from commsbot.service.runs import run_once

    subscribe(week47, "email", "a@example.org", "weekly", JOINED)
    # Subscribed in September: due October's digest, which has nothing new for them.
    subscribe(week47, "email", "m@example.org", "monthly", at("2026-09-20"))
    _, jobs = run(run_once(week47, config, clock=lambda: AFTER_W47))
    assert jobs["send-digests"] == {"2026-W47": "1 sent", "2026-10": "1 skipped"}
    assert recipients(smtp) == ["a@example.org"]
    _, jobs = run(run_once(week47, config, clock=lambda: at("2026-11-24", 13)))
    assert jobs["send-digests"] == {"2026-W47": "nobody due", "2026-10": "nobody due"}
    assert len(smtp.recorder.messages) == 1


def test_two_email_accounts_send_from_their_own_senders(
    week47: Store, config_path: Path, smtp: SmtpServer
) -> None:
    # A second e-mail account (#16): its subscribers get its digest from its own sender.
    text = config_path.read_text(encoding="utf-8")
    extra = text[text.index("[channels.email]") :].replace(
        "[channels.email]", '[channels.tallinn-email]\nkind = "email"'
    )
    extra = extra.replace("news@cross-innovation.example", "tallinn@cross-innovation.example")
    config_path.write_text(text + "\n" + extra, encoding="utf-8")
    config = load_config(config_path)
    subscribe(week47, "email", "anna@example.org", "weekly", JOINED)
    subscribe(week47, "tallinn-email", "anna@example.org", "weekly", JOINED, ("tallinn",))
    channels: dict[str, Channel] = {
        name: EmailChannel(config.channel(name), name) for name in ("email", "tallinn-email")
    }
    report = run(fan_out(week47, config, "2026-W47", channels=channels))
    assert {r["channel"]: r["sent"] for r in report.rows()} == {"email": 1, "tallinn-email": 1}
    senders = sorted(m.message["From"] for m in smtp.recorder.to("anna@example.org"))
    assert senders == [
        "Cross-Innovation <news@cross-innovation.example>",
        "Cross-Innovation <tallinn@cross-innovation.example>",
    ]
    assert {r["channel"] for r in delivery_rows(week47)} == {"email", "tallinn-email"}
    assert run(fan_out(week47, config, "2026-W47", channels=channels)).rows() == []


# -- in the subscriber's language (#19) ---------------------------------------------------

EN_DASH = "\N{EN DASH}"


def test_a_german_subscriber_gets_the_digest_in_german(
    store: Store, config: Config, smtp: SmtpServer, invoke: Invoke
) -> None:
    load_sample(store, at(W47_DAY))
    add_email(store, "greta@example.org", "weekly", ["Berlin"], [], JOINED, language="de")
    add_email(store, "anna@example.org", "weekly", ["berlin"], [], JOINED)
    run(fan_out(store, config, "2026-W47"))

    [greta] = smtp.recorder.to("greta@example.org")
    message, html = greta.message, greta.part("html")
    text = greta.part("plain").replace("\r\n", "\n")
    assert message["Content-Language"] == "de"
    assert str(message["Subject"]).startswith(
        f"Cross-Innovation digest, Woche 47, 16.{EN_DASH}22. Nov. 2026: "
    )
    assert str(message["Subject"]).endswith(" neue Einträge")
    assert text.startswith(
        f"Cross-Innovation digest\nWoche 47, 16.{EN_DASH}22. Nov. 2026\n"
        "Für Berlin · alle Themen. Neu seit 16.11.2026.\n\nNeue gute Praxisbeispiele\n"
    )
    # The sample's German translation stands in for its original; the rest are marked English.
    assert "* Prototypenfonds für Serious Games (Berlin, " in text
    # Theme names in German too (the sample's themes are in the catalogs).
    assert "Smart Incentives" not in text and "Culture-based Innovation" not in text
    assert "Intelligente Anreize)" in text and "Kulturbasierte Innovation)" in text
    assert "Games Prototype Fund" not in text
    assert " [Englisch] (Berlin, " in text
    assert "Du erhältst den Cross-Innovation digest wöchentlich" in text
    assert "Mit einem Klick abbestellen: https://" in text
    assert '<html lang="de">' in html and "Prototypenfonds für Serious Games" in html

    # The same digest for an English subscriber: English, with the original title.
    [anna] = smtp.recorder.to("anna@example.org")
    assert anna.message["Content-Language"] == "en"
    assert "Games Prototype Fund for Serious Applications" in anna.part("plain")
    assert "For Berlin · all themes. New since Nov 16, 2026." in anna.part("plain")


def test_subscriber_language_from_the_import_and_kept_on_change(
    store: Store, invoke: Invoke, tmp_path: Path
) -> None:
    load_sample(store, at(W47_DAY))
    csv = tmp_path / "partners.csv"
    csv.write_text(
        "email,frequency,language\nola@example.org,weekly,pl\nbo@example.org,monthly,\n",
        encoding="utf-8",
    )
    added = invoke(
        "subscribers", "add", "greta@example.org", "--frequency", "weekly", "--language", "de"
    )
    assert added.output == (
        "subscribed #1 email greta@example.org: weekly, cities: all, themes: all, language: de\n"
    )
    assert invoke("subscribers", "import", str(csv)).exit_code == 0
    assert audience.get_subscriber(store, "email", "ola@example.org")["language"] == "pl"  # type: ignore[index]
    assert audience.get_subscriber(store, "email", "bo@example.org")["language"] == "en"  # type: ignore[index]
    # Changing other choices keeps the language.
    invoke("subscribers", "add", "ola@example.org", "--frequency", "monthly")
    assert audience.get_subscriber(store, "email", "ola@example.org")["language"] == "pl"  # type: ignore[index]
    bad = tmp_path / "bad.csv"
    bad.write_text("email,language\nx@example.org,klingon\n", encoding="utf-8")
    refused = invoke("subscribers", "import", str(bad))
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {bad}: row 2: language: unknown language 'klingon' "
        "(known: en, nl, it, de, et, pl, lt, sv, pt, cs)\n"
    )
