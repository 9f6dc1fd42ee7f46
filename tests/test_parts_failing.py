"""A Telegram bot that cannot start is something the officer sees (#17): the service's
Supervisor runs the real bot against the fake Bot API, the alert arrives by e-mail through
aiosmtpd (once, however often the bot is tried again, then "resolved" when it runs), and
the console's Today page, served by the real app, lists it with what to check."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from commsbot.alerts.messages import write
from commsbot.config import Config, load_config
from commsbot.i18n import LANGUAGES
from commsbot.service.lock import StoreLock
from commsbot.service.process import SERVICE_LOCK, Service
from commsbot.store import Store
from commsbot.store import service as service_q
from tests.support.digest import EMAIL_SETTINGS, SmtpServer, smtp_server
from tests.support.service import make_config, until
from tests.support.telegram import TOKEN_ENV, telegram_config
from tests.support.telegram_api import FakeTelegram
from tests.support.web import Running, add_users, sign_in

OFFICER = "officer@cross-innovation.example"
GOOD = "5511223344:AAGood-token-of-the-network-bot-xyz"
# What a leaked token would look like: a test fails if it shows anywhere.
BAD = "7788990011:AAHw-not-the-token-but-looks-like-one"
PART = "telegram-bot (telegram)"


@dataclass
class Setup:
    fake: FakeTelegram
    smtp: SmtpServer
    config: Config

    def mails(self, about: str) -> list[str]:
        """The plain text of each alert e-mail to the officer that mentions ``about``."""
        texts = [m.part("plain").replace("\r\n", "\n") for m in self.smtp.recorder.to(OFFICER)]
        return [t.strip() for t in texts if about in t]

    def part_state(self) -> str | None:
        with Store(self.config.store.path) as store:
            row = service_q.part_states(store).get(PART)
        return None if row is None else str(row["state"])

    def alert_runs(self) -> int:
        with Store(self.config.store.path) as store:
            return len(store.rows("SELECT id FROM job_runs WHERE job = 'send-alerts'"))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    with FakeTelegram(token=GOOD, max_poll_timeout=1.0) as fake, smtp_server() as smtp:
        schedules = tmp_path / "schedules"
        schedules.mkdir()
        (schedules / "alerts.toml").write_text('[send-alerts]\nevery = "1s"\n')
        path = telegram_config(tmp_path, fake)
        path.write_text(
            path.read_text(encoding="utf-8")
            + EMAIL_SETTINGS.format(port=smtp.port)
            + f'\n[alerts]\nenabled = true\nemail = ["{OFFICER}"]\n'
            + f'\n[service]\nschedules = "{schedules}"\nrestart_seconds = 1\n'
            + "restart_max_seconds = 1\n"
            + "\n[web]\nenabled = true\nport = 0\n",
            encoding="utf-8",
        )
        config = load_config(path)
        with Store(config.store.path) as store:
            add_users(store, datetime.now(UTC))
        yield Setup(fake, smtp, config)


def today(url: str) -> str:
    """The Today page as the officer reads it, through the console's HTTP server."""
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client:
        assert sign_in(client, "ana").status_code == 303
        page = client.get("/")
        assert page.status_code == 200
        return page.text


def serve(config: Config, scenario: Callable[[str], Awaitable[None]]) -> None:
    """The service (its Supervisor, its alerts job) holding the store's lock as ``commsbot
    run`` does, and the console over the same store, while ``scenario(console_url)`` runs;
    both stopped after it."""

    async def main() -> None:
        service = Service(config)
        task = asyncio.create_task(service.run())
        try:
            with Running(config) as url:
                await scenario(url)
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)

    with StoreLock(config.store.path, SERVICE_LOCK):
        asyncio.run(main())


def failures(caplog: pytest.LogCaptureFixture) -> int:
    """How many times the Supervisor has logged the bot's failure to start."""
    return sum(f"{PART} failed to start" in r.getMessage() for r in caplog.records)


