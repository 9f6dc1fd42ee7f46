"""The ten languages (#19): catalogs, plural rules, dates, the catalog check, translators'
overrides, and content translations through the CLI."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from datetime import date
from pathlib import Path

import pytest

from commsbot.i18n import LANGUAGES, negotiate, speaker
from commsbot.i18n.catalogs import PACKAGED, read_catalog
from commsbot.i18n.check import check_catalogs, source_messages
from commsbot.store import Store
from tests.support.base import Invoke

PRACTICE = ("%(num)d practice", "%(num)d practices")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "pl",
            ["1 praktyka", "2 praktyki", "5 praktyk", "22 praktyki", "25 praktyk", "112 praktyk"],
        ),
        (
            "lt",
            [
                "1 praktika",
                "2 praktikos",
                "5 praktikos",
                "22 praktikos",
                "25 praktikos",
                "112 praktikų",
            ],
        ),
        ("cs", ["1 praxe", "2 praxe", "5 praxí", "22 praxí", "25 praxí", "112 praxí"]),
        (
            "de",
            [
                "1 Praxisbeispiel",
                "2 Praxisbeispiele",
                "5 Praxisbeispiele",
                "22 Praxisbeispiele",
                "25 Praxisbeispiele",
                "112 Praxisbeispiele",
            ],
        ),
        (
            "en",
            [
                "1 practice",
                "2 practices",
                "5 practices",
                "22 practices",
                "25 practices",
                "112 practices",
            ],
        ),
    ],
)
def test_plural_forms_follow_each_languages_rule(language: str, expected: list[str]) -> None:
    words = speaker(language)
    assert [words.ngettext(*PRACTICE, n) for n in (1, 2, 5, 22, 25, 112)] == expected


def test_lithuanian_many_is_the_teens_and_tens() -> None:
    words = speaker("lt")
    assert [words.ngettext(*PRACTICE, n) for n in (10, 11, 21, 30)] == [
        "10 praktikų",
        "11 praktikų",
        "21 praktika",
        "30 praktikų",
    ]


def test_dates_and_numbers_in_each_locale() -> None:
    day = date(2013, 3, 1)
    assert [speaker(lang).date(day) for lang in ("en", "de", "pl", "cs", "sv")] == [
        "Mar 1, 2013",
        "01.03.2013",
        "1 mar 2013",
        "1. 3. 2013",
        "1 mars 2013",
    ]
    assert speaker("de").number(12345.5) == "12.345,5"
    assert speaker("en").number(12345.5) == "12,345.5"


def test_language_codes_are_negotiated_and_unknown_ones_are_english() -> None:
    assert [negotiate(c) for c in ("pl", "PL", "pt-BR", "de_AT", "ja", "", None, "x-y-z")] == [
        "pl", "pl", "pt", "de", "en", "en", "en", "en",
    ]  # fmt: skip


def test_every_catalog_says_who_translated_it_and_that_no_one_reviewed_it() -> None:
    for language in LANGUAGES[1:]:
        path = PACKAGED / language / "LC_MESSAGES" / "commsbot.po"
        head = path.read_text(encoding="utf-8")[:600]
        assert "# Translated by: the commsbot team" in head
        assert "# Review: NOT YET REVIEWED by a native speaker." in head
        assert read_catalog(path, language).last_translator.startswith("commsbot team")


def test_the_packaged_catalogs_are_complete() -> None:
    problems, checked = check_catalogs()
    assert problems == []
    assert checked == len(source_messages()) * (len(LANGUAGES) - 1)


def test_the_catalog_template_is_fresh() -> None:
    """``make catalogs`` was run after the last change of a message."""
    pot = read_catalog(PACKAGED / "commsbot.pot", "en")
    assert {m.id if isinstance(m.id, str) else m.id[0] for m in pot if m.id} == set(
        source_messages()
    )


def test_the_check_fails_on_a_missing_translation(tmp_path: Path, invoke: Invoke) -> None:
    """A template of the user's with a message no catalog has."""
    (tmp_path / "templates" / "bot").mkdir(parents=True)
    (tmp_path / "templates" / "bot" / "start.j2").write_text(
        '{{ _("Welcome to the network!") }}\n', encoding="utf-8"
    )
    config = tmp_path / "commsbot.toml"
    config.write_text(
        '[store]\npath = "commsbot.db"\n\n[service]\ntemplates = "templates"\n', encoding="utf-8"
    )
    problems, _ = check_catalogs(tmp_path / "templates")
    assert len(problems) == 9
    assert problems[0] == (
        f"{PACKAGED}/nl/LC_MESSAGES/commsbot.po: 'Welcome to the network!' (used at "
        f"{tmp_path}/templates/bot/start.j2:1): not translated"
    )
    result = invoke("--config", str(config), "templates", "check")
    assert result.exit_code == 1
    assert "pl/LC_MESSAGES/commsbot.po: 'Welcome to the network!'" in result.output


