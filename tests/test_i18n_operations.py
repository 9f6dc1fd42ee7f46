"""What the operations refuse, said in the reader's language (#19): the bot through
FakeTelegram over loopback HTTP, the console over HTTP against the running server; the
CLI's English stays as it was, and every message the operations raise is in the catalogs."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from commsbot.channels.base import ChannelSettings
from commsbot.config import load_config
from commsbot.errors import ContentError
from commsbot.i18n import LANGUAGES, speaker
from commsbot.i18n.catalogs import packaged_catalog, read_catalog
from commsbot.i18n.check import PACKAGE, source_messages
from commsbot.posting.queue import announcement_version
from tests.support.feeds import feed_server, item, rss
from tests.support.telegram import ADMIN, TOKEN_ENV, BotThread, ask, telegram_config
from tests.support.telegram_api import FakeTelegram
from tests.support.web import Live, csrf_of, sign_in

# -- the bot ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeTelegram]:
    folder = tmp_path_factory.mktemp("i18n-operations")
    with FakeTelegram(max_poll_timeout=1.0) as fake, pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOKEN_ENV, fake.token)
        with BotThread(load_config(telegram_config(folder, fake))):
            yield fake


def said(fake: FakeTelegram, text: str, language: str) -> str:
    return str(ask(fake, text, ADMIN, language_code=language)["plain_text"])


def test_an_admin_is_refused_in_polish_then_in_german(fake: FakeTelegram) -> None:
    """The queue's refusal (a cancelled post cannot be approved), its statuses named as
    the console names them, in the chat's language."""
    announced = said(fake, "/announce Walne zebranie", "pl")
    post = re.search(r"Post (\d+) na telegram", announced)
    assert post, announced
    number = post.group(1)
    assert said(fake, f"/cancel {number}", "pl") == f"Post {number} na telegram anulowany."
    assert said(fake, f"/approve {number}", "pl") == (
        f"/approve: wpis {number} ma status: anulowany; zatwierdzić można tylko wpis o "
        "statusie: czeka na zatwierdzenie lub szkic"
    )
    assert said(fake, f"/cancel {number}", "pl").startswith(
        f"/cancel: wpis {number} ma status: anulowany; anulować można tylko wpis o statusie: "
    )
    assert said(fake, "/language de", "pl").startswith("Die Sprache dieses Chats ist jetzt")
    assert said(fake, f"/approve {number}", "pl") == (
        f"/approve: Beitrag {number} hat den Status abgebrochen; nur ein Beitrag mit Status "
        "wartet auf Freigabe oder Entwurf lässt sich freigeben"
    )


def test_the_cli_keeps_its_english_and_its_options() -> None:
    """An account posting only in Polish and skipping the rest: the CLI's message names
    its option, the bot's and the console's say what to give instead."""
    settings = ChannelSettings(languages=("pl",), missing_translation="skip")
    with pytest.raises(ContentError) as caught:
        announcement_version("warsaw", settings, "General meeting", "en", {})
    assert str(caught.value) == (
        "warsaw posts only in pl (missing_translation = skip): give the announcement "
        "--translation pl=TEXT, or leave warsaw out"
    )
    assert speaker("en").say(caught.value) == (
        "warsaw posts only in pl (missing_translation = skip): give the announcement a "
        "translation into pl, or leave warsaw out"
    )
    german = speaker("de").say(caught.value)
    assert "eine Übersetzung in pl" in german and "--translation" not in german


# -- the console --------------------------------------------------------------------------


