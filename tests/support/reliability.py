"""What the reliability tests share: their size, a fault-injecting reverse proxy, the
service as a real process, generated items, and reading back what a server published.

The short form runs in ``make test``; ``make reliability`` sets COMMSBOT_RELIABILITY=long
for the long form. Every server and process started here is stopped by its owner's
``stop()``/``kill()``; every wait is bounded.
"""

from __future__ import annotations

import http.server
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from commsbot.store import Store
from tests.support.mastodon import (
    LoopbackServer,
    MockMastodon,
    quiet_handler,
    read_body,
    relay,
    reply,
)
from tests.support.telegram_api import FakeTelegram

TOKEN_ENV = "COMMSBOT_RELIABILITY_TOKEN"
TELEGRAM_TOKEN_ENV = "COMMSBOT_RELIABILITY_TELEGRAM_TOKEN"
TELEGRAM_CHAT = "@cross_innovation_news"
LINK = "https://example.org/reliability/p-{:03d}"
LINK_RE = re.compile(r"https://example\.org/reliability/p-(\d{3})")


@dataclass(frozen=True)
class Form:
    """How hard a run pushes: items to post, kills, and the share of faulty answers."""

    name: str
    items: int
    kills: int
    fault_share: float
    fault_items: int
    # Arbitrary bot commands and button data that hypothesis tries.
    bot_examples: int
    # The fuzz run (test_fuzz.py): inputs per CLI command, and per bot command.
    cli_examples: int = 12
    bot_command_examples: int = 40
    seed: int = 9
    # Seconds any run may take before the test gives up on it.
    deadline: float = 240.0


SHORT = Form("short", 60, kills=3, fault_share=0.3, fault_items=30, bot_examples=150, deadline=120)
LONG = Form(
    "long",
    200,
    kills=20,
    fault_share=0.3,
    fault_items=200,
    bot_examples=1000,
    deadline=600,
    cli_examples=100,
    bot_command_examples=300,
)
FORM = LONG if os.environ.get("COMMSBOT_RELIABILITY") == "long" else SHORT


# What the runs measured, printed at the end of the session (see conftest.py).
FIGURES: list[tuple[str, dict[str, Any]]] = []


def report(title: str, figures: dict[str, Any]) -> None:
    """Keep a run's figures for the session's summary (``make reliability`` shows them)."""
    FIGURES.append((f"{title} ({FORM.name} form)", figures))


# -- the fault-injecting proxy --------------------------------------------------------

Fault = Literal["500", "502", "502-after", "429", "slow", "drop", "drop-after"]
FAULTS: tuple[Fault, ...] = ("500", "502", "502-after", "429", "slow", "drop", "drop-after")
# Faults after which the server has done the work and only the answer is lost: the
# ones that make a second post if a retry is not idempotent.
PROCESSED: frozenset[Fault] = frozenset({"502-after", "slow", "drop-after"})
# Faults that leave the client without an answer: for Telegram, an unknown outcome.
UNANSWERED: frozenset[Fault] = frozenset({"slow", "drop", "drop-after"})
Dialect = Literal["mastodon", "telegram"]


@dataclass
class ProxyCounts:
    requests: Counter[str] = field(default_factory=Counter)  # by "METHOD /path"
    faults: Counter[str] = field(default_factory=Counter)  # by fault
    in_flight: int = 0