def write_override(folder: Path, language: str, body: str) -> Path:
    path = folder / "locale" / language / "LC_MESSAGES" / "commsbot.po"
    path.parent.mkdir(parents=True)
    header = f'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return path


def test_a_translator_overrides_a_message_from_the_templates_folder(tmp_path: Path) -> None:
    write_override(tmp_path, "pl", 'msgid "Read more"\nmsgstr "Więcej"\n')
    words = speaker("pl", tmp_path)
    assert words.gettext("Read more") == "Więcej"
    assert words.gettext("Details") == "Szczegóły"  # the packaged catalog for the rest
    assert speaker("pl").gettext("Read more") == "Czytaj więcej"
    assert check_catalogs(tmp_path)[0] == []


def test_the_check_names_a_broken_placeholder_and_missing_plural_forms(tmp_path: Path) -> None:
    write_override(
        tmp_path,
        "cs",
        """\
        msgid "Did you mean %(name)s?"
        msgstr "Mysleli jste %(jmeno)s?"

        msgid "%(num)d practice"
        msgid_plural "%(num)d practices"
        msgstr[0] "%(num)d praxe"
        msgstr[1] "%(num)d praxe"
        msgstr[2] ""
        """,
    )
    problems, _ = check_catalogs(tmp_path)
    override = tmp_path / "locale" / "cs" / "LC_MESSAGES" / "commsbot.po"
    assert problems == [
        f"{override}: 'Did you mean %(name)s?': unknown placeholder %(jmeno)s",
        f"{override}: 'Did you mean %(name)s?': placeholder %(name)s is missing",
    ]  # the half-done plural falls back to the packaged catalog, which has all three


