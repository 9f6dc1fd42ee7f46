"""The console in the user's language (#19): a choice stored per user, else the browser's
Accept-Language, else English; ``<html lang>`` follows; times in the locale."""

from __future__ import annotations

import re

import pytest

from commsbot.i18n import from_accept_language
from tests.support.web import Live, csrf_of, sign_in


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("fr-FR, pl;q=0.8, de;q=0.5", "pl"),  # French is not one of the ten
        ("en;q=0.2, cs;q=0.9", "cs"),
        ("pt-BR", "pt"),
        ("pl;q=0, sv;q=0.1", "sv"),  # q=0: not wanted
        ("fr, ja", "en"),
        ("", "en"),
        ("*;q=0.5, x-klingon;q=1, ;;,q=bad", "en"),
    ],
)
def test_accept_language_picks_the_first_of_the_ten(header: str, language: str) -> None:
    assert from_accept_language(header) == language


def nav(html: str) -> list[str]:
    menu = re.search(r'<nav aria-label="[^"]+">(.*?)</nav>', html, re.S)
    assert menu, html
    return re.findall(r"<a [^>]*>([^<]+)</a>", menu.group(1))


def test_the_console_speaks_the_browsers_language_until_the_user_chooses(live: Live) -> None:
    with live.client() as c:
        c.headers["Accept-Language"] = "de-DE,de;q=0.9,en;q=0.5"
        assert sign_in(c, "ana").status_code == 303
        page = c.get("/")
        assert '<html lang="de">' in page.text
        assert nav(page.text)[:3] == ["Heute", "Kalender", "Warteschlange"]
        assert "<h1>Heute</h1>" in page.text and "Wartet auf Ihre Freigabe (" in page.text
        assert '<option value="pl" lang="pl">polski</option>' in page.text

        chosen = c.post("/language", data={"csrf": csrf_of(c), "language": "pl", "next": "/queue"})
        assert chosen.status_code == 303 and chosen.headers["location"].endswith("/queue")
        page = c.get("/queue")
        assert '<html lang="pl">' in page.text
        assert nav(page.text)[:3] == ["Dziś", "Kalendarz", "Kolejka"]
        assert "<h1>Kolejka</h1>" in page.text and "Z zaznaczonymi postami" in page.text
        assert (
            '<span class="state state-pending_approval">czeka na zatwierdzenie</span>' in page.text
        )
        # Times in the locale: Polish writes a day as 2.12.2026, not 2026-12-02.
        assert re.search(r'data-label="Kiedy">\d{1,2}\.\d{2}\.\d{4}, \d{2}:\d{2}<', page.text)
        assert '<option value="pl" lang="pl" selected>polski</option>' in page.text
        # Another site is never where the picker sends one back to.
        away = c.post(
            "/language", data={"csrf": csrf_of(c), "language": "pl", "next": "//evil.example/"}
        )
        assert away.headers["location"].endswith("/") and "evil" not in away.headers["location"]
        refused = c.post("/language", data={"csrf": csrf_of(c), "language": "xx"})
        assert refused.status_code == 400 and "język: nieznany &#39;xx&#39; (znane: en," in (
            refused.text
        )
        # "" goes back to the browser's language.
        c.post("/language", data={"csrf": csrf_of(c), "language": ""})
        assert '<html lang="de">' in c.get("/").text

    with live.client() as c:  # another user, a browser in no language of the ten
        c.headers["Accept-Language"] = "ja"
        sign_in(c, "cora")
        page = c.get("/")
        assert '<html lang="en">' in page.text and nav(page.text)[0] == "Today"
        missing = c.get("/nowhere", headers={"Accept-Language": "sv"})
        assert missing.status_code == 404
        assert '<html lang="sv">' in missing.text and "<h1>Hittades inte</h1>" in missing.text


PAGES = ("/", "/queue", "/compose", "/calendar", "/stats", "/content", "/feeds", "/subscribers")


def test_every_page_has_a_plain_title_and_the_ten_languages_to_pick(live: Live) -> None:
    """A page's <title> is text (the Subscribers and Calendar pages once put a form and a
    script in it), and the picker lists the ten whatever the page's own context holds."""
    with live.client() as c:
        sign_in(c, "adam")
        for path in (*PAGES, "/users", "/settings"):
            page = c.get(path)
            assert page.status_code == 200, path
            title = re.search(r"<title>(.*?)</title>", page.text, re.S)
            assert title and "<" not in title.group(1) and title.group(1).endswith(" · commsbot")
            picker = re.search(r'<select id="language-choice".*?</select>', page.text, re.S)
            assert picker, path
            assert len(re.findall(r"<option value=\"[a-z]{2}\"", picker.group(0))) == 10, path
