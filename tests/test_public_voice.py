"""One table of hostile feed texts, ingested from a real feed server on 127.0.0.1 and
rendered for every channel in the registry, each checked the same way: the link is kept,
no markup is left (and a channel with markup gets markup its platform accepts), and the
reader sees the same words the feed meant, in order (#14).

A channel added to the registry gets the whole table: posts for a channel that takes
posts, digests for a channel subscribers can choose.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from commsbot.channels import channel_class, channel_names
from commsbot.channels.base import Channel
from commsbot.channels.email import EmailSettings
from commsbot.config import Config, load_config
from commsbot.content.places import Places
from commsbot.digests.build import Contents, DigestRenderer, parse_period, sample_subscriber
from commsbot.feeds.ingest import ingest
from commsbot.posting.pipeline import render_item
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.store import feeds as feeds_q
from commsbot.text import html_to_text, is_valid_telegram_html
from tests.support.base import BASE_CONFIG, NOW
from tests.support.feeds import FeedServer, feed_server, item, rss

# A summary just under the default 5 MB feed cap.
LONG_WORDS = 980_000


@dataclass(frozen=True)
class Case:
    """A feed entry as XML text, and what a reader must see of it."""

    name: str
    title_xml: str
    summary_xml: str
    title: str
    summary: str


CASES = [
    Case(
        "a tag named in a title",
        "Why &lt;script&gt; tags block rendering",
        "Put &amp;lt;script&amp;gt; tags at the end of &amp;lt;body&amp;gt;.",
        "Why <script> tags block rendering",
        "Put <script> tags at the end of <body>.",
    ),
    Case(
        "markup in the summary, tags in the title",
        "Compare a &lt;b&gt; tag with &lt;strong&gt;:",
        "&lt;p&gt;Both make text &lt;b&gt;bold&lt;/b&gt;.&lt;/p&gt;&lt;p&gt;Only one means it.&lt;/p&gt;",
        "Compare a <b> tag with <strong>:",
        "Both make text bold. Only one means it.",
    ),
    Case(
        "<co> literally",
        "Design &lt;co&gt;lab opens in Plzeň",
        "The &amp;lt;co&amp;gt;lab format &amp;amp; its teams.",
        "Design <co>lab opens in Plzeň",
        "The <co>lab format & its teams.",
    ),
    Case(
        "&amp; written out and & meant",
        "R&amp;D vouchers",
        "AT&amp;amp;amp;T writes &amp;amp;amp; where it means &amp;amp;.",
        "R&D vouchers",
        "AT&amp;T writes &amp; where it means &.",
    ),
    Case(
        "bidirectional overrides and marks",
        "Invoice \u202egpj.exe\u202c ready",
        "Open \u2066this\u2069 file \u200f now, \u200eplease\ufeff.",
        "Invoice gpj.exe ready",
        "Open this file now, please.",
    ),
    Case(
        "emoji with joiners, a subdivision flag, Persian ZWNJ",
        "Team 👩\u200d💻 and 👨\u200d👩\u200d👧 meet 🏳️\u200d🌈",
        "Scotland 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f joins; \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 ❤️\u200d🔥",
        "Team 👩\u200d💻 and 👨\u200d👩\u200d👧 meet 🏳️\u200d🌈",
        "Scotland 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f joins; \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 ❤️\u200d🔥",
    ),
    Case(
        "Polish, Lithuanian and Czech diacritics",
        "Zażółć gęślą jaźń w Warszawie",
        "Vilniaus savivaldybė: ąčęėįšųūž. Plzeň: příliš žluťoučký kůň úpěl ďábelské ódy.",
        "Zażółć gęślą jaźń w Warszawie",
        "Vilniaus savivaldybė: ąčęėįšųūž. Plzeň: příliš žluťoučký kůň úpěl ďábelské ódy.",
    ),
    Case(
        "5 MB of text",
        "A very long summary",
        "słowo " * LONG_WORDS,
        "A very long summary",
        "słowo " * LONG_WORDS,
    ),
]

HREF_RE = re.compile(r'href="([^"]*)"')
# The feed server is on loopback, which feeds reach only when the operator allows it (#13).
INGEST = '\n[ingest]\nmax_bytes = 12_000_000\nallow_private_hosts = ["127.0.0.1"]\n'


def link_of(n: int) -> str:
    # A query with & so that each channel's escaping of links is tried too.
    return f"https://partner.example/news/{n}?lang=pl&ref=feed"


@dataclass(frozen=True)
class Shown:
    """What one channel showed of one case."""

    where: str
    visible: str
    markup: str
    summaries: bool


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Config]]:
    """The table as one partner feed, polled once into a fresh store."""
    folder = tmp_path_factory.mktemp("voice")
    config_path = folder / "commsbot.toml"
    config_path.write_text(BASE_CONFIG + INGEST, encoding="utf-8")
    config = load_config(config_path)
    server: FeedServer
    with feed_server() as server, Store(config.store.path) as store:
        entries = [
            item(
                case.title_xml, guid=f"urn:case:{n}", link=link_of(n), description=case.summary_xml
            )
            for n, case in enumerate(CASES)
        ]
        url = server.set("/feed.xml", rss(entries))
        feeds_q.add(store, url, "news", None, None, NOW)
        report = asyncio.run(ingest(store, config, clock=lambda: NOW))
        assert report.totals()["new"] == len(CASES), report.outcomes
        yield store, config


def channels(tmp_path: Path) -> list[Channel]:
    """Every registered channel, built from its default settings."""
    built = []
    for name in channel_names():
        cls = channel_class(name)
        settings = cls.Settings()
        if name == "email":
            settings = EmailSettings(
                from_="News <news@example.org>",
                unsubscribe_url="https://example.org/leave?t={token}",
            )
        elif name == "outbox":
            settings = cls.Settings(path=tmp_path)  # type: ignore[call-arg]
        built.append(cls(settings))
    return built


def shown(store: Store, config: Config, channel: Channel, n: int) -> list[Shown]:
    """Everything the channel makes of case n: its post, and its digest."""
    news = store.rows("SELECT * FROM news WHERE guid = ?", (f"urn:case:{n}",))[0]
    results = []
    if channel.takes_posts:
        out = render_item(Renderer(), Places.load(store), channel, "news", news)
        assert channel.length(out.text) <= channel.limit()
        results.append(Shown("post", channel.visible(out.text), out.text, True))
    if channel.sends_direct:
        period = parse_period("2026-W48", config.zone)
        contents = Contents({"news": [{**news, "new_at": news["created_at"]}]})
        digests = DigestRenderer(Renderer(), Places.load(store), config, period)
        subscriber = sample_subscriber(channel.name, "weekly")
        since = period.start - timedelta(days=1)
        if channel.kind == "email":
            message = digests.email(channel, contents, subscriber, since)
            results.append(Shown("digest text", message.text, message.text, True))
            page = message.html or ""
            results.append(Shown("digest html", html_to_text(page), page, True))
        else:
            message = digests.telegram(contents, subscriber, since)
            results.append(
                Shown("digest", channel.visible(message.html or ""), message.html or "", False)
            )
    return results


def words_follow(seen: list[str], expected: list[str], start: int) -> int:
    """How many expected words follow seen[start:] in order; the last may be cut short
    and end with an ellipsis."""
    count = 0
    for want in expected:
        if start + count >= len(seen):
            break
        got = seen[start + count]
        if got == want:
            count += 1
            continue
        cut = got.rstrip("…")
        assert got.endswith("…") and want.startswith(cut.rstrip(",;:-")), (got, want)
        return count + 1
    return count


def check(shown: Shown, case: Case, link: str, channel: Channel) -> None:
    where = f"{channel.name} {shown.where}, {case.name}"
    # The link is kept: shown in the text, or as the target of an HTML link.
    targets = [html.unescape(h) for h in HREF_RE.findall(shown.markup)]
    assert link in shown.visible or link in targets, where
    # No markup left: HTML a platform accepts, and no tag of the feed's among what is read.
    if channel.markup == "html":
        assert is_valid_telegram_html(shown.markup), where
    for tag in ("<p>", "</p>", "<b>bold", "</b>", "<strong>bold"):
        assert tag not in shown.visible, (where, tag)
    # The same words, in order: the title whole, then as much of the summary as shown.
    seen = shown.visible.split()
    title = case.title.split()
    starts = [i for i in range(len(seen)) if seen[i : i + len(title)] == title]
    assert starts, (where, case.title, shown.visible[:300])
    after = starts[0] + len(title)
    if shown.summaries:
        summary = case.summary.split()
        assert words_follow(seen, summary, after) >= min(len(summary), 2), (
            where,
            seen[after:][:10],
        )


@pytest.mark.parametrize("name", channel_names())
@pytest.mark.parametrize("n", range(len(CASES)), ids=[c.name for c in CASES])
def test_every_channel_shows_the_feed_as_it_was_meant(
    ingested: tuple[Store, Config], tmp_path: Path, name: str, n: int
) -> None:
    store, config = ingested
    [channel] = [c for c in channels(tmp_path) if c.name == name]
    results = shown(store, config, channel, n)
    assert results, f"{name} neither takes posts nor digests: the table cannot check it"
    for result in results:
        check(result, CASES[n], link_of(n), channel)


def test_the_store_holds_each_text_decoded_once(ingested: tuple[Store, Config]) -> None:
    store, _ = ingested
    rows = store.rows("SELECT guid, title, summary FROM news ORDER BY id")
    assert [(r["title"], r["summary"]) for r in rows] == [
        (case.title, " ".join(case.summary.split())) for case in CASES
    ]


def test_a_table_row_fails_when_words_are_lost() -> None:
    """The checker itself: a post that dropped <co> (the old Telegram defect) fails."""
    case = CASES[2]
    lost = Shown(
        "post",
        "Design lab opens in Plzeň\n\nThe lab format & its teams.\n\n" + link_of(2),
        "",
        True,
    )
    with pytest.raises(AssertionError):
        check(lost, case, link_of(2), channel_class("outbox")(channel_class("outbox").Settings()))


@pytest.mark.parametrize("name", [n for n in channel_names() if channel_class(n).takes_posts])
def test_an_officers_text_loses_its_invisible_controls_too(tmp_path: Path, name: str) -> None:
    [channel] = [c for c in channels(tmp_path) if c.name == name]
    text = "Invoice \u202egpj.exe\u202c for 👩\u200d💻 \u2066now\u2069"
    out = Renderer().render(channel, "announcement", {"text": text}, link=None, what="it")
    assert channel.visible(out.text) == "Invoice gpj.exe for 👩\u200d💻 now"
