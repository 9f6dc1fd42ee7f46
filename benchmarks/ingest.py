"""Feed ingestion: 50 feeds x 200 items served on 127.0.0.1.

First poll (everything new), then an unchanged re-poll (conditional GET: every feed
answers 304 and nothing is parsed), then a re-poll against a server that ignores the
validators (every feed parsed again, nothing stored twice). Prints items/s and the
number of documents parsed in each run; exits 1 if the unchanged re-poll parsed
anything or stored a second copy.

Then memory at the cap: one feed just under the default 5 MB cap, a single 4.9 MB summary,
ingested and posted (``run --once`` to the outbox) in a fresh process; prints its peak
resident memory and that of the same process before the feed (target: peak under 150 MB).

Run: .venv/bin/python benchmarks/ingest.py [--feeds N] [--items N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from commsbot.config import load_config
from commsbot.feeds.ingest import Report, ingest
from commsbot.store import Store
from commsbot.store import feeds as feeds_q
from tests.support.feeds import FeedServer, feed_server, item, rss

CONFIG = """
[store]
path = "bench.db"

[channels.outbox]
enabled = true
path = "outbox"

[ingest]
concurrency = 4
max_bytes = 10_000_000
allow_private_hosts = ["127.0.0.1"]
"""

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def feed_document(feed: int, items: int) -> str:
    entries = []
    for n in range(items):
        day = START - timedelta(hours=n)
        entries.append(
            item(
                f"Partner {feed}: cross-innovation news no. {n} &amp; more",
                guid=f"https://partner{feed}.example/news/{n}",
                link=f"/news/{n}",
                description=(
                    f"&lt;p&gt;The creative industries of city {feed} met manufacturers for a "
                    "study visit on smart incentives.&lt;/p&gt;&lt;p&gt;Outcome: three "
                    "vouchers, two pilots &amp;amp; a &amp;lt;co&amp;gt;-creation lab.&lt;/p&gt;"
                ),
                date=day.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                permalink=True,
            )
        )
    return rss(entries, title=f"Partner {feed}")


def timed(store: Store, config_path: Path) -> tuple[Report, float]:
    config = load_config(config_path)
    began = time.perf_counter()
    report = asyncio.run(ingest(store, config))
    return report, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    total = args.feeds * args.items

    with tempfile.TemporaryDirectory() as folder, feed_server() as server:
        config_path = Path(folder) / "commsbot.toml"
        config_path.write_text(CONFIG, encoding="utf-8")
        store = Store(Path(folder) / "bench.db")
        paths = serve(server, args.feeds, args.items)
        for path in paths:
            feeds_q.add(store, server.url(path), "news", None, None, START)

        first, t_first = timed(store, config_path)
        unchanged, t_unchanged = timed(store, config_path)
        answers = [h.status for h in server.hits[len(paths) :]]
        # A server that ignores If-None-Match / If-Modified-Since: every body comes again.
        serve(server, args.feeds, args.items, validators=False)
        ignored, t_ignored = timed(store, config_path)
        stored = int(store.scalar("SELECT count(*) FROM news"))
        store.close()

    rows = [
        ("first poll", first, t_first),
        ("unchanged re-poll (304)", unchanged, t_unchanged),
        ("re-poll, validators ignored", ignored, t_ignored),
    ]
    print(f"feeds: {args.feeds} x {args.items} items = {total} items")
    print(f"{'run':<30}{'seconds':>9}{'items/s':>10}{'parsed':>8}{'new':>7}{'304s':>6}")
    for name, report, seconds in rows:
        totals = report.totals()
        print(
            f"{name:<30}{seconds:>9.2f}{total / seconds:>10.0f}{report.parsed:>8}"
            f"{totals['new']:>7}{totals['not modified']:>6}"
        )
    print(f"re-poll vs first poll: {t_first / t_unchanged:.0f}x faster")
    print(f"server answers on the unchanged re-poll: {answers.count(304)} x 304")
    print(f"news rows after three runs: {stored} (each item once)")
    ok = (
        unchanged.parsed == 0
        and answers == [304] * len(paths)
        and first.totals()["new"] == total
        and ignored.totals()["new"] == 0
        and stored == total
    )
    if not ok:
        print("FAILED: the unchanged re-poll parsed something, or an item was stored twice")
        return 1
    before, peak = at_the_cap()
    print(
        f"one feed at the 5 MB cap (a 4.9 MB summary), ingested and posted: peak {peak:.0f} MB "
        f"resident ({before:.0f} MB before the feed; target: under 150 MB)"
    )
    return 0


CAP_CONFIG = """
[store]
path = "cap.db"

[channels.outbox]
enabled = true
path = "outbox"

[[feeds]]
url = "{url}"
"""
SUMMARY_BYTES = 4_900_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _ingest_and_post(config_path: str, answer: multiprocessing.SimpleQueue[object]) -> None:
    """In a fresh process: everything imported, then the feed ingested and posted."""
    from commsbot.service.runs import run_once

    config = load_config(Path(config_path))
    store = Store(config.store.path)
    before = _peak_mb()
    asyncio.run(run_once(store, config))
    posted = store.scalar("SELECT count(*) FROM posts")
    answer.put((before, _peak_mb(), posted))


def at_the_cap() -> tuple[float, float]:
    """Peak memory of a process that ingests and posts one feed at the cap."""
    paragraph = "&lt;p&gt;Creative firms &amp;amp; manufacturers met in Plzeň.&lt;/p&gt; "
    description = paragraph * (SUMMARY_BYTES // len(paragraph.encode()))
    document = rss([item("At the cap", guid="urn:cap", link="/cap", description=description)])
    assert len(document.encode()) < 5_000_000
    with tempfile.TemporaryDirectory() as folder, feed_server() as server:
        url = server.set("/cap.xml", document)
        config_path = Path(folder) / "commsbot.toml"
        config_path.write_text(CAP_CONFIG.format(url=url), encoding="utf-8")
        context = multiprocessing.get_context("spawn")
        answer: multiprocessing.SimpleQueue[object] = context.SimpleQueue()
        child = context.Process(target=_ingest_and_post, args=(str(config_path), answer))
        child.start()
        child.join(300)
        if child.exitcode != 0:
            raise SystemExit(f"the process at the cap failed (exit code {child.exitcode})")
        before, peak, posted = answer.get()  # type: ignore[misc]
        if posted != 1:
            raise SystemExit(f"the item at the cap was not posted ({posted} posts)")
    return before, peak


def serve(server: FeedServer, feeds: int, items: int, validators: bool = True) -> list[str]:
    paths = []
    for feed in range(feeds):
        path = f"/partner{feed}/feed.xml"
        options: dict[str, object] = {}
        if validators:
            options = {"etag": f'"p{feed}-v1"', "last_modified": "Mon, 23 Nov 2026 11:00:00 GMT"}
        server.set(path, feed_document(feed, items), **options)
        paths.append(path)
    return paths


if __name__ == "__main__":
    sys.exit(main())
