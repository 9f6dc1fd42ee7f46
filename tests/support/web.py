"""The web console on a loopback port with a real store, for the HTTP and browser tests.

The server runs in a thread with its own event loop, exactly as ``commsbot web`` runs
it (``WebServer``), on a port the system picks.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from commsbot.config import Config, load_config
from commsbot.content.items import load_sample
from commsbot.posting.pipeline import make_channels, plan
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.web import auth
from commsbot.web.server import WebServer

PASSWORD = "correct horse battery"
# Two accounts: the outbox and a Mastodon account that is never contacted (the console
# only writes the outbox; nothing here sends). Practices wait for approval.
CONFIG = """
[store]
path = "commsbot.db"

[service]
timezone = "Europe/Brussels"

[posting]
backlog = "post"  # the console tests show the store's content placed

[approval]
types = {{ practice = "approve" }}

[channels.outbox]
enabled = true
path = "outbox"
slots = ["daily 10:00", "daily 16:00"]

[channels.mastodon]
enabled = true
api_base_url = "http://127.0.0.1:9"
slots = ["Mon-Fri 09:30", "Mon-Fri 15:30"]

[web]
enabled = true
port = 0
{web}
"""


@dataclass
class Live:
    """A running console: its address, config and (another connection to) its store."""

    url: str
    config: Config
    store: Store

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)


class Running:
    """``WebServer`` on its own loop in a thread; stopped and joined on exit."""

    def __init__(self, config: Config) -> None:
        self.server = WebServer(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(30)
        return self.server.url()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def make_config(folder: Path, web: str = "") -> Config:
    path = folder / "commsbot.toml"
    path.write_text(CONFIG.format(web=web), encoding="utf-8")
    return load_config(path)


def fill(store: Store, config: Config, now: datetime) -> None:
    """The sample network, planned for both accounts: practices wait for approval."""
    load_sample(store, now)
    plan(store, config, Renderer(config.service.templates), make_channels(config), now)


def add_users(store: Store, now: datetime) -> None:
    for name, role in (("ana", "officer"), ("cora", "coordinator"), ("adam", "admin")):
        auth.add_user(store, name, role, PASSWORD, now)


def sign_in_token(client: httpx.Client) -> str:
    page = client.get("/sign-in")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    token = sign_in_token(client)
    return client.post("/sign-in", data={"name": name, "password": password, "csrf": token})


def csrf_of(client: httpx.Client, path: str = "/") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


@contextmanager
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, web: str = "") -> Iterator[Live]:
    """The console over the planned sample with its three users; ``web`` is config text
    added after ``[web]`` (more of it, or further tables)."""
    monkeypatch.setenv("COMMSBOT_MASTODON_TOKEN", "never-used")
    config = make_config(tmp_path, web)
    now = datetime.now(UTC)
    with Store(config.store.path) as store:
        fill(store, config, now)
        add_users(store, now)
        with Running(config) as url:
            yield Live(url, config, store)


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    with running(tmp_path, monkeypatch) as found:
        yield found


# Feeds allowed to reach loopback, where a test's feed server is.
LOOPBACK = '\n[ingest]\nread_timeout = 2\nallow_private_hosts = ["127.0.0.1"]\n'


@pytest.fixture
def live_feeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The console with feeds allowed to reach loopback."""
    with running(tmp_path, monkeypatch, LOOPBACK) as found:
        yield found