def test_a_refused_token_is_one_alert_and_a_today_item_then_resolved(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(TOKEN_ENV, BAD)  # the fake Bot API answers getMe with 401
    caplog.set_level("INFO", logger="commsbot.service")
    host = f"127.0.0.1:{setup.fake.port}"
    said = f"Telegram rejected the bot token in ${TOKEN_ENV}"
    seen: dict[str, Any] = {}

    async def scenario(url: str) -> None:
        await until(lambda: setup.mails("cannot start"))
        # Tried again and again, and alerts runs in between: still the one alert.
        tries, runs = failures(caplog), setup.alert_runs()
        await until(lambda: failures(caplog) >= tries + 3 and setup.alert_runs() >= runs + 3)
        seen["alerts"] = setup.mails("cannot start")
        seen["today"] = await asyncio.to_thread(today, url)
        monkeypatch.setenv(TOKEN_ENV, GOOD)  # the officer puts the right token in place
        await until(lambda: setup.part_state() == "running")
        await until(lambda: setup.mails("Resolved: The Telegram bot"))
        seen["resolved"] = setup.mails("Resolved: The Telegram bot")
        seen["after"] = await asyncio.to_thread(today, url)

    serve(setup.config, scenario)

    assert seen["alerts"] == [
        f"The Telegram bot of telegram cannot start: {said}\n"
        f"Check the bot token in the environment variable {TOKEN_ENV}, and that {host} can "
        "be reached from this machine."
    ]
    assert seen["resolved"] == [f"Resolved: The Telegram bot of telegram cannot start: {said}"]
    page = seen["today"]
    assert "Parts of the service that cannot start" in page
    assert f"<strong>{PART}</strong>: {said}<br>Failing since " in page
    assert "; tried again at " in page
    assert f"environment variable {TOKEN_ENV}, and that {host} can be reached" in page
    assert "Parts of the service that cannot start" not in seen["after"]
    # The posting account the same token opens is not open either, until it is.
    assert f"<strong>telegram</strong>: not opened: {said}; tried again before each job" in page
    assert "not opened" not in seen["after"]
    for text in (page, seen["after"], *seen["alerts"], *seen["resolved"]):
        assert BAD.lower() not in text.lower() and GOOD.lower() not in text.lower()


def test_a_token_in_a_library_error_is_masked_on_today_and_in_the_alert(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, GOOD)
    # getMe passes; the Bot API's refusal of the next call quotes the token, as a server or
    # a library may, and python-telegram-bot passes it on in its error.
    setup.fake.fail_next(
        "deleteWebhook", 400, f"Bad Request: no webhook for bot{GOOD}", count=10_000
    )
    seen: dict[str, Any] = {}

    async def scenario(url: str) -> None:
        await until(lambda: setup.mails("cannot start"))
        seen["today"] = await asyncio.to_thread(today, url)
        with Store(setup.config.store.path) as store:
            seen["stored"] = service_q.part_states(store)[PART]["detail"]

    serve(setup.config, scenario)

    # python-telegram-bot capitalized the answer, lowering the token's letters: still masked.
    assert seen["stored"] == "No webhook for bot***"
    (alert,) = setup.mails("cannot start")
    assert alert.splitlines()[0] == (
        "The Telegram bot of telegram cannot start: No webhook for bot***"
    )
    page = seen["today"]
    assert f"<strong>{PART}</strong>: No webhook for bot***" in page
    assert GOOD.lower() not in page.lower() and GOOD.lower() not in alert.lower()


def test_a_bot_that_cannot_reach_telegram_says_so_on_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loopback port nothing listens on: Telegram unreachable.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv(TOKEN_ENV, GOOD)
    with FakeTelegram(token=GOOD) as fake:
        path = telegram_config(
            tmp_path,
            fake,
            base_url=f"http://127.0.0.1:{closed}/bot",
            base_file_url=f"http://127.0.0.1:{closed}/file/bot",
        )
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\n[service]\nrestart_seconds = 1\n\n[web]\nenabled = true\nport = 0\n",
        encoding="utf-8",
    )
    config = load_config(path)
    with Store(config.store.path) as store:
        add_users(store, datetime.now(UTC))
    seen: dict[str, str] = {}

    def failing() -> bool:
        with Store(config.store.path) as store:
            return bool(service_q.failing_parts(store))

    async def scenario(url: str) -> None:
        await until(failing)
        seen["today"] = await asyncio.to_thread(today, url)

    serve(config, scenario)
    page = seen["today"]
    assert (
        f"<strong>{PART}</strong>: cannot reach Telegram at http://127.0.0.1:{closed}/bot" in page
    )
    assert f"and that 127.0.0.1:{closed} can be reached from this machine." in page
    assert (
        "<strong>telegram</strong>: not opened: cannot reach Telegram at "
        f"http://127.0.0.1:{closed}/bot" in page
    )
    # Once the service has stopped, its last word on the account is not news.
    from commsbot.service.status import health

    with Store(config.store.path) as store:
        states = {
            c["channel"]: c["state"] for c in health(store, config, datetime.now(UTC))["channels"]
        }
    assert states["telegram"] == "ok"
    assert GOOD not in page


