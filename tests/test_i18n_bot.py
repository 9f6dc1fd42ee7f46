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
from tests.support.telegram import (
    ADMIN,
    TOKEN_ENV,
    BotThread,
    add,
    ask,
    small_content,
    telegram_config,
)
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


def test_the_officers_replies_in_polish_with_their_plural_forms(running: Running) -> None:
    """The admin commands (#19): the outbox's count takes "few" (2-4) and "many" (5+)."""
    assert said(running, "/queue", ADMIN, "pl") == (
        "Skrzynka nadawcza jest pusta: nic nie czeka, nie zawiodło ani nie jest nieznane."
    )
    announced = said(running, "/announce Spotkanie generalne", ADMIN, "pl")
    assert announced.startswith("Ogłoszenie w kolejce\nPost 1 na telegram: wychodzi od ")
    said(running, "/announce Drugie", ADMIN, "pl")
    queue = said(running, "/queue", ADMIN, "pl")
    assert queue.startswith("Skrzynka nadawcza: 2 posty oczekujące, nieudane lub nieznane\n\n")
    assert " · w kolejce · " in queue and "ogłoszenie announcement-1: Spotkanie generalne" in queue
    for n in range(3, 6):
        said(running, f"/announce Ogłoszenie {n}", ADMIN, "pl")
    assert said(running, "/queue", ADMIN, "pl").startswith(
        "Skrzynka nadawcza: 5 postów oczekujących, nieudanych lub nieznanych\n\n"
    )
    status = said(running, "/status", ADMIN, "pl")
    assert status.startswith("Stan\ntelegram: 5 w kolejce\nSubskrybenci: ")
    assert status.endswith(" przez telegram.")  # the chats subscribed by the tests before
    assert said(running, "/cancel 5", ADMIN, "pl") == "Post 5 na telegram anulowany."
    assert said(running, "/approve 99", ADMIN, "pl") == "/approve: brak posta o id 99"
    # The same commands in German, for a chat that chose it.
    assert said(running, "/language de", ADMIN, "pl").startswith("Die Sprache dieses Chats")
    assert said(running, "/cancel 4", ADMIN, "pl") == "Beitrag 4 auf telegram abgebrochen."


def test_themes_and_typed_words_in_the_chats_language(running: Running) -> None:
    """Theme names come from the catalogs; "vergangene", "monatlich", a theme's German
    name and its English one are all understood from a German chat."""
    user = 2011
    themes = said(running, "/themes", user, "de")
    assert themes.startswith("Die Themen\n\nVermittlung — 6 Praxisbeispiele\n")
    assert "Intelligente Anreize — " in themes
    assert said(running, "/practices Vermittlung", user, "de").startswith(
        "Gute Praxisbeispiele · Vermittlung\n6 Praxisbeispiele"
    )
    assert said(running, "/practices brokerage", user, "de").startswith(
        "Gute Praxisbeispiele · Vermittlung\n"
    )
    assert said(running, "/events vergangene", user, "de").startswith(
        "Vergangene Veranstaltungen\n\nPolicy clinic, Vilnius"
    )
    assert said(running, "/events Past", user, "de").startswith("Vergangene Veranstaltungen")
    said(running, "/subscribe monatlich Vermittlung", user, "de")
    with Store(running.config.store.path) as store:
        row = audience_q.get_subscriber(store, "telegram", str(user))
    assert row is not None
    assert (row["frequency"], row["themes"]) == ("monthly", ["brokerage"])
    # Polish: "miesięczny" with its diacritics, or without them.
    said(running, "/subscribe miesieczny", 2012, "pl")
    with Store(running.config.store.path) as store:
        row = audience_q.get_subscriber(store, "telegram", "2012")
    assert row is not None and row["frequency"] == "monthly"


def test_search_finds_events_newsletters_and_news_in_any_language(running: Running) -> None:
    """/search looks past practices (#19): an event by its German translation and by its
    outcome, a newsletter, and news brought by a feed."""
    with Store(running.config.store.path) as store:
        translate(
            store,
            TYPES["event"],
            "policy-clinic",
            "de",
            {"title": "Politikklinik zu Gutscheinen"},
            NOW,
        )
        add(store, "news", [{"title": "Vilnius makerspace opens", "guid": "n-1"}], NOW)
    found = said(running, "/search Politikklinik", 2013, "de")
    assert found == (
        "Veranstaltungen mit „Politikklinik“\n\n"
        "Politikklinik zu Gutscheinen, Vilnius\n01.03.2013 · Politikklinik"
    )
    assert said(running, "/search voucher schemes", 2013, "de").startswith(
        "Veranstaltungen mit „voucher schemes“\n\nPolitikklinik zu Gutscheinen, Vilnius"
    )
    assert "Newsletter #1" in said(running, "/search Study visits", 2014, "en")
    news = said(running, "/search makerspace", 2014, "en")
    assert news == "News mentioning “makerspace”\n\nVilnius makerspace opens"
