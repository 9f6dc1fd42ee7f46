"""Bot reply latency: /search and /practices with 50,000 practices (store query + render).

No network: each sample is one ``Replies.answer`` call, what the bot does between
receiving a command and handing the reply to Telegram. Prints p50 and p99 per command
(target p99 <= 10 ms) over a mix of arguments, measured in one run.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from commsbot.bot.replies import Replies
from commsbot.config import load_config
from commsbot.content.items import load_sample
from commsbot.store import Store
from commsbot.store import content as q

PRACTICES = 50_000
SAMPLES = 1_000
TARGET_MS = 10
CITIES = [
    "birmingham",
    "amsterdam",
    "rome",
    "berlin",
    "tallinn",
    "warsaw",
    "vilnius",
    "stockholm",
    "linz",
    "lisbon",
    "plzen",
]
THEMES = [
    "smart-incentives",
    "culture-based-innovation",
    "brokerage",
    "spatial-cross-collaboration",
]
# A vocabulary with a long tail, so that some words are in most practices and some in few.
COMMON = [
    "creative",
    "design",
    "games",
    "digital",
    "media",
    "manufacturing",
    "health",
    "voucher",
    "studio",
    "cluster",
    "network",
    "city",
]
RARE = [
    f"{stem}{i}"
    for stem in ("fablab", "broker", "makerspace", "residency", "hackathon")
    for i in range(400)
]


def text(rng: random.Random, words: int) -> str:
    return " ".join(
        rng.choice(COMMON) if rng.random() < 0.6 else rng.choice(RARE) for _ in range(words)
    )


def make_store(folder: Path) -> Path:
    config = folder / "bench.toml"
    config.write_text(
        '[store]\npath = "bench.db"\n[channels.telegram]\nenabled = true\nchat_id = "@bench"\n',
        encoding="utf-8",
    )
    rng = random.Random(5)
    now = datetime.now(UTC)
    with Store(folder / "bench.db") as store:
        load_sample(store, now)
        rows = [
            {
                "slug": f"practice-{i}",
                "title": f"Practice {i}: {text(rng, 5)} in Plzeň & Vilnius",
                "city": CITIES[i % len(CITIES)],
                "theme": THEMES[i % len(THEMES)],
                "summary": text(rng, 40) + " <co>lab & friends.",
                "body": text(rng, 80),
                "url": f"https://cross-innovation.example/practices/practice-{i}",
                "tags": [rng.choice(RARE), rng.choice(COMMON)],
                "example": True,
            }
            for i in range(PRACTICES)
        ]
        q.insert_items(store, "practice", rows, now)
        store.conn.execute("PRAGMA optimize")
    return config


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def measure(answer: Callable[[str], object], arguments: list[str]) -> tuple[float, ...]:
    """Wall-clock p50 and p99, then the same for the CPU time of this thread: on a shared
    machine the wall clock also counts time spent waiting for a core."""
    wall, cpu = [], []
    for args in arguments:
        start, start_cpu = time.perf_counter(), time.thread_time()
        answer(args)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return (*percentiles(wall), *percentiles(cpu))


def main() -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config = load_config(make_store(Path(tmp)))
        built = time.perf_counter() - started
        with Store(config.store.path) as store:
            replies = Replies(store, config, lambda: datetime.now(UTC))
            searches = [
                rng.choice(
                    [
                        rng.choice(COMMON),  # in nearly every practice
                        rng.choice(RARE),  # in about a thousand
                        f"{rng.choice(COMMON)} {rng.choice(COMMON)}",
                        f"{rng.choice(COMMON)} {rng.choice(RARE)}",
                        " ".join(rng.choice(COMMON) for _ in range(6)),  # a whole sentence
                        "nothing-matches-this",
                    ]
                )
                for _ in range(SAMPLES)
            ]
            filters = [
                rng.choice(["", rng.choice(CITIES), f"{rng.choice(CITIES)} {rng.choice(THEMES)}"])
                for _ in range(SAMPLES)
            ]
            pages = [
                f"practices:{rng.randint(1, 400)}:{rng.choice(['', *CITIES])}:"
                for _ in range(SAMPLES)
            ]
            # Warm up: templates compiled, pages cached, as in a bot that has been running.
            for args in searches[:50] + filters[:50]:
                replies.answer("search", args, "1", admin=False)
                replies.answer("practices", args, "1", admin=False)
            results = {
                "/search <words>": measure(
                    lambda a: replies.answer("search", a, "1", admin=False), searches
                ),
                "/practices [city] [theme]": measure(
                    lambda a: replies.answer("practices", a, "1", admin=False), filters
                ),
                "page button (pages 1-400)": measure(replies.page, pages),
            }
    print(f"bot: {PRACTICES:,} practices (store built in {built:.1f} s), {SAMPLES} replies each")
    for name, (p50, p99, cpu50, cpu99) in results.items():
        verdict = "ok" if p99 <= TARGET_MS else "ABOVE TARGET"
        print(
            f"  {name:28} p50 {p50:5.2f} ms  p99 {p99:5.2f} ms  "
            f"= {p99 / TARGET_MS:.2f}x the target p99 of {TARGET_MS} ms ({verdict}); "
            f"CPU p50 {cpu50:4.2f} ms, p99 {cpu99:4.2f} ms"
        )


if __name__ == "__main__":
    main()
