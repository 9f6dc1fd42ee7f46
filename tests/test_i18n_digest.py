"""Digests in the subscriber's language (#19), received by a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from commsbot.channels.email import EmailChannel
from commsbot.config import Config
from commsbot.content.items import load_sample
from commsbot.digests.build import parse_period
from commsbot.digests.send import send_period
from commsbot.digests.subscribers import add_email
from commsbot.store import Store
from commsbot.store import audience as audience_q
from tests.support.base import Invoke
from tests.support.digest import SmtpServer, at, smtp_server, write_config

DASH = "\N{EN DASH}"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def config_path(tmp_path: Path, smtp: SmtpServer) -> Path:
    """Overrides conftest's: the same store and outbox, plus e-mail to the test server."""
    return write_config(tmp_path / "commsbot.toml", smtp.port)


def send_week_47(store: Store, config: Config) -> None:
    async def fan_out() -> None:
        channel = EmailChannel(config.channel("email"))
        await channel.open()
        try:
            await send_period(
                store,
                config,
                {"email": channel},
                parse_period("2026-W47", config.zone),
                clock=lambda: at("2026-11-24"),
            )
        finally:
            await channel.close()

    asyncio.run(asyncio.wait_for(fan_out(), 30))


def test_a_german_subscriber_gets_the_digest_in_german(
    store: Store, config: Config, smtp: SmtpServer, invoke: Invoke
) -> None:
    load_sample(store, at("2026-11-18"))
    joined = at("2026-11-01")
    add_email(store, "greta@example.org", "weekly", ["Berlin"], [], joined, "de")
    add_email(store, "anna@example.org", "weekly", ["berlin"], [], joined)
    send_week_47(store, config)

    [greta] = smtp.recorder.to("greta@example.org")
    message, html = greta.message, greta.part("html")
    text = greta.part("plain").replace("\r\n", "\n")
    assert message["Content-Language"] == "de"
    assert str(message["Subject"]).startswith(
        f"Cross-Innovation digest, Woche 47, 16.{DASH}22. Nov. 2026: "
    )
    assert str(message["Subject"]).endswith(" neue Einträge")
    assert text.startswith(
        f"Cross-Innovation digest\nWoche 47, 16.{DASH}22. Nov. 2026\n"
        "Für Berlin · alle Themen. Neu seit 16.11.2026.\n\nNeue gute Praxisbeispiele\n"
    )
    # The sample's German translation stands in for its original; the rest are marked English.
    assert "* Prototypenfonds für Serious Games (Berlin, " in text
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
    load_sample(store, at("2026-11-18"))
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
    assert audience_q.get_subscriber(store, "email", "ola@example.org")["language"] == "pl"  # type: ignore[index]
    assert audience_q.get_subscriber(store, "email", "bo@example.org")["language"] == "en"  # type: ignore[index]
    # Changing other choices keeps the language.
    invoke("subscribers", "add", "ola@example.org", "--frequency", "monthly")
    assert audience_q.get_subscriber(store, "email", "ola@example.org")["language"] == "pl"  # type: ignore[index]
    bad = tmp_path / "bad.csv"
    bad.write_text("email,language\nx@example.org,klingon\n", encoding="utf-8")
    refused = invoke("subscribers", "import", str(bad))
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {bad}: row 2: language: unknown language 'klingon' "
        "(known: en, nl, it, de, et, pl, lt, sv, pt, cs)\n"
    )
