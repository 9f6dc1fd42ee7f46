"""The web console over HTTP with a busy store: 50,000 posts (two accounts over a year,
in every state), 200,000 engagement snapshots and 50,000 practices.

Prints, for Today, Calendar (month), Queue (first page) and Stats (last 30 days, with the
30 before) as a signed-in officer fetches them from the running console on loopback, the
client's p50 and p95 (the round trip included) and the p95 server time the console states
in its ``Server-Timing`` header (request in to response out), each p95 against a floor
measured in the same run: a static file from the same server (the HTTP round trip and the
framework, no work), with the load average. Stats is fetched three times: as repeated
views find its figures kept; with another connection committing before each view, as the
service does every minute (the page computes again, each week's cells kept); and with a
new engagement snapshot of a post sent this week before each view (that week's cells
read again). Target: p95 server time <= 50 ms."""

from __future__ import annotations

import itertools
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

# The tests' support (the console on a loopback port, the sample accounts) is reused.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.stores import sample_with_practices
from commsbot.store import Store, iso
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from commsbot.web import auth
from tests.support.web import PASSWORD, Running, make_config, sign_in

PRACTICES = 50_000
CHANNELS = ("outbox", "mastodon")
POSTS = 50_000
SNAPSHOTS = 200_000
REQUESTS = 40
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=365)
PAGES = {
    "Today": "/",
    "Calendar (month)": "/calendar?view=month",
    "Queue (first page)": "/queue",
    "Stats (30 days)": "/stats?days=30",
}


def build(path: Path) -> None:
    rng = random.Random(17)
    with Store(path) as store:
        items = sample_with_practices(
            store, PRACTICES, START, summary="A cross-innovation practice of the network"
        )
        # 90 % sent over the past year, the rest queued ahead, pending, failed or unknown.
        rows = []
        for n in range(POSTS):
            item = items[n // len(CHANNELS)]
            ahead = n >= POSTS * 0.9
            status = rng.choice(("queued", "queued", "pending_approval", "failed", "unknown"))
            when = (
                NOW + timedelta(minutes=rng.randrange(60 * 24 * 60))
                if ahead
                else START + timedelta(minutes=rng.randrange(364 * 24 * 60))
            )
            rows.append(
                {
                    "item_type": "practice",
                    "item_id": item["id"],
                    "item_ref": item["slug"],
                    "channel": CHANNELS[n % len(CHANNELS)],
                    "status": status if ahead else "sending",
                    "text": f"Practice {item['slug']}: a cross-innovation practice #Games",
                    "not_before": iso(when),
                }
            )
        posts_q.insert_posts(store, rows, START)
        sent = store.rows("SELECT id, not_before FROM posts WHERE status = 'sending'")
        posts_q.record_results(
            store,
            [
                {"id": r["id"], "status": "sent", "attempts": 1, "sent_at": r["not_before"]}
                for r in sent
            ],
            NOW,
        )
        per_post = SNAPSHOTS // len(sent) + 1
        snapshots = [
            {
                "post_id": r["id"],
                "favourites": k * 2,
                "boosts": k,
                "reactions": k * 3,
                "observed_at": iso(datetime.fromisoformat(r["not_before"]) + timedelta(hours=k)),
            }
            for r in sent
            for k in range(1, per_post + 1)
        ][:SNAPSHOTS]
        engagement_q.add_snapshots(store, snapshots, NOW)
        auth.add_user(store, "ana", "officer", PASSWORD, NOW)


@dataclass
class Times:
    """Seconds per request: as the client waited, and as the server says it worked."""

    client: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)


def server_time(response: httpx.Response) -> float:
    """The console's own time from its ``Server-Timing: app;dur=<ms>`` header, in seconds."""
    found = re.fullmatch(r"app;dur=(\d+(?:\.\d+)?)", response.headers["server-timing"])
    assert found, response.headers["server-timing"]
    return float(found.group(1)) / 1000


def timed(client: httpx.Client, path: str, between: Any = None) -> Times:
    client.get(path)  # warm: templates compiled, pages of the store in the cache
    times = Times()
    for _ in range(REQUESTS):
        if between is not None:
            between()
        start = time.perf_counter()
        response = client.get(path)
        times.client.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
        times.server.append(server_time(response))
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # The tests' two accounts (the outbox and a Mastodon account never contacted).
        config = make_config(Path(tmp))
        started = time.perf_counter()
        build(config.store.path)
        with Store(config.store.path) as store:
            counts = {
                t: store.scalar(f"SELECT count(*) FROM {t}")
                for t in ("posts", "engagement", "practices")
            }
        print(
            f"data: {counts['posts']:,} posts, {counts['engagement']:,} snapshots, "
            f"{counts['practices']:,} practices (built in {time.perf_counter() - started:.1f} s)"
        )
        with Running(config) as url, httpx.Client(base_url=url, timeout=60) as client:
            assert sign_in(client, "ana").status_code == 303
            static = timed(client, "/static/console.css")
            floor = p95(static.client)
            load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
            print(
                f"floor (a static file, same server): p95 {floor * 1000:.1f} ms "
                f"(server {p95(static.server) * 1000:.1f} ms); load {load}"
            )
            print(
                f"{'page':20} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8} {'server p95':>11}"
                "  target server p95 <= 50 ms"
            )
            with Store(config.store.path) as other:

                def service_commits() -> None:
                    """What the running service does each minute: commit something."""
                    with other.write() as conn:
                        conn.execute("INSERT OR REPLACE INTO meta VALUES ('bench', random())")

                recent = other.scalar(
                    "SELECT post_id FROM post_stats ORDER BY sent_at DESC LIMIT 1"
                )
                # Later than every snapshot the store was built with, so each is the latest.
                later = itertools.count(1)

                def engagement_in() -> None:
                    """The service polls a post sent this week: its figures change."""
                    n = next(later)
                    engagement_q.add_snapshots(
                        other,
                        [{"post_id": recent, "favourites": n}],
                        NOW + timedelta(days=100, minutes=n),
                    )

                runs = {name: timed(client, path) for name, path in PAGES.items()}
                runs["Stats, committed"] = timed(client, PAGES["Stats (30 days)"], service_commits)
                runs["Stats, engagement in"] = timed(
                    client, PAGES["Stats (30 days)"], engagement_in
                )
            for name, times in runs.items():
                server = p95(times.server)
                print(
                    f"{name:20} {statistics.median(times.client) * 1000:8.1f} "
                    f"{p95(times.client) * 1000:8.1f} {p95(times.client) / floor:8.1f} "
                    f"{server * 1000:11.1f}  {'ok' if server <= 0.05 else 'OVER'}"
                )


if __name__ == "__main__":
    main()
