"""Posting to Mastodon: commsbot against a bare Mastodon.py loop, on the same server.

Starts mastodon_mock on a free loopback port, then posts 500 statuses per round in the
order bare, commsbot, commsbot, bare (so the server's growing database weighs on both
alike), each side with its own fresh account. commsbot's time is what ``run --once``
does to post: open the channel (instance information), render 500 practices into the
outbox, claim, send and record each. The bare loop sends the same texts with the same
parameters. The server is the floor: the target is a ratio of at most 1.05.

    .venv/bin/python benchmarks/mastodon.py [--posts 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python puts this script's folder first on the path, where this file would hide the
# Mastodon.py package of the same name; the project root is wanted there (for tests/).
sys.path[0] = str(ROOT)

from commsbot.config import Config, load_config  # noqa: E402
from commsbot.content.items import TYPES, add_items  # noqa: E402
from commsbot.posting import pipeline  # noqa: E402
from commsbot.store import Store  # noqa: E402
from commsbot.store import content as content_q  # noqa: E402
from commsbot.store import posts as posts_q  # noqa: E402
from tests.support.mastodon import MockMastodon, mastodon_config  # noqa: E402

TOKEN_ENV = "COMMSBOT_BENCH_MASTODON_TOKEN"
SUMMARY = (
    "Żółte tramwaje wożą projektantów do fabryk: warsztaty łączą twórców gier z małymi "
    "firmami, a bony pokrywają pierwszy projekt. 🎨"
)


def add_round(store: Store, round_no: int, posts: int) -> None:
    items = [
        (
            f"r{round_no}-{n}",
            {
                "slug": f"r{round_no}-{n}",
                "title": f"Practice {n} of round {round_no}",
                "city": "warsaw",
                "theme": "brokerage",
                "summary": SUMMARY,
                "url": f"https://ci.example/r{round_no}/{n}",
                "tags": ["design", "games"],
                "language": "pl",
            },
        )
        for n in range(posts)
    ]
    add_items(store, TYPES["practice"], items, datetime.now(UTC))


async def commsbot_round(store: Store, config: Config) -> float:
    started = time.perf_counter()
    problems: list[str] = []
    channels = await pipeline.open_channels(config, problems)
    try:
        summary = await pipeline.publish(store, config, channels)
    finally:
        await pipeline.close_channels(channels)
    elapsed = time.perf_counter() - started
    if problems or summary.problems or summary.total("sent") == 0:
        raise SystemExit(f"commsbot did not post: {problems + summary.problems}")
    return elapsed


def bare_round(mock: MockMastodon, texts: list[str], round_no: int) -> float:
    _, token = mock.new_account()
    client = mock.client(token)
    started = time.perf_counter()
    for n, text in enumerate(texts):
        client.status_post(
            text, visibility="public", language="pl", idempotency_key=f"bare-{round_no}-{n}"
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=500, help="statuses per round")
    posts = parser.parse_args().posts
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        mock = MockMastodon(base).start()
        try:
            _, token = mock.new_account()
            os.environ[TOKEN_ENV] = token
            config = load_config(mastodon_config(base, mock.base_url, TOKEN_ENV))
            sample = json.loads((ROOT / "commsbot/content/sample/network.json").read_text("utf-8"))
            with Store(config.store.path) as store:
                content_q.insert_reference(
                    store, sample["cities"], sample["themes"], sample["institutions"]
                )
                times: dict[str, list[float]] = {"bare": [], "commsbot": []}
                texts: list[str] = []
                for round_no, side in enumerate(("bare", "commsbot", "commsbot", "bare")):
                    if side == "commsbot":
                        add_round(store, round_no, posts)
                        times[side].append(asyncio.run(commsbot_round(store, config)))
                        sent = posts_q.list_posts(store, status="sent", limit=10 * posts)
                        texts = [r["text"] for r in sent[-posts:]]
                    else:
                        # The same texts commsbot renders (its first round, before that).
                        texts = texts or [
                            f"Practice {n} of round 0 (Warsaw, Brokerage)\n\n{SUMMARY}\n\n"
                            f"#Brokerage #Design #Games\n\nhttps://ci.example/r0/{n}"
                            for n in range(posts)
                        ]
                        times[side].append(bare_round(mock, texts, round_no))
        finally:
            mock.stop()
    bare, ours = sum(times["bare"]), sum(times["commsbot"])
    total = 2 * posts
    print(f"mastodon_mock, {posts} posts per round, rounds: bare, commsbot, commsbot, bare")
    for side, label in (("bare", "bare Mastodon.py status_post loop"), ("commsbot", "commsbot")):
        rounds = ", ".join(f"{t:.2f} s" for t in times[side])
        spent = sum(times[side])
        print(f"{label:34} {rounds}  ({total / spent:.1f} posts/s)")
    verdict = "met" if ours / bare <= 1.05 else "MISSED"
    print(f"ratio commsbot / bare: {ours / bare:.3f} (target <= 1.05: {verdict})")


if __name__ == "__main__":
    main()