def test_a_broken_catalog_is_a_one_line_error(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "locale" / "de" / "LC_MESSAGES" / "commsbot.po"
    path.parent.mkdir(parents=True)
    path.write_text('msgid "Read more"\nmsgstr "Weiter"\nnot a catalog line\n', encoding="utf-8")
    config = tmp_path / "commsbot.toml"
    config.write_text(f'[service]\ntemplates = "{tmp_path}"\n', encoding="utf-8")
    result = invoke("--config", str(config), "templates", "check")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: catalog {path}: ")
    assert "Traceback" not in result.output


# -- content translations ------------------------------------------------------------------


def test_translate_show_and_search_a_practice(sample_store: Store, invoke: Invoke) -> None:
    slug = "plzen-creative-voucher"
    result = invoke(
        "practices", "translate", slug, "--lang", "de",
        "--title", "Kreativgutschein für Maschinenbauer in Pilsen", "--summary", "Gutscheine.",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"practice {slug} in de: summary, title (languages: cs, de)\n"
    shown = invoke("practices", "show", slug).output
    assert "languages            en (original), cs (sample), de\n" in shown
    # Any language finds it, diacritics folded; a city by its exonym.
    for words in ("Maschinenbauer", "strojirenske", "Pilsen"):
        listed = invoke("practices", "list", "--search", words).output
        assert slug in listed, words
    assert slug not in invoke("practices", "list", "--search", "Warschau").output
    assert (
        "warsaw-warszawa-design-grants" in invoke("practices", "list", "--city", "Warschau").output
    )

    wrong = [
        (["--lang", "xx", "--title", "x"], "Invalid value for '--lang'"),
        (["--lang", "de"], "nothing to translate: give at least one of --title, --summary, --body, --image-alt"),
        (["--lang", "en", "--title", "x"], f"Error: practice {slug!r}: en is its original language; edit the item instead"),
    ]  # fmt: skip
    for args, message in wrong:
        result = invoke("practices", "translate", slug, *args)
        assert result.exit_code != 0 and message in result.output, result.output
    assert invoke("practices", "translate", slug, "--lang", "de", "--remove").exit_code == 0
    assert "cs (sample)\n" in invoke("practices", "show", slug).output


def test_events_and_newsletters_translate_their_own_fields(
    sample_store: Store, invoke: Invoke
) -> None:
    event = invoke("events", "list", "--format", "json")
    slug = json.loads(event.output)[0]["slug"]
    done = invoke(
        "events", "translate", slug, "--lang", "it", "--outcome", "Le città hanno imparato."
    )
    assert done.exit_code == 0, done.output
    refused = invoke("events", "translate", slug, "--lang", "it", "--summary", "x")
    assert refused.exit_code == 2 and "No such option '--summary'" in refused.output


def test_translations_round_trip_through_json_and_csv(
    sample_store: Store, invoke: Invoke, tmp_path: Path
) -> None:
    exported = json.loads(invoke("content", "export").output)
    voucher = next(p for p in exported["practices"] if p["slug"] == "plzen-creative-voucher")
    assert (
        voucher["translations"]["cs"]["title"] == "Kreativní voucher pro strojírenské firmy v Plzni"
    )
    rows = list(
        csv.DictReader(
            io.StringIO(invoke("content", "export", "--format", "csv", "--type", "practice").output)
        )
    )
    by_slug = {r["slug"]: r for r in rows}
    assert by_slug["plzen-creative-voucher"]["title_cs"] == voucher["translations"]["cs"]["title"]
    assert by_slug["birmingham-creative-innovation-vouchers"]["title_cs"] == ""

    new = tmp_path / "practices.csv"
    new.write_text(
        "slug,title,city,theme,title_pl,summary_pl\n"
        "lodz-lab,Łódź lab,warsaw,brokerage,Laboratorium w Łodzi,Opis po polsku.\n",
        encoding="utf-8",
    )
    assert invoke("content", "import", str(new)).exit_code == 0
    assert "en (original), pl\n" in invoke("practices", "show", "lodz-lab").output
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "practices": [
                    {
                        "title": "X",
                        "city": "warsaw",
                        "theme": "brokerage",
                        "translations": {"pl": {"outcome": "x"}},
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    refused = invoke("content", "import", str(bad))
    assert refused.exit_code == 1
    assert refused.output == (
        f"Error: {bad}: practices[0]: translations: pl: a practice's translation has no field "
        "'outcome' (fields: title, summary, body, image_alt)\n"
    )


def test_the_report_in_german(sample_store: Store, invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = invoke("report", "--html", str(out), "--lang", "de")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert '<html lang="de">' in html
    assert "<h1>Interaktionsbericht</h1>" in html
    assert '<h2 id="top-h">Top-Beiträge</h2>' in html
    assert "Engagement report" not in html


def test_the_whole_report_in_german(sample_store: Store, invoke: Invoke, tmp_path: Path) -> None:
    """Captions, chart titles, table headers, theme names, dates and numbers (#19)."""
    from tests.support.stats import build_scenario

    build_scenario(sample_store)
    out = tmp_path / "report.html"
    period = ("--since", "2026-11-09", "--until", "2026-11-29")
    result = invoke("report", "--html", str(out), "--lang", "de", *period)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "<title>Interaktionsbericht, 09.11.2026 bis 29.11.2026 (Europe/Brussels)</title>" in html
    assert "<b>5,67</b>" in html  # engagement per post, with a decimal comma
    assert "<caption>Beiträge und Interaktion nach Thema</caption>" in html
    assert '<title id="heat-chart-title">Interaktion nach Stadt und Thema</title>' in html
    assert "kein Thema: Veranstaltungen, Newsletter und Ankündigungen" in html
    assert '<th scope="col" class="n">Vermittlung</th>' in html  # the heat-map's theme
    assert ">Intelligente Anreize</text>" in html  # the themes chart's bar
    assert "1 Beitrag wurde auf der Plattform gelöscht" in html
    assert '<td class="date">17.11.2026</td>' in html  # the top post, sent 2026-11-17
    assert "Die 6 Beiträge mit der meisten Interaktion" in html
    # No English sentence is left: every caption and description is translated.
    for english in ("The numbers are in the table below", "Posts sent and their", "per city"):
        assert english not in html


def test_events_and_newsletters_are_found_in_any_language(
    sample_store: Store, invoke: Invoke
) -> None:
    """Search is not only for practices (#19): an event by its outcome and by a
    translation, a newsletter by its Czech title, diacritics folded."""
    done = invoke(
        "events", "translate", "kick-off-meeting-birmingham", "--lang", "pl",
        "--title", "Spotkanie inauguracyjne", "--outcome", "Uzgodniono pakiety robocze.",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    done = invoke(
        "newsletters", "translate", "newsletter-2", "--lang", "cs", "--title", "Zpravodaj číslo 2"
    )
    assert done.exit_code == 0, done.output
    for kind, words, slug in (
        ("events", "inauguracyjne", "kick-off-meeting-birmingham"),
        ("events", "pakiety robocze", "kick-off-meeting-birmingham"),
        ("events", "Work packages", "kick-off-meeting-birmingham"),  # its own outcome
        ("newsletters", "cislo", "newsletter-2"),  # "číslo", diacritics folded
    ):
        listed = invoke(kind, "list", "--search", words, "--format", "json")
        assert listed.exit_code == 0, listed.output
        assert [i["slug"] for i in json.loads(listed.output)] == [slug], (kind, words)
    assert json.loads(invoke("events", "list", "--search", "zzzz", "--format", "json").output) == []
