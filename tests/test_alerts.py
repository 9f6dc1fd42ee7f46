"""Alerts (#20 item 4): to the bot's admins through the fake Telegram Bot API (with buttons
the real bot answers) and to an e-mail list through aiosmtpd, once per problem."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commsbot.alerts import problems
from commsbot.alerts.send import run_alerts
from commsbot.bot.alert_buttons import button_data
from commsbot.bot.app import chat_hash, chat_salt
from commsbot.channels.telegram import TelegramSettings
from commsbot.cli import cli
from commsbot.config import Config, load_config
from commsbot.errors import ConfigError
from commsbot.posting import queue as queue_ops
from commsbot.posting.pipeline import close_channels, make_channels, open_channels
from commsbot.store import Store, iso
from commsbot.store import posts as posts_q
from commsbot.store import translations as translations_q
from tests.support.digest import EMAIL_SETTINGS, SmtpServer, smtp_server
from tests.support.telegram import ADMIN, TOKEN_ENV, BotThread, telegram_config
from tests.support.telegram_api import FakeTelegram

OFFICER = "officer@cross-innovation.example"
INTRUDER = 666


@dataclass
class Setup:
    fake: FakeTelegram
    smtp: SmtpServer
    path: Path

    def config(self) -> Config:
        return load_config(self.path)

    def store(self) -> Store:
        return Store(self.config().store.path)

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.path), *args])

    def admin_messages(self) -> list[dict[str, object]]:
        return self.fake.messages_to(ADMIN)

    def mails(self) -> list[str]:
        # Lines of a mail end in CRLF on the wire.
        return [m.part("plain").replace("\r\n", "\n") for m in self.smtp.recorder.to(OFFICER)]


def write(path: Path, alerts: str, extra: str = "") -> None:
    """The telegram config with an e-mail account, approval for announcements, and alerts."""
    base = path.read_text(encoding="utf-8").split("\n[alerts]", 1)[0]
    path.write_text(base + "\n[alerts]\n" + alerts + "\n" + extra, encoding="utf-8")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    with FakeTelegram(max_poll_timeout=1.0) as fake, smtp_server() as smtp:
        monkeypatch.setenv(TOKEN_ENV, fake.token)
        path = telegram_config(tmp_path, fake)
        text = path.read_text(encoding="utf-8")
        text += EMAIL_SETTINGS.format(port=smtp.port)
        text += '\n[approval]\ntypes = {announcement = "approve"}\n'
        path.write_text(text, encoding="utf-8")
        write(path, f'enabled = true\nemail = ["{OFFICER}"]')
        yield Setup(fake, smtp, path)


def announce(setup: Setup, text: str) -> int:
    """An announcement on the Telegram account, waiting for approval; its post id."""
    config = setup.config()
    with setup.store() as store:
        channels = make_channels(config, ["telegram"])
        (post_id,) = queue_ops.announce(store, config, channels, text, at=datetime.now(UTC))
        assert queue_ops.require_post(store, post_id)["status"] == "pending_approval"
    return post_id


def buttons(message: dict[str, object]) -> list[list[dict[str, str]]]:
    markup = message["reply_markup"]
    assert isinstance(markup, dict)
    rows: list[list[dict[str, str]]] = markup["inline_keyboard"]
    return rows


def test_admin_gets_a_message_with_buttons_and_approves_from_telegram(setup: Setup) -> None:
    post_id = announce(setup, "Study visit to Plzeň & Vilnius next week: sign up!")
    result = setup.invoke("run", "--once")
    assert "send-alerts: opened 1, sent 2" in result.output, result.output
    (alert,) = setup.admin_messages()
    assert alert["plain_text"] == (
        f"Post {post_id} to telegram waits for your approval.\n"
        "« Study visit to Plzeň & Vilnius next week: sign up! »"
    )
    assert buttons(alert) == [
        [
            {"text": "Approve", "callback_data": button_data("approve", post_id)},
            {"text": "Edit", "callback_data": button_data("edit", post_id)},
            {"text": "Cancel", "callback_data": button_data("cancel", post_id)},
        ]
    ]
    fake = setup.fake
    message_id = int(str(alert["message_id"]))
    with BotThread(setup.config(), clock=lambda: datetime.now(UTC)):
        # Callback data is the client's to write: a user who is not an admin is refused.
        fake.push_callback_query(button_data("cancel", post_id), user_id=INTRUDER)
        fake.wait_for_calls("answerCallbackQuery", 1, timeout=10)
        assert fake.callback_answers[-1]["text"] == "Only the bot's admins can do that."
        with setup.store() as store:
            assert queue_ops.require_post(store, post_id)["status"] == "pending_approval"
        fake.push_callback_query(button_data("edit", post_id), user_id=ADMIN, message_id=message_id)
        fake.wait_for_calls("answerCallbackQuery", 2, timeout=10)
        assert fake.callback_answers[-1]["text"] == (
            f"Edit post {post_id} with: commsbot queue edit {post_id} --text …"
        )
        fake.push_callback_query(
            button_data("approve", post_id), user_id=ADMIN, message_id=message_id
        )
        fake.wait_for_calls("answerCallbackQuery", 3, timeout=10)
        fake.wait_for_calls("editMessageReplyMarkup", 1, timeout=10)
    answer = fake.callback_answers[-1]["text"]
    assert isinstance(answer, str) and answer.startswith(f"Approved: post {post_id} goes out ")
    with setup.store() as store:
        post = queue_ops.require_post(store, post_id)
        trail = queue_ops.history(store, post_id)
    assert post["status"] == "queued"
    assert [(t["actor"], t["action"]) for t in trail] == [
        ("cli", "created"),
        (f"telegram:{ADMIN}", "approved"),
    ]
    # The post's buttons are gone from the message: a second tap cannot act again.
    (edited,) = [m for m in setup.admin_messages() if m["message_id"] == message_id]
    assert edited["reply_markup"] in (None, {"inline_keyboard": []})
    # `queue show` prints the same trail.
    shown = setup.invoke("queue", "show", str(post_id))
    assert f"telegram:{ADMIN}" in shown.output


def test_the_email_alert_arrives_with_a_link_to_the_console(setup: Setup) -> None:
    write(
        setup.path,
        f'enabled = true\nemail = ["{OFFICER}"]',
        '[web]\nbase_url = "https://comms.example.org/console"\n',
    )
    post_id = announce(setup, "A policy clinic in Vilnius")
    setup.invoke("run", "--once")
    (mail,) = setup.mails()
    assert mail.strip() == (
        f"Post {post_id} to telegram waits for your approval.\n"
        "« A policy clinic in Vilnius »\n"
        f"Open: https://comms.example.org/console/posts/{post_id}"
    )
    (received,) = setup.smtp.recorder.to(OFFICER)
    assert received.message["Subject"] == (
        f"commsbot alert: Post {post_id} to telegram waits for your approval."
    )
    # In Telegram, Edit opens the console's page for the post.
    (alert,) = setup.admin_messages()
    assert buttons(alert)[0][1] == {
        "text": "Edit",
        "url": f"https://comms.example.org/console/posts/{post_id}",
    }


def test_a_problem_seen_by_five_runs_is_alerted_once(setup: Setup) -> None:
    post_id = announce(setup, "Workshop in Tallinn")
    for _ in range(5):
        assert setup.invoke("run", "--once").exit_code == 0
    assert len(setup.admin_messages()) == 1
    assert len(setup.mails()) == 1
    listed = json.loads(setup.invoke("alerts", "list", "--json").output)
    (alert,) = listed["alerts"]
    assert (alert["problem"], alert["state"]) == (f"post:{post_id}:pending_approval", "open")
    assert sorted(d["channel"] for d in listed["deliveries"]) == ["email", "telegram"]
    # Gone, the alert is resolved and its recipients are told so, once (across runs); a
    # new problem is a new alert.
    assert setup.invoke("queue", "cancel", str(post_id)).exit_code == 0
    setup.invoke("run", "--once")
    second = announce(setup, "Final conference")
    setup.invoke("run", "--once")
    setup.invoke("run", "--once")
    messages = setup.admin_messages()
    assert len(messages) == 3
    assert messages[1]["plain_text"] == (
        f"Resolved: Post {post_id} to telegram waits for your approval."
    )
    assert str(messages[2]["plain_text"]).startswith(f"Post {second} to telegram waits")
    assert setup.mails()[1].strip() == messages[1]["plain_text"]
    (received,) = setup.smtp.recorder.to(OFFICER)[1:2]
    assert received.message["Subject"] == (
        f"commsbot resolved: Post {post_id} to telegram waits for your approval."
    )
    states = {
        a["problem"]: a["state"]
        for a in json.loads(setup.invoke("alerts", "list", "--json").output)["alerts"]
    }
    assert states == {
        f"post:{post_id}:pending_approval": "resolved",
        f"post:{second}:pending_approval": "open",
    }


def _alerts_at(config: Config, moment: datetime) -> dict[str, object]:
    async def run() -> dict[str, object]:
        problems: list[str] = []
        channels = await open_channels(config, problems, names=["telegram", "email"])
        assert not problems
        try:
            with Store(config.store.path) as store:
                report = await run_alerts(store, config, channels, lambda: moment)
        finally:
            await close_channels(channels)
        return report.result()

    return asyncio.run(run())


def test_the_daily_summary_collects_several_problems(setup: Setup) -> None:
    write(setup.path, f'enabled = true\nemail = ["{OFFICER}"]\ndaily_summary = "09:00"')
    config = setup.config()
    first = announce(setup, "Study visit")
    second = announce(setup, "General meeting")
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 08:00 in Brussels
    with setup.store() as store:
        posts_q.change_post(
            store, second, ("pending_approval",), now, status="failed", last_error="too long"
        )
        store.conn.execute(
            "INSERT INTO feeds (url, kind, disabled, disabled_reason, created_at, updated_at) "
            "VALUES ('https://partner.example/feed.xml', 'news', 1, 'HTTP 410 Gone', ?, ?)",
            (iso(now), iso(now)),
        )
        store.conn.commit()
    assert _alerts_at(config, now) == {"opened": 3}  # before 09:00: nothing is sent
    assert setup.admin_messages() == []
    assert _alerts_at(config, now + timedelta(hours=1, minutes=30)) == {"opened": 0, "sent": 2}
    assert _alerts_at(config, now + timedelta(hours=3)) == {"opened": 0}
    (summary,) = setup.admin_messages()
    assert summary["plain_text"] == (
        "Daily summary: 3 problems need you.\n\n"
        f"• Post {first} to telegram waits for your approval.\n« Study visit »\n\n"
        f"• Post {second} to telegram failed: too long\n\n"
        "• Feed https://partner.example/feed.xml is disabled: HTTP 410 Gone"
    )
    assert [[b["text"] for b in row] for row in buttons(summary)] == [
        [f"Approve #{first}", f"Edit #{first}", f"Cancel #{first}"]
    ]
    (mail,) = setup.smtp.recorder.to(OFFICER)
    assert mail.message["Subject"] == "commsbot: 3 problems need you"
    # The next day's summary holds what is new since.
    third = announce(setup, "Final conference")
    next_day = now + timedelta(days=1, hours=2)
    assert _alerts_at(config, next_day) == {"opened": 1, "sent": 2}
    latest = setup.admin_messages()[-1]
    assert str(latest["plain_text"]).startswith("Daily summary: 1 problem needs you.\n\n")
    assert f"Post {third} to telegram" in str(latest["plain_text"])


def test_an_admin_reads_alerts_in_the_language_they_chose(setup: Setup) -> None:
    config = setup.config()
    settings = config.channels["telegram"]
    assert isinstance(settings, TelegramSettings)
    salt = chat_salt(settings, config.store.path)
    post_id = announce(setup, "Warsztaty w Warszawie")
    with setup.store() as store:
        translations_q.set_chat_language(store, chat_hash(salt, ADMIN), "pl", datetime.now(UTC))
    setup.invoke("run", "--once")
    (alert,) = setup.admin_messages()
    assert str(alert["plain_text"]).startswith(f"Post {post_id} do telegram czeka na")
    assert [b["text"] for b in buttons(alert)[0]] == ["Zatwierdź", "Edytuj", "Anuluj"]
    # The e-mail list reads [alerts] language (English by default).
    assert setup.mails()[0].startswith(f"Post {post_id} to telegram waits")


def test_alerts_test_reaches_everyone(setup: Setup) -> None:
    write(setup.path, f'enabled = false\nemail = ["{OFFICER}"]')
    result = setup.invoke("alerts", "test")
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {setup.path}: alerts.enabled: alerts are off; set enabled = true under "
        "[alerts] (and where they go) to test them\n",
    )
    write(setup.path, f'enabled = true\nemail = ["{OFFICER}"]')
    result = setup.invoke("alerts", "test")
    assert (result.exit_code, result.output.strip()) == (0, "2 sent")
    (alert,) = setup.admin_messages()
    assert alert["plain_text"] == "Test alert: alerts from commsbot reach you here."
    assert setup.mails() == ["Test alert: alerts from commsbot reach you here.\n"]


@pytest.mark.parametrize(
    ("alerts", "problem"),
    [
        ('enabled = true\ndaily_summary = "9am"', 'alerts.daily_summary: must be a time "HH:MM"'),
        ('enabled = true\nemail = ["a@b.example\\nBcc: x@y.example"]', "alerts.email[0]: "),
        ('enabled = true\nproblems = ["weather"]', "alerts.problems[0]: must be one of"),
        ('enabled = true\nlanguage = "fr"', "alerts.language: "),
        ('enabled = true\nemail_account = "telegram"', "alerts.email_account: no e-mail"),
        ("enabled = true\ntelegram = false", "alerts.enabled: alerts go nowhere"),
        ('enabled = true\nresolved = "yes"', "alerts.resolved: must be true or false"),
    ],
)
def test_alerts_config_errors_name_the_file_and_key(
    setup: Setup, alerts: str, problem: str
) -> None:
    write(setup.path, alerts)
    with pytest.raises(ConfigError) as caught:
        load_config(setup.path)
    assert str(caught.value).startswith(f"{setup.path}: {problem}")
    result = setup.invoke("alerts", "list")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {setup.path}: {problem}")
    assert "Traceback" not in result.output


def test_telegram_alerts_need_the_bot_admins(setup: Setup) -> None:
    text = setup.path.read_text(encoding="utf-8").replace(f"admins = [{ADMIN}]", "admins = []")
    setup.path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"alerts\.telegram: Telegram alerts go to the bot's"):
        load_config(setup.path)


def test_a_delivery_the_server_defers_is_retried_by_a_later_run(setup: Setup) -> None:
    config = setup.config()
    setup.smtp.recorder.rcpt_replies[OFFICER] = "451 4.3.0 mailbox busy, try later"
    announce(setup, "Study visit")
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert _alerts_at(config, now) == {"opened": 1, "retrying": 1, "sent": 1}
    # Before the retry policy's backoff nothing is tried; after it, the mail goes, once.
    del setup.smtp.recorder.rcpt_replies[OFFICER]
    assert _alerts_at(config, now + timedelta(seconds=10)) == {"opened": 0}
    assert _alerts_at(config, now + timedelta(minutes=5)) == {"opened": 0, "sent": 1}
    assert _alerts_at(config, now + timedelta(minutes=10)) == {"opened": 0}
    assert len(setup.mails()) == 1
    assert len(setup.admin_messages()) == 1
    (delivery,) = [
        d
        for d in json.loads(setup.invoke("alerts", "list", "--json").output)["deliveries"]
        if d["channel"] == "email"
    ]
    assert (delivery["status"], delivery["attempts"]) == ("sent", 2)


def test_an_account_that_cannot_be_opened_is_alerted_on_the_others(setup: Setup) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    text = setup.path.read_text(encoding="utf-8")
    text = text.replace(f"smtp_port = {setup.smtp.port}", f"smtp_port = {closed}")
    setup.path.write_text(text, encoding="utf-8")
    for _ in range(2):
        result = setup.invoke("run", "--once")
        assert result.exit_code == 1  # run --once says something needs attention, too
    (alert,) = setup.admin_messages()
    assert alert["plain_text"] == (
        "Account email could not be opened: see commsbot channels test email."
    )
    assert "waiting email is not open: no e-mail alerts" in result.output


def test_accounts_stopped_or_paused_for_long_are_problems_a_short_wait_is_not(
    setup: Setup,
) -> None:
    config = setup.config()
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with setup.store() as store:
        store.conn.executemany(
            "INSERT INTO channel_state (channel, paused_until, down_reason, updated_at) "
            "VALUES (?, ?, ?, ?)",
            [
                ("mastodon", None, "Mastodon rejected the access token", iso(now)),
                ("telegram", iso(now + timedelta(seconds=30)), None, iso(now)),
                ("bluesky", iso(now + timedelta(hours=1)), None, iso(now)),
            ],
        )
        store.conn.commit()
        found = problems.found(store, config, now)
    assert found == {
        "account:bluesky:paused": (
            "account_paused",
            {"account": "bluesky", "until": iso(now + timedelta(hours=1))},
        ),
        "account:mastodon:down": (
            "account_down",
            {"account": "mastodon", "error": "Mastodon rejected the access token"},
        ),
    }
    assert _alerts_at(config, now) == {"opened": 2, "sent": 4}
    texts = sorted(str(m["plain_text"]) for m in setup.admin_messages())
    assert texts == [
        "Account bluesky is paused until 2026-11-23 14:00 CET.",
        "Account mastodon is stopped: Mastodon rejected the access token",
    ]
    # Both back up: each alert is resolved, and its recipients told so once.
    with setup.store() as store:
        store.conn.execute("DELETE FROM channel_state")
        store.conn.commit()
    later = now + timedelta(minutes=10)
    assert _alerts_at(config, later) == {"opened": 0, "sent": 4}
    assert _alerts_at(config, later + timedelta(minutes=5)) == {"opened": 0}
    texts = sorted(str(m["plain_text"]) for m in setup.admin_messages()[2:])
    assert texts == [
        "Resolved: Account bluesky is paused until 2026-11-23 14:00 CET.",
        "Resolved: Account mastodon is stopped: Mastodon rejected the access token",
    ]


def test_more_new_alerts_than_max_per_run_come_as_one_list(setup: Setup) -> None:
    write(setup.path, f'enabled = true\nemail = ["{OFFICER}"]\nmax_per_run = 2')
    ids = [announce(setup, f"Announcement {n}") for n in (1, 2, 3)]
    assert "send-alerts: opened 3, sent 2" in setup.invoke("run", "--once").output
    (message,) = setup.admin_messages()
    text = str(message["plain_text"])
    assert text.startswith("3 problems need you.\n\n• Post ")
    assert [text.count(f"Post {i} to telegram waits") for i in ids] == [1, 1, 1]
    assert [row[0]["text"] for row in buttons(message)] == [f"Approve #{i}" for i in ids]
    (mail,) = setup.smtp.recorder.to(OFFICER)
    assert mail.message["Subject"] == "commsbot: 3 problems need you"
    # Gone at once, they are told resolved in one list too.
    for post_id in ids:
        assert setup.invoke("queue", "cancel", str(post_id)).exit_code == 0
    assert "send-alerts: opened 0, sent 2" in setup.invoke("run", "--once").output
    resolved = str(setup.admin_messages()[-1]["plain_text"])
    assert resolved == "3 problems are resolved:\n" + "\n".join(
        f"• Post {i} to telegram waits for your approval." for i in ids
    )
    assert setup.smtp.recorder.to(OFFICER)[-1].message["Subject"] == (
        "commsbot: 3 problems resolved"
    )


def test_the_resolved_message_is_in_the_admins_language_and_told_once(setup: Setup) -> None:
    config = setup.config()
    settings = config.channels["telegram"]
    assert isinstance(settings, TelegramSettings)
    salt = chat_salt(settings, config.store.path)
    with setup.store() as store:
        translations_q.set_chat_language(store, chat_hash(salt, ADMIN), "pl", datetime.now(UTC))
    post_id = announce(setup, "Warsztaty w Warszawie")
    setup.invoke("run", "--once")
    assert setup.invoke("queue", "cancel", str(post_id)).exit_code == 0
    for _ in range(3):  # each run a new process's: told once across restarts
        assert "send-alerts: opened 0" in setup.invoke("run", "--once").output
    alert, resolved = setup.admin_messages()
    assert resolved["plain_text"] == ("Rozwiązane: " + str(alert["plain_text"]).splitlines()[0])
    assert str(resolved["plain_text"]).startswith(f"Rozwiązane: Post {post_id} do telegram")
    assert "reply_markup" not in resolved or not resolved["reply_markup"]
    # The e-mail list reads [alerts] language.
    assert setup.mails()[1].strip() == (
        f"Resolved: Post {post_id} to telegram waits for your approval."
    )
    listed = json.loads(setup.invoke("alerts", "list", "--json").output)
    (row,) = listed["alerts"]
    assert row["state"] == "resolved" and row["told_resolved"] is not None
    assert sorted(d["message"] for d in listed["deliveries"]) == [
        f"alert:{row['id']}",
        f"alert:{row['id']}",
        f"resolved:{row['id']}",
        f"resolved:{row['id']}",
    ]


def test_resolved_messages_can_be_turned_off(setup: Setup) -> None:
    write(setup.path, f'enabled = true\nemail = ["{OFFICER}"]\nresolved = false')
    post_id = announce(setup, "Study visit")
    setup.invoke("run", "--once")
    assert setup.invoke("queue", "cancel", str(post_id)).exit_code == 0
    setup.invoke("run", "--once")
    assert (len(setup.admin_messages()), len(setup.mails())) == (1, 1)
    # Turned on again, it tells only what is resolved from then on.
    write(setup.path, f'enabled = true\nemail = ["{OFFICER}"]')
    setup.invoke("run", "--once")
    assert (len(setup.admin_messages()), len(setup.mails())) == (1, 1)
    listed = json.loads(setup.invoke("alerts", "list", "--json").output)
    assert [a["state"] for a in listed["alerts"]] == ["resolved"]


def test_a_deferred_resolved_message_is_retried_in_the_same_words(setup: Setup) -> None:
    config = setup.config()
    post_id = announce(setup, "Study visit")
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert _alerts_at(config, now) == {"opened": 1, "sent": 2}
    assert setup.invoke("queue", "cancel", str(post_id)).exit_code == 0
    setup.smtp.recorder.rcpt_replies[OFFICER] = "451 4.3.0 mailbox busy, try later"
    later = now + timedelta(minutes=5)
    assert _alerts_at(config, later) == {"opened": 0, "retrying": 1, "sent": 1}
    del setup.smtp.recorder.rcpt_replies[OFFICER]
    assert _alerts_at(config, later + timedelta(minutes=5)) == {"opened": 0, "sent": 1}
    assert _alerts_at(config, later + timedelta(minutes=10)) == {"opened": 0}
    assert setup.mails()[1].strip() == (
        f"Resolved: Post {post_id} to telegram waits for your approval."
    )
    assert len(setup.mails()) == 2 and len(setup.admin_messages()) == 2


def test_the_daily_summary_lists_what_was_resolved_since_the_last(setup: Setup) -> None:
    write(setup.path, f'enabled = true\nemail = ["{OFFICER}"]\ndaily_summary = "09:00"')
    config = setup.config()
    first = announce(setup, "Study visit")
    second = announce(setup, "General meeting")
    now = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # 09:30 in Brussels
    assert _alerts_at(config, now) == {"opened": 2, "sent": 2}
    assert setup.invoke("queue", "cancel", str(first)).exit_code == 0
    # A problem that comes and goes between two summaries is listed too.
    third = announce(setup, "Short-lived")
    assert _alerts_at(config, now + timedelta(hours=3)) == {"opened": 1}
    assert setup.invoke("queue", "cancel", str(third)).exit_code == 0
    assert _alerts_at(config, now + timedelta(hours=4)) == {"opened": 0}
    assert len(setup.admin_messages()) == 1  # nothing between summaries
    assert _alerts_at(config, now + timedelta(days=1)) == {"opened": 0, "sent": 2}
    latest = setup.admin_messages()[-1]
    assert latest["plain_text"] == (
        "Daily summary: nothing new needs you.\n\n"
        "Resolved since the last summary:\n"
        f"• Post {first} to telegram waits for your approval.\n"
        f"• Post {third} to telegram waits for your approval."
    )
    assert setup.smtp.recorder.to(OFFICER)[-1].message["Subject"] == (
        "commsbot: 2 problems resolved"
    )
    # Told once: the next summary has nothing new, and is not sent; the open one stays.
    assert _alerts_at(config, now + timedelta(days=2)) == {"opened": 0}
    assert len(setup.admin_messages()) == 2
    states = {
        a["problem"]: a["state"]
        for a in json.loads(setup.invoke("alerts", "list", "--json").output)["alerts"]
    }
    assert states[f"post:{second}:pending_approval"] == "open"


def test_an_upgraded_store_sends_no_resolved_message_for_old_alerts(setup: Setup) -> None:
    config = setup.config()
    stamp = iso(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    with Store(config.store.path, upto=28) as old:  # before the resolved messages
        old.conn.execute(
            "INSERT INTO alerts (problem, kind, facts, opened_at, seen_at, notified_at, "
            "resolved_at) VALUES ('feed:1:disabled', 'feed', '{}', ?, ?, ?, ?)",
            (stamp, stamp, stamp, stamp),
        )
        old.conn.commit()
    assert setup.invoke("run", "--once").exit_code == 0
    assert setup.admin_messages() == [] and setup.mails() == []
    (row,) = json.loads(setup.invoke("alerts", "list", "--json").output)["alerts"]
    assert row["told_resolved"] is not None


def test_a_failed_post_sent_on_retry_is_told_resolved(setup: Setup) -> None:
    config = setup.config()
    post_id = announce(setup, "Study visit")
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with setup.store() as store:
        posts_q.change_post(
            store, post_id, ("pending_approval",), now, status="failed", last_error="timed out"
        )
    assert _alerts_at(config, now) == {"opened": 1, "sent": 2}
    with setup.store() as store:  # retried, and sent this time
        posts_q.change_post(store, post_id, ("failed",), now, status="sent", last_error=None)
    assert _alerts_at(config, now + timedelta(minutes=5)) == {"opened": 0, "sent": 2}
    assert _alerts_at(config, now + timedelta(minutes=10)) == {"opened": 0}
    assert [m["plain_text"] for m in setup.admin_messages()] == [
        f"Post {post_id} to telegram failed: timed out",
        f"Resolved: Post {post_id} to telegram failed: timed out",
    ]
