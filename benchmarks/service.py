"""The service: what slots and policies cost when planning, and how fast `commsbot run`
starts posting and stops.

Prints: plan rate for 10,000 items without and with posting slots (best of three each,
and their ratio);
time from starting `commsbot run` to the sample in the outbox; time from SIGTERM to exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from commsbot.config import load_config
from commsbot.content.items import load_sample
from commsbot.posting.pipeline import make_channels, plan
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.store import content as content_q

ITEMS = 10_000
CONFIG = """
[store]
path = "commsbot.db"
[service]
schedules = "schedules"
[channels.outbox]
enabled = true
path = "outbox"
{slots}
"""


def plan_rate(folder: Path, slots: str) -> float:
    folder.mkdir()
    (folder / "commsbot.toml").write_text(CONFIG.format(slots=slots), encoding="utf-8")
    config = load_config(folder / "commsbot.toml")
    now = datetime.now(UTC)
    items = [
        {
            "slug": f"bench-practice-{i}",
            "title": f"Bench practice {i}",
            "city": "tallinn",
            "theme": "brokerage",
            "summary": "Design vouchers for small firms, brokered by the city. " * 2,
            "url": f"https://example.org/practices/{i}",
        }
        for i in range(ITEMS)
    ]
    with Store(config.store.path) as store:
        load_sample(store, now)
        content_q.insert_items(store, "practice", items, now)
        started = time.perf_counter()
        summary = plan(store, config, Renderer(None), make_channels(config), now)
        elapsed = time.perf_counter() - started
    planned = sum(summary.planned.values())
    assert planned == ITEMS + 58, planned
    return planned / elapsed


def service_timings(folder: Path) -> tuple[float, float]:
    folder.mkdir()
    (folder / "schedules").mkdir()
    (folder / "schedules" / "publish.toml").write_text('[publish]\nevery = "1m"\nat_start = true\n')
    (folder / "commsbot.toml").write_text(CONFIG.format(slots=""), encoding="utf-8")
    config = load_config(folder / "commsbot.toml")
    with Store(config.store.path) as store:
        load_sample(store, datetime.now(UTC))
    log = folder / "outbox" / "outbox.jsonl"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "commsbot", "--config", str(folder / "commsbot.toml"), "-q", "run"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = started + 60
        while not (log.exists() and log.read_text().count("\n") == 58):
            if time.perf_counter() > deadline or proc.poll() is not None:
                raise SystemExit("the service did not post the sample within 60 s")
            time.sleep(0.01)
        to_posted = time.perf_counter() - started
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        to_stopped = time.perf_counter() - stopping
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return to_posted, to_stopped


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        # Best of three, interleaved, so that the machine's load weighs on both alike.
        plain, slotted = 0.0, 0.0
        for i in range(3):
            plain = max(plain, plan_rate(base / f"plain{i}", ""))
            slotted = max(
                slotted,
                plan_rate(base / f"slotted{i}", 'slots = ["weekdays 09:00", "weekdays 15:30"]'),
            )
        to_posted, to_stopped = service_timings(base / "service")
    print(f"plan {ITEMS + 58} items, no slots:        {plain:8.0f} posts/s")
    print(f"plan {ITEMS + 58} items, 10 slots a week: {slotted:8.0f} posts/s")
    print(f"slots cost:                          {plain / slotted:8.2f}x")
    print(f"`commsbot run` start -> 58 sample posts in the outbox: {to_posted * 1000:6.0f} ms")
    print(f"SIGTERM -> clean exit:                                {to_stopped * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