def test_a_german_user_sees_content_and_feed_errors_in_german(live_feeds: Live) -> None:
    with feed_server() as server, live_feeds.client() as c:
        c.headers["Accept-Language"] = "de-DE,de;q=0.9"
        assert sign_in(c, "ana").status_code == 303

        token = csrf_of(c, "/content/event/new")
        event = {"csrf": token, "title": "Plenum", "kind": "general-meeting"}
        bad = c.post("/content/event/new", data={**event, "start_date": "2026-13-45"})
        assert bad.status_code == 400 and 'id="e-start_date"' in bad.text
        assert "Veranstaltung: start_date: &#39;2026-13-45&#39; ist kein Datum (JJJJ-MM-TT)" in (
            bad.text
        )
        wrong_kind = c.post(
            "/content/event/new", data={**event, "kind": "zzz", "start_date": "2026-12-09"}
        )
        assert wrong_kind.status_code == 400 and "ist nicht eines von study-visit" in (
            wrong_kind.text
        )

        token = csrf_of(c, "/feeds")
        page = server.set("/page.html", "<html><body>Hi</body></html>", content_type="text/html")
        html = c.post("/feeds/add", data={"csrf": token, "url": page})
        assert html.status_code == 400 and "ist eine Webseite (HTML), kein RSS- oder Atom-Feed" in (
            html.text
        )
        assert "nichts hinzugefügt" in html.text and "--no-check" not in html.text
        unknown = c.post("/feeds/check", data={"csrf": token, "url": "https://nowhere.example/"})
        assert unknown.status_code == 400 and (
            "kein Feed &#39;https://nowhere.example/&#39; (siehe die Liste der Feeds)"
            in unknown.text
        )

        url = server.set("/feed.xml", rss([item("News", link="https://p.example/1")]))
        assert c.post("/feeds/add", data={"csrf": token, "url": url}).status_code == 303
        server.set("/feed.xml", "gone", status=404, content_type="text/plain")
        checked = c.post("/feeds/check", data={"csrf": token, "url": url})
        assert checked.status_code == 303
        note = unquote(checked.headers["location"])
        assert f"geprüft: {url}: fehlgeschlagen (HTTP 404" in note


# -- the catalogs -------------------------------------------------------------------------


# The operations the bot and the console call, and the console's own modules.
OPERATIONS = (
    "posting/queue.py",
    "content/items.py",
    "content/translations.py",
    "content/types.py",
    "content/places.py",
    "content/images.py",
    "feeds/manage.py",
    "digests/subscribers.py",
    "text/addresses.py",
    # The console's own refusals: signing in, users, its forms and pages.
    "web/auth.py",
    "web/actions.py",
    "web/views.py",
    "web/pages.py",
)
# Errors only the CLI meets (files it reads by path, the sample, the subscribers' CSV
# import, a store failing mid-import): English, as the CLI's own words are.
CLI_ONLY = {
    "f'{path}: file not found'",
    "f'{path}: cannot read: {exc.strerror}'",
    "f'{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8'",
    "f'{path}: invalid TOML: {exc}'",
    "f'{path}: must hold one object (a table of fields)'",
    "f'{path}: {exc}'",
    "f'{store.path}: the store already has content; sample not loaded'",
    "f'image {label}: cannot be kept in {folder(store_path)}: {exc.strerror or exc}'",
    "f'image {path}: {exc.strerror or exc}'",
    "f\"{path}: needs an 'email' column (found: {', '.join(columns)})\"",
    "f'{path}: unknown column {sorted(unknown)[0]!r} (known: email, frequency, cities, "
    "themes, language)'",
    "f'{path}: {bad[0]}'",
    "f'{path}: {len(bad)} bad rows, nothing imported: {shown}{more}'",
}


def unmarked_messages() -> set[str]:
    """Errors of the operations raised with text written in place (an f-string or a
    literal) instead of a marked message."""
    found = set()
    for name in OPERATIONS:
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id.endswith("Error")
                and node.args
                and isinstance(node.args[0], ast.JoinedStr | ast.Constant)
            ):
                found.add(ast.unparse(node.args[0]))
    return found


def test_every_message_the_operations_raise_is_marked_and_translated() -> None:
    assert unmarked_messages() == CLI_ONLY
    theirs = [
        m
        for m in source_messages().values()
        if any(m.where.startswith(f"{PACKAGE / name}:") for name in OPERATIONS)
    ]
    assert len(theirs) > 80  # the extractor finds them (N_ and NP_ are its keywords)
    for language in LANGUAGES:
        if language == "en":
            continue
        catalog = read_catalog(packaged_catalog(language), language)
        for message in theirs:
            entry = catalog.get(message.key)
            assert entry is not None and entry.string and not entry.fuzzy, (language, message)
            forms = [entry.string] if isinstance(entry.string, str) else list(entry.string)
            assert all(form.strip() for form in forms), (language, message)