def test_the_part_alert_speaks_every_language() -> None:
    config = load_config(Path(__file__).parents[1] / "config.example.toml")
    alert = {
        "id": 1,
        "kind": "part_failed",
        "facts": {
            "part": PART,
            "account": "telegram",
            "error": "Telegram rejected the bot token in $COMMSBOT_TELEGRAM_TOKEN",
            "check": {"what": "bot", "env": "COMMSBOT_TELEGRAM_TOKEN", "host": "api.telegram.org"},
        },
    }
    console = {
        **alert,
        "facts": {
            "part": "web-console",
            "account": "",
            "error": "[Errno 98] address already in use",
            "check": {"what": "console", "address": "127.0.0.1:8080"},
        },
    }
    english = [write([a], "en", config).text for a in (alert, console)]
    assert english[1] == (
        "The console cannot start: [Errno 98] address already in use\n"
        "Check that no other program listens on 127.0.0.1:8080 ([web] host and port)."
    )
    for language in LANGUAGES:
        if language == "en":
            continue
        for said, a in zip(english, (alert, console), strict=True):
            text = write([a], language, config).text
            assert text != said, language
            assert "COMMSBOT_TELEGRAM_TOKEN" in text or "127.0.0.1:8080" in text


def test_a_console_that_cannot_listen_is_one_alert_naming_its_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from commsbot.alerts.problems import CONSOLE_PART
    from commsbot.service.process import PARTS, Part
    from commsbot.web.server import needs_web

    caplog.set_level("INFO", logger="commsbot.service")
    with (
        smtp_server() as smtp,
        socket.create_server(("127.0.0.1", 0)) as taken,  # another program holds the port
    ):
        port = taken.getsockname()[1]
        schedules = tmp_path / "schedules"
        schedules.mkdir()
        (schedules / "alerts.toml").write_text('[send-alerts]\nevery = "1s"\n')
        config = make_config(
            tmp_path,
            extra=EMAIL_SETTINGS.format(port=smtp.port)
            + f'\n[alerts]\nenabled = true\ntelegram = false\nemail = ["{OFFICER}"]\n'
            + f"\n[web]\nenabled = true\nport = {port}\n",
            service=f'schedules = "{schedules}"\nrestart_seconds = 1\nrestart_max_seconds = 1',
        )
        console = Part(CONSOLE_PART, "commsbot.web.server:web_part", needs_web)

        def mails() -> list[str]:
            texts = [m.part("plain").replace("\r\n", "\n") for m in smtp.recorder.to(OFFICER)]
            return [t.strip() for t in texts]

        def tries() -> int:
            return sum(f"{CONSOLE_PART} failed to start" in r.getMessage() for r in caplog.records)

        async def main() -> None:
            service = Service(config, parts=(*PARTS, console))
            task = asyncio.create_task(service.run())
            try:
                await until(mails)
                await until(lambda: tries() >= 3)
            finally:
                service.stop()
                await asyncio.wait_for(task, 30)

        with StoreLock(config.store.path, SERVICE_LOCK):
            asyncio.run(main())

    (alert,) = mails()  # one, after three tries
    said, check = alert.splitlines()
    assert said.startswith(
        f"The console cannot start: web: the console cannot listen on 127.0.0.1:{port} "
        "(Address already in use"
    ), said
    assert (
        check == f"Check that no other program listens on 127.0.0.1:{port} ([web] host and port)."
    )


def test_failing_since_is_the_first_failure_in_a_row(tmp_path: Path) -> None:
    from datetime import timedelta

    first = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with Store(tmp_path / "commsbot.db") as store:
        for minutes, state in ((0, "failed"), (1, "failed"), (2, "running"), (5, "failed")):
            when = first + timedelta(minutes=minutes)
            service_q.set_part_state(
                store,
                PART,
                state,
                "why" if state == "failed" else None,
                when,
                next_try=when + timedelta(seconds=10) if state == "failed" else None,
            )
            if minutes == 1:
                (row,) = service_q.failing_parts(store)
                assert (row["failing_since"], row["since"]) == (
                    "2026-12-02T09:00:00Z",
                    "2026-12-02T09:01:00Z",
                )
        (row,) = service_q.failing_parts(store)
        assert row["failing_since"] == "2026-12-02T09:05:00Z"  # a new run of failures
        assert row["next_try"] == "2026-12-02T09:05:10Z"
        service_q.set_part_state(store, "web-console", "running", None, first)
        service_q.forget_parts(store, ["web-console"])  # the bot is no longer started
        assert list(service_q.part_states(store)) == ["web-console"]
