"""The bot in the chat's language (#19): users talk to it through FakeTelegram over loopback
HTTP with their app's ``language_code``; ``/language`` changes it for the chat."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from commsbot.config import Config, load_config
from commsbot.content.translations import translate
from commsbot.content.types import TYPES
from commsbot.store import Store
from commsbot.store import audience as audience_q
from commsbot.store import content as content_q
from commsbot.text import is_valid_telegram_html
from tests.support.base import NOW
from tests.support.telegram import TOKEN_ENV, BotThread, add, ask, small_content, telegram_config
from tests.support.telegram_api import FakeTelegram


@dataclass
class Running:
    fake: FakeTelegram
    config: Config


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Plzeň has 3 practices ("few" in Polish), Vilnius 5 ("many"), 8 in all; one of
    Plzeň's has a Polish translation; the network knows Plzeň as Pilsen too."""
    folder = tmp_path_factory.mktemp("i18n-bot")
    with FakeTelegram(max_poll_timeout=1.0) as fake, pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, fake.token)
        config = load_config(telegram_config(folder, fake))
        with Store(config.store.path) as store:
            small_content(store)
            content_q.insert_reference(
                store,
                [
                    {
                        "slug": "plzen",
                        "name": "Plzeň",
                        "local_name": "Plzeň",
                        "country": "Czechia",
                        "aliases": ["Pilsen", "Pilzno"],
                    }
                ],
                [],
            )
            add(
                store,
                "practice",
                [{"title": "Brewery labs", "city": "plzen", "theme": "brokerage"}]
                + [
                    {"title": f"Vilnius studio {i}", "city": "vilnius", "theme": "brokerage"}
                    for i in range(1, 5)
                ],
                NOW,
            )
            translate(
                store,
                TYPES["practice"],
                "tram-depot",
                "pl",
                {"title": "Studia w dawnej zajezdni tramwajowej"},
                NOW,
            )
        with BotThread(config):
            yield Running(fake, config)


def said(running: Running, text: str, user: int, language: str | None) -> str:
    message = ask(running.fake, text, user, language_code=language)
    assert message["parse_mode"] == "HTML"
    assert is_valid_telegram_html(message["text"])
    return str(message["plain_text"])


def test_a_polish_user_gets_polish_with_its_plural_forms(running: Running) -> None:
    user = 2001
    start = said(running, "/start", user, "pl")
    assert start.startswith("Cześć! Jestem botem sieci Cross-Innovation, europejskich miast")
    assert "/practices — dobre praktyki według miasta i tematu" in start
    assert said(running, "/practices", user, "pl").startswith(
        "Dobre praktyki\n8 praktyk · strona 1 z 2\n\n"
    )
    few = said(running, "/practices plzen", user, "pl")
    assert few.startswith("Dobre praktyki: Plzeň\n3 praktyki · strona 1 z 1\n\n")
    # The Polish translation is shown where there is one, the original elsewhere.
    assert "Studia w dawnej zajezdni tramwajowej" in few and "Brewery labs" in few
    assert said(running, "/practices vilnius", user, "pl").startswith(
        "Dobre praktyki: Vilnius\n5 praktyk · strona 1 z 1"
    )
    assert "Plzeň, Czechia — 3 praktyki" in said(running, "/cities", user, "pl")
    assert said(running, "/events past", user, "pl") == (
        "Minione wydarzenia\n\nPolicy clinic, Vilnius\n"
        "od 1 mar 2013 do 2 mar 2013 · klinika polityk · 40+ uczestników\nSzczegóły"
    )
    assert said(running, "/events", user, "pl") == (
        "Obecnie brak nadchodzących wydarzeń. /events past pokazuje ostatnie."
    )


def test_language_switches_the_chat_to_german(running: Running) -> None:
    user = 2002
    assert said(running, "/language de", user, "pl").startswith(
        "Die Sprache dieses Chats ist jetzt: Deutsch.\n\nWähle eine andere mit /language xx:"
    )
    # The user's app still says Polish; the chat's choice wins from now on.
    assert said(running, "/start", user, "pl").startswith("Hallo! Ich bin der Bot")
    assert said(running, "/practices plzen", user, "pl").startswith(
        "Gute Praxisbeispiele in Plzeň\n3 Praxisbeispiele · Seite 1 von 1"
    )
    assert said(running, "/events past", user, "pl").startswith(
        "Vergangene Veranstaltungen\n\nPolicy clinic, Vilnius\n"
        "01.03.2013 bis 02.03.2013 · Politikklinik · 40+ Teilnehmende"
    )
    # Another chat of a Polish user is not affected.
    assert said(running, "/start", 2003, "pl").startswith("Cześć!")


def test_unknown_languages_fall_back_to_english(running: Running) -> None:
    assert said(running, "/start", 2004, "ja").startswith("Hello! I am the bot")
    assert said(running, "/start", 2005, None).startswith("Hello! I am the bot")
    assert said(running, "/start", 2006, "pt-BR").startswith("Olá! Sou o bot")
    refused = said(running, "/language xx", 2007, "cs")
    assert refused.startswith(
        "Mluvím těmito jazyky: en, nl, it, de, et, pl, lt, sv, pt, cs.\nPoužití: /language [kód]"
    )


def test_pilsen_and_plzen_find_plzens_practices(running: Running) -> None:
    pilsen = said(running, "/practices Pilsen", 2008, "de")
    assert pilsen.startswith("Gute Praxisbeispiele in Plzeň\n3 Praxisbeispiele")
    found = said(running, "/search Plzen", 2008, "de")
    assert found.startswith("Praxisbeispiele mit „Plzen“ (die besten 3)")
    for title in ("The <co>lab & friends", "Tram depot studios", "Brewery labs"):
        assert title in found
    assert "Vilnius" not in found
    # A Polish title is found by its Polish words, diacritics folded.
    polish = said(running, "/search zajezdni tramwajowej", 2009, "pl")
    assert "Studia w dawnej zajezdni tramwajowej" in polish


def test_subscribing_keeps_the_chats_language(running: Running) -> None:
    said(running, "/subscribe weekly", 2010, "lt")
    with Store(running.config.store.path) as store:
        row = audience_q.get_subscriber(store, "telegram", "2010")
    assert row is not None and row["language"] == "lt"