class FaultProxy(LoopbackServer):
    """A reverse proxy on loopback in front of a real server.

    Each request waits ``delay`` seconds (a range, drawn per request) before it is
    forwarded and again before its answer goes back, so that a process killed at a random
    moment is often in the middle of a request. A ``share`` of the requests that
    ``faulty(method, path)`` selects get a fault instead: 500, 502 or 429 (with a retry
    time) without reaching the server; a 502, an answer held past the client's timeout
    ("slow") or a dropped connection after the server did the work; or a connection
    dropped before it. Which requests fail is drawn from a seeded generator in the order
    requests arrive; the kinds of fault take turns.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        share: float = 0.0,
        seed: int = 0,
        faults: tuple[Fault, ...] = FAULTS,
        delay: tuple[float, float] = (0.0, 0.0),
        slow_seconds: float = 2.0,
        retry_after: int = 2,
        dialect: Dialect = "mastodon",
        faulty: Callable[[str, str], bool] = lambda method, path: True,
    ) -> None:
        self.upstream_port = upstream_port
        self.share = share
        self.faults = faults
        self.delay = delay
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.dialect = dialect
        self.faulty = faulty
        self.rng = random.Random(seed)
        self.counts = ProxyCounts()
        self.lock = threading.Lock()
        self.release = threading.Event()  # set at stop: nothing is held any longer
        self.open = threading.Event()  # cleared by pause(): requests wait to be forwarded
        self.open.set()
        super().__init__(self._handler())

    def stop(self) -> None:
        self.release.set()
        self.open.set()
        super().stop()

    def pause(self) -> None:
        """Hold every request before it reaches the server, until ``resume()``."""
        self.open.clear()

    def resume(self) -> None:
        self.open.set()

    def requests_to(self, method: str, pattern: str) -> int:
        """How many requests matching a method and a path regex have arrived."""
        with self.lock:
            return sum(
                n
                for key, n in self.counts.requests.items()
                if key.startswith(method + " ") and re.search(pattern, key)
            )

    def in_flight(self) -> int:
        with self.lock:
            return self.counts.in_flight

    def _draw(self, method: str, path: str) -> tuple[Fault | None, float, float]:
        with self.lock:
            self.counts.requests[f"{method} {path}"] += 1
            self.counts.in_flight += 1
            fault = None
            if self.faulty(method, path) and self.rng.random() < self.share:
                # Kinds in turn, so that a short run injects each of them.
                fault = self.faults[self.counts.faults.total() % len(self.faults)]
                self.counts.faults[fault] += 1
            return fault, self.rng.uniform(*self.delay), self.rng.uniform(*self.delay)

    def _done(self) -> None:
        with self.lock:
            self.counts.in_flight -= 1

    def error(self, status: int) -> tuple[dict[str, str], bytes]:
        """An error answer as the upstream server would give it."""
        now = time.time()
        headers = {"Content-Type": "application/json"}
        if self.dialect == "telegram":
            body: dict[str, Any] = {"ok": False, "error_code": status}
            if status == 429:
                body["description"] = f"Too Many Requests: retry after {self.retry_after}"
                body["parameters"] = {"retry_after": self.retry_after}
            else:
                body["description"] = "Internal Server Error" if status == 500 else "Bad Gateway"
            return headers, json.dumps(body).encode()
        if status == 429:
            reset = datetime.fromtimestamp(now + self.retry_after, UTC)
            headers |= {
                "Retry-After": str(self.retry_after),
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.isoformat(timespec="milliseconds"),
            }
        message = {429: "Too many requests", 500: "An unexpected error occurred"}
        return headers, json.dumps({"error": message.get(status, "Bad gateway")}).encode()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
            body = read_body(handler)
            fault, before, after = proxy._draw(handler.command, handler.path.split("?")[0])
            try:
                proxy.release.wait(before)
                proxy.open.wait(60)
                if fault == "drop":
                    handler.close_connection = True  # closed without a word
                    return
                if fault in ("500", "502", "429"):
                    reply(handler, int(fault), *proxy.error(int(fault)))
                    return
                try:
                    status, headers, data = relay(handler, proxy.upstream_port, body)
                except OSError:
                    reply(handler, 502, *proxy.error(502))
                    return
                proxy.release.wait(after)
                if fault == "drop-after":
                    handler.close_connection = True
                    return
                if fault == "502-after":
                    reply(handler, 502, *proxy.error(502))
                    return
                if fault == "slow":
                    proxy.release.wait(proxy.slow_seconds)
                reply(handler, status, headers, data)
            finally:
                proxy._done()

        return quiet_handler(handle)


# -- the service as a process ----------------------------------------------------------


class ServiceProcess:
    """``python -m commsbot --config CONFIG run``, its stderr in a log file."""

    def __init__(self, config: Path, log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "commsbot", "--config", str(config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def wait_for(check: Callable[[], Any], what: str, timeout: float, poll: float = 0.05) -> Any:
    """Poll ``check`` until it returns something true, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    if not found:
        raise AssertionError(f"no {what} within {timeout:g} s")
    return found


# -- items, config, and what the store and the server hold ----------------------------


