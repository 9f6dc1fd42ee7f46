"""Movement tracking: reading a campaign hashtag and mentions from Mastodon, and the
movement figures of a busy year.

1. Tracking. mastodon_mock on loopback holds STATUSES public statuses with the tag (by
   four seeded accounts) and MENTIONS mentions of our account. Alternating, twice each: a
   bare Mastodon.py loop that pages through both timelines forward (the floor), and one
   ``track-movement`` run into a fresh store (channel already open, as in the service).
   Requests are counted by a loopback proxy: the floor is one request per 40 statuses,
   plus one for the last short page of each timeline. Then a run with nothing new.
2. Figures. 200,000 statuses by 20,000 accounts over a year and a daily audience
   snapshot of three series: ``commsbot stats movement --format json`` and ``commsbot
   report --html`` as a user runs them (child processes, peak memory), and in process the
   store reads and the aggregation.

    .venv/bin/python benchmarks/movement.py [--statuses 400] [--mentions 40]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# The project root first (for tests/), not this folder, whose mastodon.py would hide
# the Mastodon.py package.
sys.path[0] = str(ROOT)

from benchmarks.stats import best_of, child  # noqa: E402
from commsbot.clock import utcnow  # noqa: E402
from commsbot.config import Config, load_config  # noqa: E402
from commsbot.insights import movement as mv  # noqa: E402
from commsbot.insights import tracking  # noqa: E402
from commsbot.insights.report import render_report  # noqa: E402
from commsbot.insights.stats import Period  # noqa: E402
from commsbot.posting import pipeline  # noqa: E402
from commsbot.service.jobs import JobContext  # noqa: E402
from commsbot.store import Store, iso  # noqa: E402
from commsbot.store import movement as movement_q  # noqa: E402
from tests.support.mastodon import (  # noqa: E402
    MOVEMENT_MOCK_CONFIG,
    OTHERS,
    LossyProxy,
    MockMastodon,
    mastodon_config,
)

TOKEN_ENV = "COMMSBOT_BENCH_MOVEMENT_TOKEN"
LANGUAGES = ("en", "pl", "lt", "cs", "et", "de", None)


# -- 1. tracking ------------------------------------------------------------------------


def bare_read(client: Any, tag: str) -> int:
    """What any tracker must do: page forward through both timelines; statuses read."""
    found = 0
    for fetch in (
        lambda cursor: client.timeline_hashtag(tag, min_id=cursor, limit=40),
        lambda cursor: client.notifications(types=["mention"], min_id=cursor, limit=40),
    ):
        cursor = "0"
        while True:
            page = fetch(cursor)
            found += len(page)
            if len(page) < 40:
                break
            cursor = max((str(item.id) for item in page), key=lambda i: (len(i), i))
    return found


Timed = tuple[float, tracking.Tracked]


def tracked_runs(config: Config, store: Store) -> tuple[Timed, Timed]:
    """Open the channel, then time two track-movement runs (as the service would)."""

    async def go() -> tuple[Timed, Timed]:
        problems: list[str] = []
        channels = await pipeline.open_channels(config, problems)
        assert problems == [], problems
        ctx = JobContext(store, config, utcnow, channels)
        runs = []
        try:
            for _ in range(2):
                start = time.perf_counter()
                tracked = (await tracking.track_movement(ctx))["movement"]
                runs.append((time.perf_counter() - start, tracked))
        finally:
            await pipeline.close_channels(channels)
        return runs[0], runs[1]

    return asyncio.run(go())


def tracking_bench(folder: Path, statuses: int, mentions: int) -> None:
    mock = MockMastodon(folder, MOVEMENT_MOCK_CONFIG).start()
    proxy = LossyProxy(mock.port, lambda method, path: False, hold_count=0).start()
    try:
        _, token = mock.new_account()
        os.environ[TOKEN_ENV] = token
        me = mock.client(token)
        acct = me.account_verify_credentials().acct
        tag = f"Bench{secrets.token_hex(3)}"
        others = [mock.client(mock.login(name)) for name in OTHERS]
        started = time.perf_counter()
        for i in range(statuses):
            lang = LANGUAGES[i % len(LANGUAGES)]
            others[i % 4].status_post(f"Voice {i} for #{tag}", language=lang)
        for i in range(mentions):
            others[i % 4].status_post(f"@{acct} question {i}")
        print(
            f"tracking: {statuses} statuses with #{tag} and {mentions} mentions posted "
            f"in {time.perf_counter() - started:.1f} s"
        )
        floor = math.floor(statuses / 40) + 1 + math.floor(mentions / 40) + 1
        movement = (
            f'\n[movement]\nhashtags = ["{tag}"]\nmentions = true\n'
            "max_pages = 50\nrequests_per_run = 150\nrefresh_days = 0\n"
        )
        bare_client = mock.client(token, base_url=proxy.base_url)
        times: dict[str, list[float]] = {"bare": [], "commsbot": []}
        for round_no, side in enumerate(("bare", "commsbot", "commsbot", "bare")):
            proxy.seen.clear()
            if side == "bare":
                start = time.perf_counter()
                found = bare_read(bare_client, tag)
                times[side].append(time.perf_counter() - start)
                assert found == statuses + mentions, found
                print(f"  bare Mastodon.py paging: {len(proxy.seen)} requests", end="")
            else:
                run = folder / f"run{round_no}"
                run.mkdir()
                path = mastodon_config(run, proxy.base_url, TOKEN_ENV, movement)
                config = load_config(path)
                with Store(config.store.path) as store:
                    proxy.seen.clear()
                    (seconds, first), (again, second) = tracked_runs(config, store)
                    times[side].append(seconds)
                    stored = store.scalar("SELECT count(*) FROM movement_statuses")
                assert stored == statuses + mentions == first.new, (stored, first.new)
                assert second.new == 0
                print(
                    f"  commsbot track-movement: {first.requests} requests "
                    f"(floor {floor} + 1 to learn which account is ours), {stored} statuses "
                    f"stored; then a run with nothing new: {again * 1000:.0f} ms, "
                    f"{second.requests} requests",
                    end="",
                )
            print(f", {times[side][-1]:.2f} s")
        bare, ours = sum(times["bare"]), sum(times["commsbot"])
        print(
            f"  {statuses + mentions} statuses: bare {bare / 2:.2f} s, commsbot {ours / 2:.2f} s "
            f"a round ({(statuses + mentions) * 2 / ours:,.0f} statuses/s); ratio {ours / bare:.3f}"
        )
    finally:
        proxy.stop()
        mock.stop()


# -- 2. figures -------------------------------------------------------------------------

FIGURE_STATUSES = 200_000
ACCOUNTS = 20_000
START = datetime(2025, 11, 24, tzinfo=UTC)
NOW = START + timedelta(days=364)


def build(path: Path) -> None:
    rng = random.Random(10)
    with Store(path) as store:
        rows = []
        for i in range(FIGURE_STATUSES):
            # A few loud voices, many quiet ones.
            who = (
                min(int(rng.paretovariate(1.2)) - 1, ACCOUNTS - 1)
                if i % 2
                else rng.randrange(ACCOUNTS)
            )
            mention = i % 10 == 0
            rows.append(
                {
                    "remote_id": str(10**12 + i),
                    "acct": f"voice{who}@city{who % 50}.social",
                    "account_url": f"https://city{who % 50}.social/@voice{who}",
                    "created_at": iso(
                        START + timedelta(minutes=i * 364 * 24 * 60 // FIGURE_STATUSES)
                    ),
                    "language": LANGUAGES[rng.randrange(len(LANGUAGES))],
                    "url": f"https://city{who % 50}.social/@voice{who}/{i}",
                    "favourites": rng.randrange(20),
                    "boosts": rng.randrange(5),
                    "replies": rng.randrange(3),
                    "own": 0,
                    "mention": int(mention),
                    "in_reply_to_id": None,
                    "tag": None if mention else "crossinnovation",
                }
            )
        movement_q.record_reading(store, "tag:crossinnovation", rows, rows[-1]["remote_id"], NOW)
        for day in range(364):
            movement_q.add_audience(
                store,
                [
                    ("mastodon", "audience", 1000 + day * 7),
                    ("telegram", "audience", 400 + day * 3),
                    ("email", "subscribers", 100 + day),
                ],
                START + timedelta(days=day, hours=23),
            )


def figures_bench(folder: Path) -> None:
    config = folder / "bench.toml"
    config.write_text(
        '[store]\npath = "bench.db"\n[service]\ntimezone = "Europe/Brussels"\n'
        '[movement]\nhashtags = ["CrossInnovation"]\n'
    )
    started = time.perf_counter()
    build(folder / "bench.db")
    print(
        f"figures: {FIGURE_STATUSES:,} statuses by up to {ACCOUNTS:,} accounts over a year, "
        f"3 x 364 audience snapshots (built in {time.perf_counter() - started:.1f} s)"
    )
    seconds, peak, size = child(config, "stats", "movement", "--format", "json")
    print(
        f"  commsbot stats movement --format json: {seconds * 1000:.0f} ms, peak {peak:.0f} MB, "
        f"{size / 1024:.0f} KiB"
    )
    html = folder / "report.html"
    seconds, peak, _ = child(config, "report", "--html", str(html))
    print(
        f"  commsbot report --html (engagement + movement): {seconds * 1000:.0f} ms, "
        f"peak {peak:.0f} MB, {html.stat().st_size / 1024:.0f} KiB file"
    )
    period = Period(None, NOW + timedelta(days=1), ZoneInfo("Europe/Brussels"))
    with Store(folder / "bench.db") as store:
        rows: list[dict[str, Any]] = []

        def read() -> None:
            rows[:] = movement_q.statuses(store, period.since, period.until)
            movement_q.first_seen(store)

        read_s = best_of(3, read)
        scan_s = best_of(3, lambda: store.rows("SELECT * FROM movement_statuses"))
        load_s = best_of(3, lambda: mv.load(store, period, 10))
        report_s = best_of(3, lambda: render_report(store, period, NOW, templates=None))
    print(
        f"  read statuses + first seen: {read_s * 1000:.0f} ms "
        f"({len(rows) / read_s:,.0f} statuses/s); bare scan of the table {scan_s * 1000:.0f} ms; "
        f"ratio {read_s / scan_s:.2f}"
    )
    print(f"  movement figures, read + computed: {load_s * 1000:.0f} ms")
    print(f"  report in process (read + aggregate + render): {report_s * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--statuses", type=int, default=400)
    parser.add_argument("--mentions", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tracking_bench(Path(tmp), args.statuses, args.mentions)
    with tempfile.TemporaryDirectory() as tmp:
        figures_bench(Path(tmp))


if __name__ == "__main__":
    main()
