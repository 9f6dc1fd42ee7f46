"""Long posts at Mastodon's real limit, against mastodon_mock counting as Mastodon does
(tests/fakes/mastodon_counting.py: graphemes, every URL as 23 characters), so a post
whose links make it longer than 500 characters in ``len()`` is still proven to fit (#14).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mastodon.errors import MastodonAPIError

from commsbot.config import Config, load_config
from commsbot.content.items import add_items
from commsbot.content.types import TYPES
from commsbot.posting import pipeline
from commsbot.store import Store
from commsbot.store import content as content_q
from commsbot.store import posts as posts_q
from commsbot.text import mastodon_length
from tests.support.mastodon import MockMastodon

TOKEN_ENV = "COMMSBOT_TEST_MASTODON_LIMITS_TOKEN"
SAMPLE = Path(__file__).resolve().parent.parent / "commsbot" / "content" / "sample" / "network.json"
LINK = "https://cross-innovation.example/practices/" + "a-practice-with-a-long-slug-" * 3
SENTENCE = (
    "Designers from Plzeň and engineers from Vilnius met at "
    "https://partner.example/events/2014/study-visit-on-smart-incentives-and-vouchers "
    "to share what worked. "
)


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockMastodon]:
    server = MockMastodon(tmp_path_factory.mktemp("counting"), counting=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(mock: MockMastodon, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A client of a fresh account, whose token commsbot posts with."""
    _, token = mock.new_account()
    monkeypatch.setenv(TOKEN_ENV, token)
    return mock.client(token)


def setup(tmp_path: Path, mock: MockMastodon, long_posts: str, types: str = '"practice"') -> Config:
    path = tmp_path / "commsbot.toml"
    path.write_text(
        f"""
[store]
path = "commsbot.db"

[posting]
content_types = [{types}]
backlog = "post"

[channels.outbox]
enabled = false

[channels.mastodon]
enabled = true
api_base_url = "{mock.base_url}"
access_token_env = "{TOKEN_ENV}"
long_posts = "{long_posts}"
""",
        encoding="utf-8",
    )
    config = load_config(path)
    with Store(config.store.path) as store:
        data = json.loads(SAMPLE.read_text(encoding="utf-8"))
        content_q.insert_reference(store, data["cities"], data["themes"], data["institutions"])
    return config


def add(config: Config, item_type: str, item: dict[str, Any]) -> None:
    with Store(config.store.path) as store:
        added, problems = add_items(store, TYPES[item_type], [("test", item)], datetime.now(UTC))
        assert added == 1, problems


def publish(config: Config) -> list[dict[str, Any]]:
    async def go() -> None:
        problems: list[str] = []
        channels = await pipeline.open_channels(config, problems)
        assert problems == []
        try:
            await pipeline.publish(config_store, config, channels)
        finally:
            await pipeline.close_channels(channels)

    with Store(config.store.path) as config_store:
        asyncio.run(go())
        rows = posts_q.list_posts(config_store, channel="mastodon")
        return [posts_q.get_post(config_store, r["id"]) or {} for r in rows]


def statuses(client: Any) -> list[Any]:
    me = client.account_verify_credentials()
    return list(reversed(client.account_statuses(me.id, limit=40)))


def practice(summary: str, **fields: Any) -> dict[str, Any]:
    return {
        "slug": "long",
        "title": "Smart incentives",
        "city": "plzen",
        "theme": "smart-incentives",
        "summary": summary,
        "url": LINK,
        **fields,
    }


def test_the_mock_counts_graphemes_and_23_per_url(client: Any) -> None:
    url = "https://partner.example/" + "x" * 100
    at_limit = "y" * 476 + " " + url  # 476 + 1 + 23 = 500, though len() is 601
    client.status_post(at_limit)
    client.status_post("👩\u200d💻" * 500)  # 500 graphemes, 1,500 code points
    with pytest.raises(MastodonAPIError, match="Text is too long"):
        client.status_post("y" + at_limit)
    with pytest.raises(MastodonAPIError, match="Text is too long"):
        client.status_post("👩\u200d💻" * 501)


def long_practice_posted(tmp_path: Path, mock: MockMastodon, long_posts: str) -> dict[str, Any]:
    """A practice of 12 sentences, each with a long link, published: its outbox row."""
    config = setup(tmp_path, mock, long_posts)
    add(config, "practice", practice(SENTENCE * 12))
    [post] = publish(config)
    assert post["status"] == "sent", post["last_error"]
    return post


def test_a_thread_with_links_fills_the_real_limit(
    tmp_path: Path, mock: MockMastodon, client: Any
) -> None:
    post = long_practice_posted(tmp_path, mock, "thread")

    parts = [post["text"], *post["payload"]["thread"]]
    shown = statuses(client)
    assert [client.status_source(s.id).text for s in shown] == parts
    assert [s.in_reply_to_id for s in shown[1:]] == [s.id for s in shown[:-1]]
    assert all(mastodon_length(part) <= 500 for part in parts)
    # Longer than 500 in len(): only a server counting links as 23 takes these.
    assert sum(len(part) > 500 for part in parts) >= 2
    assert parts[0].endswith(f"\n\n{LINK}") and len(parts) >= 3


def test_truncation_keeps_the_link_at_the_real_limit(
    tmp_path: Path, mock: MockMastodon, client: Any
) -> None:
    post = long_practice_posted(tmp_path, mock, "truncate")

    [status] = statuses(client)
    text = client.status_source(status.id).text
    assert text == post["text"] and text.endswith(f"…\n\n{LINK}")
    assert 480 <= mastodon_length(text) <= 500 < len(text)


def test_a_news_items_language_is_the_statuses(
    tmp_path: Path, mock: MockMastodon, client: Any
) -> None:
    config = setup(tmp_path, mock, "truncate", types='"news"')
    news = {"guid": "urn:pl", "title": "Fabryka pomysłów", "summary": "Zażółć gęślą jaźń."}
    add(config, "news", {**news, "link": "https://partner.example/pl", "language": "pl"})

    [post] = publish(config)

    assert post["status"] == "sent", post["last_error"]
    [status] = statuses(client)
    assert status.language == "pl"