def write_items(folder: Path, count: int) -> Path:
    """An import file with the sample network's cities and themes and ``count`` practices,
    each with its own link (which is how a published status is matched to its item)."""
    sample = json.loads(
        (Path(__file__).parents[2] / "commsbot" / "content" / "sample" / "network.json").read_text(
            "utf-8"
        )
    )
    cities = [c["slug"] for c in sample["cities"]]
    themes = [t["slug"] for t in sample["themes"]]
    practices = [
        {
            "slug": f"reliability-{i:03d}",
            "title": f"Practice {i:03d}: Plzeň & Vilnius <co>-design, ąčęėįšųūž 🎨",
            "city": cities[i % len(cities)],
            "theme": themes[i % len(themes)],
            "summary": f"Item {i} of the reliability run: posted once, never twice.",
            "url": LINK.format(i),
        }
        for i in range(count)
    ]
    path = folder / "items.json"
    data = {k: sample[k] for k in ("cities", "themes")} | {"practices": practices}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def write_config(
    folder: Path,
    mastodon_url: str,
    *,
    mastodon: str = "",
    posting: str = "",
    telegram_url: str | None = None,
    telegram: str = "",
) -> Path:
    """A config posting practices to Mastodon (and to Telegram, given its Bot API URL),
    with a publish schedule of a second; ``mastodon``, ``posting`` and ``telegram`` are
    more keys for those sections."""
    schedules = folder / "schedules"
    schedules.mkdir(exist_ok=True)
    (schedules / "publish.toml").write_text('[publish]\nevery = "1s"\nat_start = true\n')
    path = folder / "commsbot.toml"
    text = f"""
[store]
path = "commsbot.db"

[service]
timezone = "Europe/Brussels"
schedules = "schedules"
stop_grace_seconds = 5

[posting]
content_types = ["practice"]
# The store's content is posted when the accounts are first enabled.
backlog = "post"
{posting}

[channels.mastodon]
enabled = true
api_base_url = "{mastodon_url}"
access_token_env = "{TOKEN_ENV}"
{mastodon}
"""
    if telegram_url is not None:
        # The fastest Telegram allows a bot, so that a run is not paced at 20 posts a minute.
        text += f"""
[channels.telegram]
enabled = true
bot_token_env = "{TELEGRAM_TOKEN_ENV}"
chat_id = "{TELEGRAM_CHAT}"
base_url = "{telegram_url}/bot"
base_file_url = "{telegram_url}/file/bot"
posts_per_minute = 1800
poll_timeout = 1
{telegram}
"""
    path.write_text(text, encoding="utf-8")
    return path


def rows(db: Path, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    with Store(db, migrate=False) as store:
        return store.rows(sql, params)


def count_by_status(db: Path, channel: str) -> dict[str, int]:
    found = rows(
        db,
        "SELECT status, count(*) AS n FROM posts WHERE channel = ? GROUP BY status",
        (channel,),
    )
    return {r["status"]: r["n"] for r in found}


def on_telegram(fake: FakeTelegram) -> Counter[int]:
    """How many messages in the Telegram channel carry each item's link."""
    found: Counter[int] = Counter()
    for message in fake.messages_to(TELEGRAM_CHAT):
        for number in set(LINK_RE.findall(message.get("text") or "")):
            found[int(number)] += 1
    return found


def telegram_outcome(db: Path, fake: FakeTelegram, items: int) -> dict[str, int]:
    """Check Telegram against the delivery rules (DESIGN.md) and return its figures.

    Telegram has no idempotency: a post is ``sent`` (and its message is in the channel,
    with the id recorded) or ``unknown`` (it may or may not be there; never re-sent). No
    item is in the channel twice, and every item missing from it is listed ``unknown``.
    """
    posts = rows(
        db,
        "SELECT p.url, o.id, o.status, o.remote_id FROM posts o JOIN practices p "
        "ON o.item_type = 'practice' AND p.id = o.item_id WHERE o.channel = 'telegram'",
    )
    assert len(posts) == items
    assert {p["status"] for p in posts} <= {"sent", "unknown"}, posts
    seen = on_telegram(fake)
    twice = {item: n for item, n in seen.items() if n > 1}
    assert twice == {}, f"items in the Telegram channel more than once: {twice}"
    message_ids = {
        int(m): message["message_id"]
        for message in fake.messages_to(TELEGRAM_CHAT)
        for m in LINK_RE.findall(message.get("text") or "")
    }
    gaps = unknown_delivered = 0
    for post in posts:
        item = int(LINK_RE.findall(post["url"])[0])
        if post["status"] == "sent":
            assert post["remote_id"] == str(message_ids.get(item)), post
        elif item in seen:
            unknown_delivered += 1
        if item not in seen:
            gaps += 1
            assert post["status"] == "unknown", f"item {item} is missing and not listed: {post}"
    unknown = sum(p["status"] == "unknown" for p in posts)
    return {
        "sent": len(posts) - unknown,
        "unknown": unknown,
        "unknown, in the channel": unknown_delivered,
        "unknown, not in the channel (the gaps)": gaps,
        "duplicates": 0,
    }


def published_items(mock: MockMastodon, token: str) -> Counter[int]:
    """How many statuses of the account carry each item's link, read from the server."""
    client = mock.client(token)
    me = client.me()
    statuses = client.fetch_remaining(client.account_statuses(me.id, limit=40))
    found: Counter[int] = Counter()
    for status in statuses:
        for number in set(LINK_RE.findall(status.content)):
            found[int(number)] += 1
    return found
