"""Digests without the network: periods, what is new for whom, and the rendered texts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from commsbot.channels.email import EmailChannel, EmailSettings
from commsbot.config import Config, load_config
from commsbot.content.items import add_items, edit_item, load_sample
from commsbot.content.places import Places
from commsbot.content.types import TYPES
from commsbot.digests.build import (
    Contents,
    DigestRenderer,
    Period,
    last_complete,
    parse_period,
    period_of,
    sample_subscriber,
)
from commsbot.digests.send import preview
from commsbot.errors import ConfigError, ContentError, TemplateError
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.text import is_valid_telegram_html
from tests.support.base import NOW, Invoke
from tests.support.digest import add_practice, at, subscribe
from tests.support.telegram_api import parse_html, utf16_len

BRUSSELS = ZoneInfo("Europe/Brussels")
DASH = "\N{EN DASH}"
W47 = "2026-11-18"  # a Wednesday in ISO week 47


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS)


@pytest.mark.parametrize(
    ("text", "frequency", "start", "end", "title"),
    [
        ("2026-W48", "weekly", "2026-11-23", "2026-11-30", f"Week 48, 23{DASH}29 November 2026"),
        (
            "2026-w9",
            "weekly",
            "2026-02-23",
            "2026-03-02",
            f"Week 9, 23 February {DASH} 1 March 2026",
        ),
        (
            "2026-W53",
            "weekly",
            "2026-12-28",
            "2027-01-04",
            f"Week 53, 28 December {DASH} 3 January 2027",
        ),
        ("2026-11", "monthly", "2026-11-01", "2026-12-01", "November 2026"),
        ("2026-12", "monthly", "2026-12-01", "2027-01-01", "December 2026"),
    ],
)
def test_periods(text: str, frequency: str, start: str, end: str, title: str) -> None:
    period = parse_period(text, BRUSSELS)
    assert period.frequency == frequency
    assert (period.start, period.end) == (local(start), local(end))
    assert period.title == title


def test_period_boundaries_follow_the_zone() -> None:
    # 23:30 UTC on Sunday 22 November is already Monday in Brussels: week 48.
    moment = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert period_of("weekly", moment, BRUSSELS).label == "2026-W48"
    assert period_of("weekly", moment, ZoneInfo("UTC")).label == "2026-W47"
    assert last_complete("weekly", NOW, BRUSSELS).label == "2026-W47"
    assert last_complete("monthly", NOW, BRUSSELS).label == "2026-10"
    assert last_complete("monthly", datetime(2027, 1, 5, tzinfo=UTC), BRUSSELS).label == "2026-12"
    # DST ended on 25 October: October has one more hour.
    october = parse_period("2026-10", BRUSSELS)
    span = october.end.astimezone(UTC) - october.start.astimezone(UTC)
    assert span.total_seconds() == 31 * 86400 + 3600


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2025-W53", "2025-W53 is not an ISO week"),
        ("2026-W00", "2026-W00 is not an ISO week"),
        ("2026-13", "2026-13 is not a month"),
        ("November", "period 'November': use an ISO week (2026-W48) or a month (2026-11)"),
        ("٢٠٢٦-W٤٨", "period '٢٠٢٦-W٤٨': use an ISO week (2026-W48) or a month (2026-11)"),
    ],
)
def test_bad_periods(text: str, error: str) -> None:
    with pytest.raises(ContentError) as caught:
        parse_period(text, BRUSSELS)
    assert str(caught.value) == error


# -- what is new for whom ----------------------------------------------------------------


@pytest.fixture
def week47(store: Store) -> Store:
    """The sample network added during week 47, plus items before and after it."""
    load_sample(store, at(W47))
    add_practice(store, "plzen", "brokerage", at("2026-11-10"), "Before the week")
    add_practice(store, "plzen", "brokerage", at("2026-11-24"), "After the week")
    return store


def slugs(contents: Contents, kind: str) -> list[str]:
    return [i["slug"] for i in contents.items[kind]]


def test_contents_of_a_week_by_subscriber_choices(week47: Store) -> None:
    period = parse_period("2026-W47", BRUSSELS)
    everything = Contents.load(week47, period.start, period.end)
    assert {k: len(v) for k, v in everything.items.items()} == {
        "practice": 44,
        "event": 10,  # 12 in the sample, 2 without an outcome yet
        "newsletter": 2,
        "news": 0,
    }
    titles = [i["title"] for i in everything.items["practice"]]
    assert "Before the week" not in titles and "After the week" not in titles

    plzen_brokerage = {"id": 1, "cities": ["plzen"], "themes": ["brokerage"]}
    mine = everything.for_subscriber(plzen_brokerage, period.start)
    assert slugs(mine, "practice") == ["plzen-pilsen-2015-brokerage-office"]
    # Events have no theme and most have no city: a city filter keeps those without one.
    event_cities = {i["city"] for i in mine.items["event"]}
    assert event_cities == {None}
    assert len(mine.items["event"]) == 7
    assert len(mine.items["newsletter"]) == 2

    tallinn_only = {"id": 2, "cities": ["tallinn"], "themes": []}
    theirs = everything.for_subscriber(tallinn_only, period.start)
    assert {i["city"] for i in theirs.items["practice"]} == {"tallinn"}
    assert len(theirs.items["practice"]) == 4
    assert {i["city"] for i in theirs.items["event"]} == {None}

    # Only what is new since the subscriber's last digest.
    assert everything.for_subscriber(plzen_brokerage, at("2026-11-20")).total() == 0


def test_events_count_once_they_have_an_outcome(store: Store) -> None:
    load_sample(store, at("2026-11-01"))
    event = {
        "slug": "study-visit-vilnius-2026",
        "title": "Study visit to Vilnius",
        "kind": "study-visit",
        "city": "vilnius",
        "start_date": "2026-11-17",
    }
    add_items(store, TYPES["event"], [("test", event)], at(W47))
    week = parse_period("2026-W47", BRUSSELS)
    assert Contents.load(store, week.start, week.end).items["event"] == []
    edit_item(
        store,
        TYPES["event"],
        "study-visit-vilnius-2026",
        {"outcome": "40 participants"},
        at("2026-11-25"),
    )
    week48 = parse_period("2026-W48", BRUSSELS)
    [found] = Contents.load(store, week48.start, week48.end).items["event"]
    assert (found["slug"], found["outcome"]) == ("study-visit-vilnius-2026", "40 participants")


# -- rendering -------------------------------------------------------------------------


def renderer(store: Store, config: Config, period: Period) -> DigestRenderer:
    return DigestRenderer(Renderer(config.service.templates), Places.load(store), config, period)


def email_channel() -> EmailChannel:
    return EmailChannel(
        EmailSettings(
            enabled=True,
            from_="Cross-Innovation <news@cross-innovation.example>",
            unsubscribe_url="https://cross-innovation.example/unsubscribe?token={token}",
        )
    )


def test_email_digest(week47: Store, config: Config) -> None:
    add_practice(week47, "plzen", "brokerage", at(W47), "The <co>lab & Friends Desk")
    period = parse_period("2026-W47", BRUSSELS)
    subscriber = {
        **sample_subscriber("email", "weekly", token="tok-anna"),
        "cities": ["plzen"],
        "themes": ["brokerage"],
    }
    contents = Contents.load(week47, period.start, period.end).for_subscriber(
        subscriber, period.start
    )
    message = renderer(week47, config, period).email(
        email_channel(), contents, subscriber, period.start
    )
    assert message.subject == (
        f"Cross-Innovation digest, Week 47, 16{DASH}22 November 2026: 11 new items"
    )
    assert message.headers == {
        "List-Unsubscribe": "<https://cross-innovation.example/unsubscribe?token=tok-anna>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Content-Language": "en",
    }
    text, html = message.text, message.html or ""
    assert text.startswith(
        f"Cross-Innovation digest\nWeek 47, 16{DASH}22 November 2026\n"
        "For Plzeň · Brokerage. New since Nov 16, 2026.\n\nNew good practices\n"
    )
    assert "* The <co>lab & Friends Desk (Plzeň, Brokerage)" in text
    assert text.endswith(
        "Unsubscribe in one step: https://cross-innovation.example/unsubscribe?token=tok-anna"
    )
    # HTML: escaped, inline styles, no images, the same unsubscribe link.
    assert "The &lt;co&gt;lab &amp; Friends Desk" in html
    assert "<co>" not in html
    assert "<img" not in html and "<style" not in html and "<link" not in html
    assert 'style="' in html
    assert (
        '<a href="https://cross-innovation.example/unsubscribe?token=tok-anna" '
        'style="color:#0b4f9c;">Unsubscribe in one step</a>'
    ) in html
    assert html.count("<h2") == 3  # practices, event outcomes, newsletters


def test_long_sections_say_how_many_more(week47: Store, config: Config) -> None:
    period = parse_period("2026-W47", BRUSSELS)
    subscriber = sample_subscriber("email", "weekly")
    contents = Contents.load(week47, period.start, period.end)
    message = renderer(week47, config, period).email(
        email_channel(), contents, subscriber, period.start
    )
    assert message.text.count("\n* ") == 10 + 10 + 2
    # 44 practices and 10 event outcomes, 10 of each shown.
    assert message.text.count("…and") == 1
    assert "…and 34 more" in message.text


def test_telegram_digest_fits_and_is_valid_html(week47: Store, config: Config) -> None:
    period = parse_period("2026-W47", BRUSSELS)
    subscriber = sample_subscriber("telegram", "weekly")
    contents = Contents.load(week47, period.start, period.end)
    message = renderer(week47, config, period).telegram(contents, subscriber, period.start)
    html = message.html or ""
    assert utf16_len(html) <= 4096
    assert is_valid_telegram_html(html)
    plain, entities = parse_html(html)  # how Telegram's server reads it
    assert plain.startswith(f"Cross-Innovation digest\nWeek 47, 16{DASH}22 November 2026")
    assert plain.rstrip().endswith("Send /unsubscribe to stop this digest.")
    assert "more" in plain  # sections were cut short to fit
    assert any(e["type"] == "text_link" for e in entities)
    assert message.text == plain.rstrip() or message.text.strip() == plain.strip()


def test_telegram_digest_with_a_few_items_is_whole(store: Store, config: Config) -> None:
    load_sample(store, at("2026-11-01"))
    slug = add_practice(store, "vilnius", "brokerage", at(W47), "Brokers & <b>bold</b> claims")
    period = parse_period("2026-W47", BRUSSELS)
    subscriber = sample_subscriber("telegram", "weekly")
    contents = Contents.load(store, period.start, period.end)
    message = renderer(store, config, period).telegram(contents, subscriber, period.start)
    assert message.html == (
        "<b>Cross-Innovation digest</b>\n"
        f"Week 47, 16{DASH}22 November 2026 · all cities and themes\n\n"
        "<b>New good practices</b>\n"
        f'• <a href="https://cross-innovation.example/practices/{slug}">'
        "Brokers &amp; &lt;b&gt;bold&lt;/b&gt; claims</a> (Vilnius, Brokerage)\n\n"
        "Send /unsubscribe to stop this digest."
    )


def test_preview_without_email_settings_names_the_missing_key(store: Store, config: Config) -> None:
    load_sample(store, at(W47))
    period = parse_period("2026-W47", BRUSSELS)
    channel = EmailChannel(EmailSettings())
    message, since = preview(store, config, channel, period, sample_subscriber("email", "weekly"))
    assert message is not None
    assert since == period.start
    assert message.text.endswith(
        "Unsubscribe in one step: (no unsubscribe link: set channels.email.unsubscribe_url)"
    )


def test_digest_preview_command(store: Store, invoke: Invoke, tmp_path: Path) -> None:
    load_sample(store, at(W47))
    subscribe(store, "email", "anna@example.org", "weekly", at("2026-11-01"), ("vilnius",))
    result = invoke("digest", "preview", "--subscriber", "anna@example.org", "--period", "2026-W47")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "# 2026-W47 digest for #1, new since 2026-11-16"
    assert (
        lines[1]
        == f"# Subject: Cross-Innovation digest, Week 47, 16{DASH}22 November 2026: 13 new items"
    )
    assert "Vilnius" in result.output
    result = invoke("digest", "preview", "--subscriber", "#1", "--period", "2026-11")
    assert result.exit_code == 2
    assert "2026-11 is a monthly period; this subscriber gets weekly digests" in result.output
    result = invoke("digest", "preview", "--channel", "telegram", "--period", "2026-W46")
    assert result.output.splitlines() == [
        "# 2026-W46 digest for a telegram subscriber with no filters, new since 2026-11-09",
        "nothing new: no digest would be sent (digest.send_empty = false)",
    ]


def test_digest_config_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[digest]\nmax_items = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: digest.max_items: must be at least 1, not 0"
    path.write_text("[digest]\nsend_empty = 'yes'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: digest.send_empty: must be true or false, not a string"


def test_templates_check_covers_digest_templates(
    store: Store, invoke: Invoke, config_path: Path
) -> None:
    folder = config_path.parent / "mytemplates" / "digest"
    folder.mkdir(parents=True)
    (folder / "telegram.html.j2").write_text("<b>{{ title }}</b> {{ nope }}", encoding="utf-8")
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text.replace("[service]\n", '[service]\ntemplates = "mytemplates"\n'), encoding="utf-8"
    )
    result = invoke("templates", "check")
    assert result.exit_code == 1
    assert "telegram (en): template digest/telegram.html.j2 for the " in result.output
    assert "'nope' is undefined" in result.output
    (folder / "telegram.html.j2").write_text("<b>{{ title }}</i>", encoding="utf-8")
    result = invoke("templates", "check")
    assert (
        "telegram (en): template digest/telegram.html.j2 makes HTML that Telegram refuses"
        in result.output
    )


@pytest.mark.parametrize(
    "footer",
    ["Leave: (ask us)", "Leave: {{ unsubscribe.url | upper }}", "{{ 'x' ~ unsubscribe.url }}"],
)
def test_an_email_template_must_print_the_unsubscribe_link_as_it_is(
    week47: Store, config: Config, tmp_path: Path, footer: str
) -> None:
    """The link is built where the template prints it; a template that hides or changes
    it would send a digest nobody can leave, so it is refused (#14)."""
    folder = tmp_path / "templates" / "digest"
    folder.mkdir(parents=True)
    (folder / "email.txt.j2").write_text("{{ title }}\n" + footer, encoding="utf-8")
    period = parse_period("2026-W47", BRUSSELS)
    digests = DigestRenderer(Renderer(tmp_path / "templates"), Places.load(week47), config, period)
    contents = Contents.load(week47, period.start, period.end)
    subscriber = sample_subscriber("email", "weekly")
    with pytest.raises(TemplateError, match=r"must print \{\{ unsubscribe.url \}\} as it is"):
        digests.email(email_channel(), contents, subscriber, period.start)
