"""An account that posts in Polish (#19): the Polish translation goes to mastodon_mock with
``language = "pl"``; an item without one follows ``missing_translation``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from commsbot.cli import cli
from commsbot.config import load_config
from commsbot.content.items import load_sample
from commsbot.store import Store
from commsbot.store import posts as posts_q
from tests.support.base import NOW
from tests.support.mastodon import MockMastodon, mastodon_config

TOKEN_ENV = "COMMSBOT_TEST_MASTODON_TOKEN"
TRANSLATED = "warsaw-warszawa-design-grants"  # the sample translates it into Polish
UNTRANSLATED = "birmingham-creative-innovation-vouchers"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockMastodon]:
    server = MockMastodon(tmp_path_factory.mktemp("mastodon_mock")).start()
    try:
        yield server
    finally:
        server.stop()


def invoke(path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(path), *args])


def polish_account(tmp_path: Path, mock: MockMastodon, missing: str) -> tuple[Path, Any]:
    """A config whose Mastodon account posts in Polish, a store with two of the sample's
    practices (one with a Polish translation), and the account's client."""
    _username, token = mock.new_account()
    extra = f'languages = ["pl"]\nmissing_translation = "{missing}"\n'
    path = mastodon_config(tmp_path, mock.base_url, TOKEN_ENV, extra)
    with Store(load_config(path).store.path) as store:
        load_sample(store, NOW)
        with store.write() as conn:
            conn.execute(
                "DELETE FROM practices WHERE slug NOT IN (?, ?)", (TRANSLATED, UNTRANSLATED)
            )
    return path, mock.client(token)


def statuses(client: Any) -> list[Any]:
    me = client.account_verify_credentials()
    return list(reversed(client.account_statuses(me.id, limit=40)))


def posts(path: Path) -> dict[str, dict[str, Any]]:
    with Store(load_config(path).store.path) as store:
        return {row["item_ref"]: row for row in posts_q.list_posts(store, channel="mastodon")}


@pytest.mark.parametrize("missing", ["skip", "original", "approve"])
def test_the_polish_translation_is_posted_with_its_language(
    tmp_path: Path, mock: MockMastodon, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    path, client = polish_account(tmp_path, mock, missing)
    monkeypatch.setenv(TOKEN_ENV, client.access_token)
    result = invoke(path, "run", "--once", "--json")
    assert result.exit_code in (0, 1), result.output  # 1: a post waits for approval
    posted = statuses(client)
    [polish] = [s for s in posted if "Warszaw" in client.status_source(s.id).text]
    assert polish.language == "pl"
    assert client.status_source(polish.id).text.startswith(
        "Warszawskie granty na design dla producentów (Warsaw, "
    )
    rows = posts(path)
    assert rows[TRANSLATED]["status"] == "sent"
    assert json.loads(rows[TRANSLATED]["payload"])["language"] == "pl"

    english = [s for s in posted if s.id != polish.id]
    if missing == "skip":  # the account's languages filter keeps it out: no post at all
        assert english == []
        assert UNTRANSLATED not in rows
        return
    row = rows[UNTRANSLATED]
    if missing == "original":
        [status] = english
        assert status.language == "en"
        assert client.status_source(status.id).text.startswith(
            "Creative Innovation Vouchers for West Midlands SMEs"
        )
        assert row["status"] == "sent"
    else:
        assert english == []
        assert row["status"] == "pending_approval"
        reason = "no translation into pl: approve to post the original (en)"
        assert row["last_error"] == reason
        assert reason in invoke(path, "queue", "pending").output


@pytest.mark.parametrize("missing", ["skip", "original", "approve"])
def test_an_item_with_no_language_follows_missing_translation_and_goes_untagged(
    tmp_path: Path, mock: MockMastodon, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """The rule (README, "Several accounts"): an item that names no language is in none of
    an account's ``languages``, so ``missing_translation`` decides; posted, it is untagged."""
    from tests.support.feeds import feed_server, item, rss

    _username, token = mock.new_account()
    client = mock.client(token)
    monkeypatch.setenv(TOKEN_ENV, token)
    extra = f'languages = ["pl"]\nmissing_translation = "{missing}"\n'
    path = mastodon_config(tmp_path, mock.base_url, TOKEN_ENV, extra)
    text = path.read_text(encoding="utf-8").replace('content_types = ["practice"]', "")
    path.write_text(text + '\n[ingest]\nallow_private_hosts = ["127.0.0.1"]\n', encoding="utf-8")
    with feed_server() as server:
        # An RSS feed without <language>: its news has none.
        url = server.set("/rss", rss([item("Open studio day in Plzeň", guid="studio")]))
        assert invoke(path, "init").exit_code == 0
        added = invoke(path, "feeds", "add", url)
        assert added.exit_code == 0, added.output
        result = invoke(path, "run", "--once")
    assert result.exit_code in (0, 1), result.output  # 1: it waits for approval
    with Store(load_config(path).store.path) as store:
        [news] = store.rows("SELECT slug, language FROM news")
    assert news["language"] is None
    rows = posts(path)
    posted = statuses(client)
    if missing == "skip":
        assert posted == [] and rows == {}
        return
    row = rows[news["slug"]]
    if missing == "original":
        [status] = posted
        assert status.language is None  # no language is claimed for it
        assert client.status_source(status.id).text.startswith("Open studio day in Plzeň")
        assert row["status"] == "sent"
        assert json.loads(row["payload"])["language"] is None
    else:
        assert posted == []
        assert row["status"] == "pending_approval"
        assert row["last_error"] == (
            "no language and no translation into pl: approve to post it as it is"
        )
