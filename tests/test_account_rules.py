"""Accounts without servers (#16, #15 item 4): config checks, filters, the template
fall-back, markup by declaration, shared pacing, and an old store's upgrade."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from commsbot.channels import account
from commsbot.channels.base import ChannelSettings
from commsbot.channels.outbox import OutboxSettings
from commsbot.channels.telegram import TelegramChannel, TelegramSettings
from commsbot.config import Config, load_config
from commsbot.delivery import pacer_for, shared_pacers
from commsbot.errors import ConfigError
from commsbot.posting.accounts import refusal, takers
from commsbot.posting.pipeline import make_channels, plan
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.store import posts as posts_q
from commsbot.store import stats as stats_q
from tests.support.base import NOW


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[channels.tallinn]\nkind = "myspace"\n',
            r"c\.toml: channels\.tallinn\.kind: unknown kind 'myspace' \(known: outbox, mastodon",
        ),
        ("[channels.tallinn]\n", r"unknown channel \[channels\.tallinn\]: give it a kind"),
        ('[channels."a b"]\nkind = "outbox"\n', r"channels\.a b: a channel name is letters"),
        (
            '[channels.Tallinn]\nkind = "outbox"\npath = "a"\n'
            '[channels.tallinn]\nkind = "outbox"\npath = "b"\n',
            r"channels\.tallinn: the same name as channels\.Tallinn \(names ignore case\)",
        ),
        (
            '[channels.mastodon]\napi_base_url = "https://a.example"\n'
            '[channels.tallinn-mastodon]\nkind = "mastodon"\napi_base_url = "https://a.example"\n',
            r"channels\.tallinn-mastodon\.access_token_env: the same access_token_env as "
            r"channels\.mastodon: two accounts would be one",
        ),
        (
            '[channels.news]\nkind = "telegram"\nchat_id = "@news"\n'
            '[channels.more-news]\nkind = "telegram"\nchat_id = "@news"\n',
            r"channels\.more-news\.bot_token_env: the same bot_token_env and chat_id as "
            r"channels\.news",
        ),
        (
            '[channels.outbox]\ncities = ["tallin"]\n',
            r"channels\.outbox\.cities\[0\]: unknown: 'tallin', no such slug in the network or "
            r"the store .*commsbot\.db \(known: amsterdam, berlin, birmingham",
        ),
        (
            '[channels.outbox]\nthemes = ["brokerage", "games"]\n',
            r"channels\.outbox\.themes\[1\]: unknown: 'games'",
        ),
        (
            '[channels.outbox]\ncontent_types = ["tweet"]\n',
            r"channels\.outbox\.content_types\[0\]: unknown: 'tweet'",
        ),
        ('[channels.outbox]\nlanguages = ["Polish"]\n', r"channels\.outbox\.languages\[0\]"),
        ('[channels.outbox]\nfeeds = ["ftp://x"]\n', r"channels\.outbox\.feeds\[0\]: 'ftp://x'"),
        (
            '[movement]\naccount = "outbox"\n',
            r"movement\.account: no Mastodon or Bluesky account 'outbox'",
        ),
        (
            '[channels.a]\nkind = "mastodon"\n[movement]\naccounts = ["a", "outbox"]\n',
            r"movement\.accounts\[1\]: no Mastodon or Bluesky account 'outbox' is configured "
            r"\(configured: a\)",
        ),
        (
            '[movement]\naccount = "a"\naccounts = ["a"]\n',
            r"movement\.account: give movement\.accounts or account, not both",
        ),
    ],
)
def test_bad_accounts_are_refused_at_load_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


def test_one_bot_may_post_to_several_chats(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[channels.news]\nkind = "telegram"\nchat_id = "@news"\n'
        '[channels.warsaw]\nkind = "telegram"\nchat_id = "@warsaw"\n'
        "[channels.telegram]\n",
    )
    assert {n: s.kind for n, s in config.channels.items()} == {
        "news": "telegram",
        "warsaw": "telegram",
        "telegram": "telegram",
    }


def test_filters() -> None:
    tallinn = ChannelSettings(kind="outbox", cities=("tallinn",), content_types=("practice",))
    # Skipping what has no Polish version: the filter keeps it out (#19).
    polish = ChannelSettings(kind="outbox", languages=("pl",), missing_translation="skip")
    feeds = ChannelSettings(kind="outbox", feeds=("https://partner.example/feed.xml",))
    everything = ChannelSettings(kind="outbox")
    accounts = {"tallinn": tallinn, "polish": polish, "feeds": feeds, "all": everything}
    practice = {"city": "tallinn", "theme": "brokerage", "language": "en"}
    assert takers(accounts, "practice", practice) == ["tallinn", "all"]
    assert refusal(polish, "practice", practice, None) == "languages: not en"
    assert refusal(polish, "practice", practice, None, translated=["pl"]) is None
    # Otherwise the original goes (or waits for approval) under its own language.
    assert (
        refusal(ChannelSettings(kind="outbox", languages=("pl",)), "practice", practice, None)
        is None
    )
    assert refusal(tallinn, "newsletter", {}, None) == "content_types: not newsletter"
    assert refusal(tallinn, "practice", {"city": None}, None) == "cities: it has none"
    news = {"city": None, "theme": None}
    assert takers(accounts, "news", news, "https://partner.example/feed.xml") == ["feeds", "all"]
    assert takers(accounts, "news", news, "https://other.example/feed.xml") == ["all"]


def test_plan_gives_each_account_what_its_filters_take(sample_store: Store, tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[channels.network]\nkind = "outbox"\nenabled = true\npath = "a"\n'
        'content_types = ["newsletter"]\n'
        '[channels.tallinn]\nkind = "outbox"\nenabled = true\npath = "b"\n'
        'cities = ["tallinn"]\nthemes = ["brokerage"]\n',
    )
    channels = make_channels(config)
    plan(sample_store, config, Renderer(None), channels, NOW)
    rows = posts_q.list_posts(sample_store, limit=1000)
    network = {(r["item_type"], r["item_ref"]) for r in rows if r["channel"] == "network"}
    newsletters = sample_store.rows("SELECT slug FROM newsletters")
    assert network == {("newsletter", n["slug"]) for n in newsletters}
    tallinn = [r for r in rows if r["channel"] == "tallinn"]
    # Events have no theme: only practices pass a themes filter.
    assert tallinn and all(r["item_type"] == "practice" for r in tallinn)
    for row in tallinn:
        item = sample_store.row("SELECT city, theme FROM practices WHERE id = ?", (row["item_id"],))
        assert item == {"city": "tallinn", "theme": "brokerage"}


def test_templates_fall_back_from_account_to_kind_to_type(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    (folder / "tallinn-news").mkdir(parents=True)
    (folder / "telegram").mkdir()
    (folder / "tallinn-news" / "event.j2").write_text("account {{ item.title }}")
    (folder / "telegram" / "event.j2").write_text("kind {{ item.title }}")
    renderer = Renderer(folder)
    tallinn = TelegramChannel(TelegramSettings(kind="telegram"), "tallinn-news")
    other = TelegramChannel(TelegramSettings(kind="telegram"), "warsaw-news")
    assert renderer.template(tallinn, "event").name == "tallinn-news/event.j2"
    assert renderer.template(other, "event").name == "telegram/event.j2"
    outbox = account("tallinn-news", OutboxSettings(kind="outbox", path=tmp_path))
    # Another kind under the same name: the account's own template, then the default.
    assert renderer.template_names(outbox, "news") == (
        "tallinn-news/news.en.j2",
        "tallinn-news/news.j2",
        "outbox/news.en.j2",
        "outbox/news.j2",
        "news.en.j2",
        "news.j2",
    )


def test_escaping_follows_the_declared_markup_not_the_template_path(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    (folder / "partners").mkdir(parents=True)
    (folder / "partners" / "announcement.j2").write_text("{{ text }}")
    renderer = Renderer(folder)
    html = TelegramChannel(TelegramSettings(kind="telegram"), "partners")
    plain = account("partners", OutboxSettings(kind="outbox", path=tmp_path))
    for channel, text in ((html, "Tools &amp; &lt;b&gt;"), (plain, "Tools & <b>")):
        out = renderer.render(
            channel,
            "announcement",
            {"text": "Tools & <b>"},
            link="https://a.example/?x=1&y=2",
            what="a test",
        )
        assert out.text.startswith(text)
    escaped = renderer.render(
        html, "announcement", {"text": "x"}, link="https://a.example/?x=1&y=2", what="a test"
    )
    assert escaped.text.endswith("https://a.example/?x=1&amp;y=2")


def test_accounts_of_one_bot_share_its_pace() -> None:
    one = TelegramChannel(TelegramSettings(kind="telegram", chat_id="@a"), "a")
    two = TelegramChannel(TelegramSettings(kind="telegram", chat_id="@b"), "b")
    other_bot = TelegramChannel(
        TelegramSettings(kind="telegram", chat_id="@c", bot_token_env="OTHER_BOT"), "c"
    )
    shared = shared_pacers([one, two, other_bot])
    assert len(shared) == 2
    first, second = (pacer_for(c, 1000.0, shared) for c in (one, two))
    assert first.shared is second.shared is not None
    assert pacer_for(other_bot, 1000.0, shared).shared is not first.shared

    async def four_sends() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for pacer in (first, second, first, second):
            await pacer.wait()
        return loop.time() - start

    # Each account alone could send 1000 a second; the bot's 30 a second paces all four.
    assert asyncio.run(four_sends()) >= 3 / 30 * 0.9


def test_an_old_store_upgrades_and_keeps_every_post_and_statistic(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path, upto=10) as old:  # the schema before accounts
        conn = old.conn
        for i, (channel, status) in enumerate(
            [("mastodon", "sent"), ("mastodon", "sent"), ("telegram", "sent"), ("outbox", "failed")]
        ):
            conn.execute(
                "INSERT INTO posts (item_type, item_id, item_ref, channel, status, not_before, "
                "idempotency_key, sent_at, created_at, updated_at) VALUES ('announcement', ?, ?, "
                "?, ?, '2026-11-02T10:00:00Z', ?, '2026-11-02T10:00:00Z', "
                "'2026-11-01T10:00:00Z', '2026-11-02T10:00:00Z')",
                (i, f"a-{i}", channel, status, f"key-{i}"),
            )
        conn.execute(
            "INSERT INTO engagement (post_id, favourites, boosts, observed_at) "
            "VALUES (1, 5, 2, '2026-11-03T10:00:00Z')"
        )
        conn.execute(
            "INSERT INTO subscribers (channel, address, frequency, token, created_at, updated_at) "
            "VALUES ('email', 'a@example.org', 'weekly', 't1', '2026-11-01T10:00:00Z', "
            "'2026-11-01T10:00:00Z')"
        )
        conn.execute(
            "INSERT INTO digests (frequency, period, created_at) "
            "VALUES ('weekly', '2026-W45', '2026-11-09T10:00:00Z')"
        )
        conn.execute(
            "INSERT INTO digest_deliveries (digest_id, subscriber_id, channel, status, "
            "created_at) VALUES (1, 1, 'email', 'sent', '2026-11-09T10:00:00Z')"
        )
    with Store(path) as store:
        assert 14 in store.applied()
        rows = stats_q.sent_posts(store)
        assert [(r["channel"], r["platform"], r["favourites"]) for r in rows] == [
            ("mastodon", "mastodon", 5),
            ("mastodon", "mastodon", 0),
            ("telegram", "telegram", 0),
        ]
        assert len(posts_q.list_posts(store, limit=100)) == 4
        # The delivery keeps its subscriber: rebuilding subscribers fired no ON DELETE.
        assert store.scalar("SELECT subscriber_id FROM digest_deliveries") == 1
        assert store.scalar("SELECT address FROM subscribers WHERE id = 1") == "a@example.org"
        kinds = store.rows("SELECT name, kind FROM accounts ORDER BY name")
        assert kinds == [
            {"name": "email", "kind": "email"},
            {"name": "mastodon", "kind": "mastodon"},
            {"name": "outbox", "kind": "outbox"},
            {"name": "telegram", "kind": "telegram"},
        ]
        # A digest account has a name of the officer's choosing now.
        store.conn.execute(
            "INSERT INTO subscribers (channel, address, frequency, token, created_at, "
            "updated_at) VALUES ('partners-email', 'a@example.org', 'weekly', 't2', "
            "'2026-11-01T10:00:00Z', '2026-11-01T10:00:00Z')"
        )
        assert store.scalar("PRAGMA foreign_keys") == 1
    with pytest.raises(sqlite3.IntegrityError), sqlite3.connect(path) as raw:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute(
            "INSERT INTO digest_deliveries (digest_id, subscriber_id, status, created_at) "
            "VALUES (1, 99, 'sent', 'x')"
        )


def test_the_readme_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme[readme.index("### Several accounts") :]
    example = section[section.index("```toml\n") + 8 : section.index("```\n", 10)]
    config = load(tmp_path, example)
    kinds = {n: s.kind for n, s in config.channels.items()}
    assert kinds == {
        "network-mastodon": "mastodon",
        "tallinn-mastodon": "mastodon",
        "polish-telegram": "telegram",
        "newsletter-telegram": "telegram",
    }


def test_a_filter_city_imported_into_the_store_later_is_known_at_load(tmp_path: Path) -> None:
    """Cities come from the network's packaged data and from the store: one imported after
    the sample (Aarhus) may be filtered on once it is there, never before (#16)."""
    import json

    from click.testing import CliRunner

    from commsbot.cli import cli

    plain = tmp_path / "plain.toml"
    plain.write_text('[store]\npath = "commsbot.db"\n', encoding="utf-8")
    filtered = tmp_path / "aarhus.toml"
    filtered.write_text(
        '[store]\npath = "commsbot.db"\n\n[channels.aarhus]\nkind = "outbox"\npath = "a"\n'
        'cities = ["aarhus"]\nthemes = ["brokerage", "games"]\n',
        encoding="utf-8",
    )

    def run(config: Path, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        return result.exit_code, result.output

    assert run(plain, "init", "--sample")[0] == 0
    code, output = run(filtered, "channels")
    assert code != 0, output
    assert (
        f"{filtered}: channels.aarhus.cities[0]: unknown: 'aarhus', no such slug in the network "
        f"or the store {tmp_path / 'commsbot.db'} (known: "
    ) in output
    assert "Traceback" not in output
    data = {
        "cities": [{"slug": "aarhus", "name": "Aarhus", "country": "Denmark"}],
        "themes": [{"slug": "games", "name": "Games"}],
        "practices": [],
    }
    (tmp_path / "aarhus.json").write_text(json.dumps(data), encoding="utf-8")
    code, output = run(plain, "content", "import", str(tmp_path / "aarhus.json"))
    assert code == 0, output
    code, output = run(filtered, "channels")
    assert code == 0, output
    assert "aarhus" in output
