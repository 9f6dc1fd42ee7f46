"""Statistics over a year of a busy network: 20,000 sent posts with 5 snapshots each
(100,000, written out of order), 5,000 subscribers and 50,000 bot queries.

Prints, measured in one run: the time of `commsbot stats --by week --format json` and of
`commsbot report --html` as a user runs them (child processes, with their peak memory),
the in-process split of the report into store reads, aggregation and rendering, and the
ratio of reading the latest snapshot per post to a bare scan of every snapshot.
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# The benchmarks' shared store building (benchmarks/support) is imported from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.stores import sample_with_practices
from commsbot.content.places import Places
from commsbot.insights import stats as st
from commsbot.insights.report import render_report
from commsbot.store import Store, iso
from commsbot.store import audience as audience_q
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from commsbot.store import stats as stats_q

PRACTICES = 10_000
CHANNELS = ("mastodon", "telegram")
SNAPSHOTS = 5
SUBSCRIBERS = 5_000
QUERIES = 50_000
START = datetime(2025, 11, 24, tzinfo=UTC)
NOW = START + timedelta(days=364)


def build(path: Path) -> None:
    rng = random.Random(8)
    with Store(path) as store:
        items = sample_with_practices(store, PRACTICES, START)
        posts_q.insert_posts(
            store,
            [
                {
                    "item_type": "practice",
                    "item_id": it["id"],
                    "item_ref": it["slug"],
                    "channel": ch,
                    "status": "sending",
                    "text": f"Practice {it['slug']}",
                    "not_before": iso(START),
                }
                for it in items
                for ch in CHANNELS
            ],
            START,
        )
        ids = [r["id"] for r in store.rows("SELECT id FROM posts ORDER BY id")]
        sent = {pid: START + timedelta(minutes=rng.randrange(364 * 24 * 60)) for pid in ids}
        posts_q.record_results(
            store,
            [
                {"id": pid, "status": "sent", "attempts": 1, "sent_at": iso(sent[pid])}
                for pid in ids
            ],
            NOW,
        )
        snapshots = [
            {
                "post_id": pid,
                "favourites": n * 2,
                "boosts": n,
                "reactions": n * 3,
                "observed_at": iso(sent[pid] + timedelta(hours=n * 6)),
            }
            for pid in ids
            for n in rng.sample(range(1, SNAPSHOTS + 1), SNAPSHOTS)  # out of order
        ]
        engagement_q.add_snapshots(store, snapshots, NOW)
        for pid in ids[:: len(ids) // 50]:
            engagement_q.mark_remote_deleted(store, pid, NOW)
        with store.write():
            for i in range(SUBSCRIBERS):
                joined = START + timedelta(hours=rng.randrange(364 * 24))
                row = audience_q.upsert_subscriber(
                    store,
                    ("email", "telegram")[i % 2],
                    f"s{i}@example.org",
                    ("weekly", "monthly")[i % 3 == 0],
                    [],
                    [],
                    joined,
                )
                if i % 7 == 0:
                    audience_q.set_subscriber_status(
                        store, row["id"], "unsubscribed", joined + timedelta(days=20)
                    )
            commands = ("search", "practices", "practice", "events", "newsletter", "start")
            for _ in range(QUERIES):
                audience_q.log_bot_query(
                    store,
                    commands[rng.randrange(len(commands))],
                    f"chat-{rng.randrange(2_000)}",
                    START + timedelta(minutes=rng.randrange(364 * 24 * 60)),
                )


def child(config: Path, *args: str) -> tuple[float, float, int]:
    """Seconds, peak memory (MB) and output size of one commsbot command.

    The peak is the child's VmHWM (Linux): its ru_maxrss would also count this process's
    memory, which a child inherits as its high-water mark when it is forked.
    """
    code = (
        "import sys; from commsbot.cli import main; sys.argv = ['commsbot'] + "
        f"{['--config', str(config), *args]!r}\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "sys.stderr.write(hwm.split()[1])"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return seconds, int(done.stderr.strip().splitlines()[-1]) / 1024, len(done.stdout)


def best_of(times: int, func: object) -> float:
    assert callable(func)
    runs = []
    for _ in range(times):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return min(runs)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "bench.toml"
        config.write_text('[store]\npath = "bench.db"\n[service]\ntimezone = "Europe/Brussels"\n')
        started = time.perf_counter()
        build(folder / "bench.db")
        print(
            f"data: {len(CHANNELS) * PRACTICES} posts, {len(CHANNELS) * PRACTICES * SNAPSHOTS} "
            f"snapshots, {SUBSCRIBERS} subscribers, {QUERIES} bot queries "
            f"(built in {time.perf_counter() - started:.1f} s)"
        )

        seconds, peak, size = child(config, "stats", "--by", "week", "--format", "json")
        print(
            f"commsbot stats --by week --format json: {seconds * 1000:.0f} ms, "
            f"peak {peak:.0f} MB, {size / 1024:.0f} KiB"
        )
        html = folder / "report.html"
        seconds, peak, _ = child(config, "report", "--html", str(html))
        print(
            f"commsbot report --html: {seconds * 1000:.0f} ms, peak {peak:.0f} MB, "
            f"{html.stat().st_size / 1024:.0f} KiB file"
        )

        zone = ZoneInfo("Europe/Brussels")
        period = st.Period(None, NOW + timedelta(days=1), zone)
        with Store(folder / "bench.db") as store:
            rows: list[dict[str, object]] = []

            def read() -> None:
                rows[:] = stats_q.sent_posts(store, period.since, period.until)

            read_s = best_of(3, read)
            scan_s = best_of(3, lambda: store.rows("SELECT * FROM engagement"))
            posts = st.post_figures(rows)  # type: ignore[arg-type]
            ref = Places.load(store)
            agg_s = best_of(
                3, lambda: [st.summarise(posts, by, period, ref) for by in st.GROUPINGS]
            )
            report_s = best_of(3, lambda: render_report(store, period, NOW, templates=None))
        print(
            f"read sent posts + latest snapshot: {read_s * 1000:.0f} ms "
            f"({len(rows) / read_s:,.0f} posts/s); bare scan of all snapshots "
            f"{scan_s * 1000:.0f} ms; ratio {read_s / scan_s:.2f}"
        )
        print(f"aggregate by all 5 groupings: {agg_s * 1000:.0f} ms")
        print(f"report in process (read + aggregate + render): {report_s * 1000:.0f} ms")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"benchmark process peak memory: {own:.0f} MB")


if __name__ == "__main__":
    main()
