"""`commsbot feeds ...`, `[[feeds]]` in the config, and the ingest-feeds job in `run --once`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from commsbot.config import load_config
from commsbot.errors import ConfigError
from commsbot.service.jobs import job
from commsbot.store import Store
from commsbot.store import feeds as feeds_q
from tests.support.base import BASE_CONFIG, NOW, Invoke
from tests.support.feeds import FeedServer, feed_server, item, rss


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


# The feed server is on loopback, which feeds may reach only when the operator allows it.
LOOPBACK = '\n[ingest]\nread_timeout = 0.5\nallow_private_hosts = ["127.0.0.1"]\n'


@pytest.fixture(autouse=True)
def _loopback_allowed(config_path: Path) -> None:
    write_config(config_path, "")


def write_config(path: Path, extra: str) -> None:
    path.write_text(BASE_CONFIG + LOOPBACK + extra, encoding="utf-8")


def test_add_list_remove(sample_store: Store, invoke: Invoke) -> None:
    added = invoke(
        "feeds",
        "add",
        "https://plzen.example/feed.xml",
        "--kind",
        "newsletter",
        "--city",
        "Plzeň",
        "--theme",
        "Brokerage",
        "--no-check",
    )
    assert (added.exit_code, added.output) == (
        0,
        "added newsletter feed https://plzen.example/feed.xml\n",
    )

    listed = invoke("feeds", "list", "--format", "json")
    rows = json.loads(listed.output)
    assert [(r["url"], r["kind"], r["city"], r["theme"], r["source"]) for r in rows] == [
        ("https://plzen.example/feed.xml", "newsletter", "plzen", "brokerage", "cli")
    ]
    table = invoke("feeds", "list").output
    assert "https://plzen.example/feed.xml" in table
    assert "not polled yet" in table

    again = invoke("feeds", "add", "https://plzen.example/feed.xml")
    assert (again.exit_code, again.output) == (
        1,
        "Error: feed https://plzen.example/feed.xml is already configured\n",
    )

    removed = invoke("feeds", "remove", "https://plzen.example/feed.xml", "--yes")
    assert (removed.exit_code, removed.output) == (
        0,
        "removed feed https://plzen.example/feed.xml\n",
    )
    assert invoke("feeds", "list").output == "(none)\n"
    gone = invoke("feeds", "remove", "https://plzen.example/feed.xml", "--yes")
    assert gone.output == (
        "Error: no feed 'https://plzen.example/feed.xml' (see `commsbot feeds list`)\n"
    )


def test_add_fetches_the_feed_first_and_refuses_what_is_not_one(
    sample_store: Store, invoke: Invoke, server: FeedServer
) -> None:
    good = server.set("/rss", rss([item("Hello Tallinn", guid="h")]))
    missing = server.set("/gone", "Not here", status=404)
    page = server.set(
        "/page", "<!doctype html><html><body><p>News</p></body></html>", content_type="text/html"
    )
    text = server.set("/notes", "just some words", content_type="text/plain")
    for url, problem in (
        (missing, "HTTP 404"),
        (page, "is a web page (HTML), not an RSS or Atom feed: give the feed's own address"),
        (text, "not an RSS or Atom feed"),
    ):
        refused = invoke("feeds", "add", url)
        assert refused.exit_code == 1, refused.output
        assert refused.output.startswith(f"Error: feed {url}: {problem}"), refused.output
        assert refused.output.endswith("; nothing added (--no-check adds it without looking)\n")
        assert "Traceback" not in refused.output
    assert feeds_q.all_feeds(sample_store) == []
    assert len(server.requests_to("/gone")) == 1  # it was fetched, through the guarded fetcher
    added = invoke("feeds", "add", good, "--city", "Tallinn")
    assert (added.exit_code, added.output) == (0, f"added news feed {good}\n")
    # --no-check: a feed not up yet is added without a request.
    later = invoke("feeds", "add", missing, "--no-check")
    assert later.exit_code == 0, later.output
    assert len(server.requests_to("/gone")) == 1
    assert sorted(f["url"] for f in feeds_q.all_feeds(sample_store)) == sorted([good, missing])


def test_add_checks_through_the_address_policy(
    sample_store: Store, invoke: Invoke, config_path: Path, server: FeedServer
) -> None:
    config_path.write_text(BASE_CONFIG, encoding="utf-8")
    url = server.set("/rss", rss([item("Hello", guid="h")]))
    refused = invoke("feeds", "add", url)
    assert refused.exit_code == 1 and "refused" in refused.output, refused.output
    assert server.requests_to("/rss") == []
    assert feeds_q.all_feeds(sample_store) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://x.example/f"], "Error: URL: 'ftp://x.example/f' is not an http(s) URL\n"),
        (["not a url"], "Error: URL: 'not a url' is not an http(s) URL\n"),
        (
            ["https://x.example/f", "--city", "Talinn"],
            "Error: --city: unknown city 'Talinn'; did you mean 'tallinn'?\n",
        ),
        (
            ["https://x.example/f", "--kind", "blog"],
            None,  # click's own message names the option and the choices
        ),
    ],
)
def test_add_refuses_bad_input(
    sample_store: Store, invoke: Invoke, args: list[str], message: str | None
) -> None:
    result = invoke("feeds", "add", *args)
    assert result.exit_code != 0
    if message is None:
        assert "Invalid value for '--kind': 'blog' is not one of 'news', 'newsletter'" in (
            result.output
        )
    else:
        assert result.output == message
    assert feeds_q.all_feeds(sample_store) == []


def test_config_feeds_are_listed_and_cannot_be_removed_from_the_cli(
    sample_store: Store, invoke: Invoke, config_path: Path
) -> None:
    write_config(
        config_path,
        '[[feeds]]\nurl = "https://vilnius.example/rss"\ncity = "Vilnius"\n\n'
        '[[feeds]]\nurl = "https://x.example/letters"\nkind = "newsletter"\n',
    )
    rows = json.loads(invoke("feeds", "list", "--format", "json").output)
    assert [(r["url"], r["kind"], r["city"], r["source"]) for r in rows] == [
        ("https://vilnius.example/rss", "news", "vilnius", "config"),
        ("https://x.example/letters", "newsletter", None, "config"),
    ]
    refused = invoke("feeds", "remove", "https://vilnius.example/rss", "--yes")
    assert refused.output == (
        f"Error: feed https://vilnius.example/rss is set in {config_path} ([[feeds]]): "
        "remove it there\n"
    )

    # Taken out of the config: gone from the store at the next sync.
    write_config(config_path, '[[feeds]]\nurl = "https://x.example/letters"\n')
    rows = json.loads(invoke("feeds", "list", "--format", "json").output)
    assert [(r["url"], r["kind"]) for r in rows] == [("https://x.example/letters", "news")]


def test_config_feed_with_unknown_city_is_a_clear_error(
    sample_store: Store, invoke: Invoke, config_path: Path
) -> None:
    write_config(config_path, '[[feeds]]\nurl = "https://x.example/f"\ncity = "Talinn"\n')
    result = invoke("feeds", "list")
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {config_path}: feeds[0].city: unknown city 'Talinn'; did you mean 'tallinn'? "
        "(known: amsterdam, berlin, birmingham, linz, lisbon, plzen, rome, stockholm, tallinn, "
        "vilnius, warsaw)\n",
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[feeds]]\nkind = "news"\n', "feeds[0].url: is required"),
        (
            '[[feeds]]\nurl = "https://a.example/"\nkind = "blog"\n',
            "feeds[0].kind: must be one of news | newsletter, not 'blog'",
        ),
        (
            '[[feeds]]\nurl = "https://a.example/"\n[[feeds]]\nurl = "https://a.example/"\n',
            "feeds[1].url: https://a.example/ is already feeds[0]",
        ),
        (
            '[[feeds]]\nurl = "https://a.example/"\ncolour = "red"\n',
            "feeds[0].colour: unknown key (known: city, hashtags_from_categories, kind, theme, url)",
        ),
        ('[feeds]\nurl = "https://a.example/"\n', "feeds: must be an array of tables ([[feeds]])"),
        ("[ingest]\nread_timeout = 0\n", "ingest.read_timeout: must be more than 0 seconds"),
        ('[ingest]\nmax_bytes = "big"\n', "ingest.max_bytes: must be an integer, not a string"),
    ],
)
def test_config_errors_name_the_key(config_path: Path, toml: str, message: str) -> None:
    config_path.write_text(BASE_CONFIG + toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == f"{config_path}: {message}"


def test_check_polls_now_and_exits_1_when_a_feed_fails(
    sample_store: Store, invoke: Invoke, server: FeedServer
) -> None:
    good = server.set("/good", rss([item("Hello Tallinn", guid="h")]))
    bad = server.set("/bad", "", status=500)
    feeds_q.add(sample_store, good, "news", "tallinn", None, NOW)
    feeds_q.add(sample_store, bad, "news", None, None, NOW)

    result = invoke("feeds", "check")

    assert result.exit_code == 1
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[2:]}
    assert lines[good][:5] == ["stored", "200", "1", "0", "0"]
    assert lines[bad][:2] == ["failed", "500"]
    assert " ".join(lines[bad][5:]) == "HTTP 500 Internal Server Error"
    assert sample_store.rows("SELECT title, city FROM news") == [
        {"title": "Hello Tallinn", "city": "tallinn"}
    ]

    only_good = invoke("feeds", "check", good)
    assert only_good.exit_code == 0
    unknown = invoke("feeds", "check", "https://nowhere.example/")
    assert (
        unknown.output == "Error: no feed 'https://nowhere.example/' (see `commsbot feeds list`)\n"
    )


def test_run_once_ingests_then_posts(
    sample_store: Store, invoke: Invoke, config_path: Path, server: FeedServer, tmp_path: Path
) -> None:
    url = server.set(
        "/news", rss([item("Study visit to Linz", guid="l1", link="https://linz.example/1")])
    )
    write_config(config_path, f'[[feeds]]\nurl = "{url}"\ncity = "linz"\n')

    result = invoke("run", "--once")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "ingest-feeds: feeds 1, not modified 0, parsed 1, new 1, updated 0, skipped 0, "
        "failed 0, disabled 0"
    )
    posted = [p.read_text("utf-8") for p in (tmp_path / "outbox").glob("*-news-*.txt")]
    assert posted == ["Study visit to Linz\n\nhttps://linz.example/1\n"]


def test_job_is_skipped_without_feeds_and_says_why(
    sample_store: Store, invoke: Invoke, config_path: Path
) -> None:
    config = load_config(config_path)
    assert job("ingest-feeds").requires(config) == "no feeds configured"
    result = invoke("run", "--once")
    assert "ingest-feeds: skipped no feeds configured" in result.output.splitlines()

    feeds_q.add(sample_store, "https://a.example/f", "news", None, None, NOW)
    assert job("ingest-feeds").requires(config) is None
    sample_store.conn.execute("UPDATE feeds SET disabled = 1")
    assert (
        job("ingest-feeds").requires(config)
        == "all 1 feeds are disabled (see `commsbot feeds list`)"
    )


def test_help_lists_the_feed_commands(invoke: Invoke) -> None:
    result = invoke("feeds", "--help")
    assert result.exit_code == 0
    for command in ("add", "check", "list", "remove"):
        assert f"  {command} " in result.output
