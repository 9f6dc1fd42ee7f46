"""The Mastodon channel against mastodon_mock, a real Mastodon API server on loopback.

No part of Mastodon.py is patched: timeouts come from a proxy that holds a response
back, errors from the server's own fault injection.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from commsbot.channels.base import Channel
from commsbot.channels.mastodon import MastodonChannel, MastodonSettings
from commsbot.cli import cli
from commsbot.clock import utcnow
from commsbot.config import Config, load_config
from commsbot.content.items import add_items
from commsbot.content.types import TYPES
from commsbot.posting import pipeline, select
from commsbot.posting.engagement import collect_engagement
from commsbot.posting.queue import announce
from commsbot.render import Renderer
from commsbot.service.jobs import JobContext
from commsbot.store import Store, iso
from commsbot.store import content as content_q
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from commsbot.text import html_to_text, mastodon_length
from tests.support.mastodon import (
    PNG,
    FileServer,
    LossyProxy,
    MockMastodon,
    free_port,
    mastodon_config,
)

TOKEN_ENV = "COMMSBOT_TEST_MASTODON_TOKEN"
SAMPLE = Path(__file__).resolve().parent.parent / "commsbot" / "content" / "sample" / "network.json"


@dataclass
class Account:
    username: str
    token: str
    client: Any

    def statuses(self) -> list[Any]:
        """The account's statuses, oldest first."""
        me = self.client.account_verify_credentials()
        return list(reversed(self.client.account_statuses(me.id, limit=40)))

    def source(self, status: Any) -> str:
        return str(self.client.status_source(status.id).text)


@pytest.fixture(scope="session")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockMastodon]:
    server = MockMastodon(tmp_path_factory.mktemp("mastodon_mock")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mock(mastodon_server: MockMastodon) -> Iterator[MockMastodon]:
    yield mastodon_server
    mastodon_server.clear_faults()


@pytest.fixture
def account(mock: MockMastodon, monkeypatch: pytest.MonkeyPatch) -> Account:
    """A fresh account (an empty timeline) whose token commsbot posts with."""
    username, token = mock.new_account()
    monkeypatch.setenv(TOKEN_ENV, token)
    return Account(username, token, mock.client(token))


def make_config(tmp_path: Path, base_url: str, extra: str = "", *, outbox: bool = False) -> Config:
    return load_config(mastodon_config(tmp_path, base_url, TOKEN_ENV, extra, outbox=outbox))


Setup = Callable[..., tuple[Config, Store]]


@pytest.fixture
def setup(tmp_path: Path, mock: MockMastodon, account: Account) -> Iterator[Setup]:
    """A config posting to the mock as ``account`` (extra keys for [channels.mastodon] may
    be given), and its store with the network's cities and themes, closed after the test."""

    def config(extra: str = "", *, outbox: bool = False, base_url: str = "") -> Config:
        return make_config(tmp_path, base_url or mock.base_url, extra, outbox=outbox)

    yield from with_stores(config)


def with_stores(configs: Callable[..., Config]) -> Iterator[Setup]:
    """A setup fixture's maker (the Bluesky tests' too): a config from ``configs`` and its
    store with the network's cities and themes; each store is closed after the test."""
    stores: list[Store] = []

    def make(*args: Any, **kwargs: Any) -> tuple[Config, Store]:
        config = configs(*args, **kwargs)
        stores.append(Store(config.store.path))
        reference(stores[-1])
        return config, stores[-1]

    yield make
    for store in stores:
        store.close()


def reference(store: Store) -> None:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    content_q.insert_reference(store, data["cities"], data["themes"], data["institutions"])


def add_practice(store: Store, slug: str, **fields: Any) -> None:
    item = {
        "slug": slug,
        "title": fields.pop("title", f"Practice {slug}"),
        "city": "vilnius",
        "theme": "brokerage",
        "summary": "Designers and manufacturers meet every month.",
        "url": f"https://ci.example/{slug}",
        **fields,
    }
    add_items(store, TYPES["practice"], [(slug, item)], datetime.now(UTC))


def opened(config: Config) -> dict[str, Channel]:
    problems: list[str] = []
    channels = asyncio.run(pipeline.open_channels(config, problems))
    assert problems == []
    return channels


def publish(
    store: Store, config: Config, clock: Callable[[], datetime] = utcnow
) -> pipeline.Summary:
    """What `run --once` does for posting: open the channels, plan and dispatch, close."""

    async def go() -> pipeline.Summary:
        problems: list[str] = []
        channels = await pipeline.open_channels(config, problems)
        assert problems == []
        try:
            return await pipeline.publish(store, config, channels, clock=clock)
        finally:
            await pipeline.close_channels(channels)

    return asyncio.run(go())


def collect(store: Store, config: Config, clock: Callable[[], datetime]) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        channels = await pipeline.open_channels(config, [])
        try:
            return await collect_engagement(JobContext(store, config, clock, channels))
        finally:
            await pipeline.close_channels(channels)

    return asyncio.run(go())


def only_post(store: Store) -> dict[str, Any]:
    rows = posts_q.list_posts(store, channel="mastodon")
    assert len(rows) == 1
    post = posts_q.get_post(store, rows[0]["id"])
    assert post is not None
    return post


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def invoke(path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(path), *args])


LONG = (
    "Warsztaty odbywają się co miesiąc w starej fabryce. Projektanci gier, architekci i "
    "właściciele małych firm siadają przy jednym stole. Każde spotkanie zaczyna się od "
    "krótkiego pokazu, potem zespoły pracują nad jednym problemem zgłoszonym przez firmę. "
    "Po trzech godzinach każdy zespół pokazuje szkic rozwiązania. Najlepsze pomysły "
    "dostają bon na dalszą współpracę z twórcami. W pierwszym roku skorzystało czterdzieści "
    "firm, a połowa z nich kupiła potem usługi kreatywne bez wsparcia. Miasto publikuje "
    "wyniki co kwartał i zaprasza inne miasta sieci do udziału w warsztatach. Uczestnicy "
    "chwalą przede wszystkim szybkie tempo i konkretne rezultaty. Następna edycja obejmie "
    "także firmy z sektora zdrowia i transportu publicznego, a zgłoszenia przyjmowane są "
    "przez cały rok. Organizatorzy przygotowują też przewodnik dla miast, które chcą "
    "powtórzyć ten format u siebie: opisuje wybór firm, dobór twórców, harmonogram "
    "spotkań i sposób mierzenia efektów. Przewodnik jest dostępny w pięciu językach sieci. "
    "Zażółć gęślą jaźń! 🎨"
)


# -- posting ------------------------------------------------------------------------


def test_run_once_posts_polish_lithuanian_czech_and_emoji(
    tmp_path: Path, mock: MockMastodon, account: Account
) -> None:
    path = mastodon_config(tmp_path, mock.base_url, TOKEN_ENV)
    with Store(load_config(path).store.path) as store:
        reference(store)
        add_practice(
            store,
            "lodz",
            title="Łódź: bony na wzornictwo",
            city="warsaw",
            summary="Zażółć gęślą jaźń — małe firmy kupują usługi projektantów. 🎨",
            tags=["design"],
            language="pl",
            url="https://ci.example/pl",
        )
        add_practice(
            store,
            "vilnius",
            title="Kūrybinės dirbtuvės Užupyje",
            summary="Ąžuolų gatvėje dizaineriai ir ūkininkai kuria kartu. 🚀",
            language="lt",
            url="https://ci.example/lt",
        )
        add_practice(
            store,
            "plzen",
            title="Plzeňské kreativní centrum",
            city="plzen",
            theme="culture-based-innovation",
            summary="Příliš žluťoučký kůň úpěl ďábelské ódy. 👩‍🎨",
            language="cs",
            url="https://ci.example/cs",
        )

    result = invoke(path, "run", "--once", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["channels"] == [
        {"channel": "mastodon", "new": 3, "posted": 3, "retrying": 0, "failed": 0, "unknown": 0}
    ]
    # Just sent: first polled one interval later, not in this run (#13).
    assert report["jobs"]["collect-engagement"] == {"mastodon": 0}
    statuses = account.statuses()
    # Theme names in the post's language, as its fixed words (#19); hashtags stay.
    assert [account.source(s) for s in statuses] == [
        "Łódź: bony na wzornictwo (Warsaw, Pośrednictwo)\n\n"
        "Zażółć gęślą jaźń — małe firmy kupują usługi projektantów. 🎨\n\n"
        "#Brokerage #Design\n\nhttps://ci.example/pl",
        "Kūrybinės dirbtuvės Užupyje (Vilnius, Tarpininkavimas)\n\n"
        "Ąžuolų gatvėje dizaineriai ir ūkininkai kuria kartu. 🚀\n\n"
        "#Brokerage\n\nhttps://ci.example/lt",
        "Plzeňské kreativní centrum (Plzeň, Inovace založené na kultuře)\n\n"
        "Příliš žluťoučký kůň úpěl ďábelské ódy. 👩‍🎨\n\n"
        "#CultureBasedInnovation\n\nhttps://ci.example/cs",
    ]
    assert [s.language for s in statuses] == ["pl", "lt", "cs"]
    assert {s.visibility for s in statuses} == {"public"}
    assert "Zażółć gęślą jaźń — małe firmy" in html_to_text(statuses[0].content)
    with Store(load_config(path).store.path) as store:
        rows = posts_q.list_posts(store, channel="mastodon")
    assert [(r["status"], r["remote_id"]) for r in rows] == [("sent", str(s.id)) for s in statuses]
    assert [r["remote_url"] for r in rows] == [s.url for s in statuses]


def test_long_post_becomes_a_numbered_thread_with_the_link_first(
    account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "long", title="Fabryka pomysłów", summary=LONG, language="pl")

    publish(store, config)

    post = only_post(store)
    parts = [post["text"], *post["payload"]["thread"]]
    count = len(parts)
    assert count == 3
    statuses = account.statuses()
    assert [account.source(s) for s in statuses] == parts
    assert [s.in_reply_to_id for s in statuses] == [None, statuses[0].id, statuses[1].id]
    assert post["remote_id"] == str(statuses[0].id)
    assert parts[0].endswith(" (1/3)\n\nhttps://ci.example/long")
    assert parts[1].endswith(" (2/3)")
    assert parts[2].endswith(" (3/3)")
    assert all(mastodon_length(p) <= 500 for p in parts)
    # Nothing of the body is lost: the parts, unnumbered and joined, are the whole text.
    bodies = [parts[0].split(" (1/3)")[0]] + [p.rsplit(" (", 1)[0] for p in parts[1:]]
    expected = f"Fabryka pomysłów (Vilnius, Pośrednictwo) {LONG} #Brokerage"
    assert " ".join(" ".join(bodies).split()) == " ".join(expected.split())


def test_truncate_mode_posts_one_status_keeping_the_link(account: Account, setup: Setup) -> None:
    config, store = setup('long_posts = "truncate"')
    add_practice(store, "long", title="Fabryka pomysłów", summary=LONG)

    publish(store, config)

    post = only_post(store)
    assert post["payload"]["thread"] == []
    [status] = account.statuses()
    assert account.source(status) == post["text"]
    assert post["text"].endswith("…\n\nhttps://ci.example/long")
    assert 480 < mastodon_length(post["text"]) <= 500


@pytest.mark.parametrize(("size", "statuses"), [(475, 1), (476, 2)])
def test_the_500_character_limit(
    account: Account,
    setup: Setup,
    size: int,
    statuses: int,
) -> None:
    config, store = setup()
    channels = opened(config)
    assert channels["mastodon"].limit() == 500
    words = ("Współpraca " * 60)[: size - 1].rstrip() + "."
    text = words + "x" * (size - len(words))
    link = "https://ci.example/p/23"  # 23 characters: as long as Mastodon counts any link
    announce(store, config, channels, text, at=utcnow(), link=link)

    publish(store, config)

    post = only_post(store)
    parts = [post["text"], *post["payload"]["thread"]]
    assert post["status"] == "sent"
    assert len(parts) == statuses
    assert [account.source(s) for s in account.statuses()] == parts
    if statuses == 1:
        assert parts == [f"{text}\n\n{link}"]
        assert mastodon_length(parts[0]) == len(parts[0]) == 500


def test_the_server_limits_are_read_from_its_instance_information(
    tmp_path: Path, mock: MockMastodon, account: Account
) -> None:
    instance = requests.get(f"{mock.base_url}/api/v2/instance", timeout=10).json()
    instance["configuration"]["statuses"].update(
        max_characters=1000, characters_reserved_per_url=30, max_media_attachments=6
    )
    mock.fault(
        "/api/v2/instance*",  # Mastodon.py asks for /api/v2/instance/
        {"type": "status", "status": 200, "body": instance},
        methods=("GET",),
        count=None,
    )
    config = make_config(tmp_path, mock.base_url)
    # Until it is opened (as the console's previews see it), the config's, else Mastodon's.
    assert pipeline.make_channels(config, ["mastodon"])["mastodon"].most_images() == 4
    own = MastodonSettings(api_base_url=mock.base_url, max_media_attachments=2)
    assert MastodonChannel(own).most_images() == 2
    channel = opened(config)["mastodon"]

    assert channel.limit() == 1000
    assert channel.length("see https://ci.example/a/long/path/to/a/practice") == 34
    assert channel.most_images() == 6


# -- exactly once -------------------------------------------------------------------


def test_a_retry_after_a_timeout_gets_the_status_the_server_already_made(
    mock: MockMastodon, account: Account, setup: Setup
) -> None:
    # The timeout leaves room for a loaded machine to answer the instance read at open;
    # the held answer comes well after it.
    proxy = LossyProxy(
        mock.port,
        lambda method, path: (method, path) == ("POST", "/api/v1/statuses"),
        hold_seconds=6.0,
    )
    proxy.start()
    try:
        config, store = setup("request_timeout = 2", base_url=proxy.base_url)
        add_practice(store, "once", summary="Posted exactly once, whatever happens.")
        start = utcnow()

        publish(store, config, fixed(start))

        post = only_post(store)
        assert (post["status"], post["attempts"]) == ("queued", 1)
        assert post["last_error"].startswith("no answer: ")
        assert post["next_attempt_at"] == iso(start + timedelta(seconds=60))
        [made] = account.statuses()  # the server did publish it: only the answer was lost
        assert account.source(made) == post["text"]

        publish(store, config, fixed(start + timedelta(seconds=61)))

        post = only_post(store)
        assert (post["status"], post["attempts"]) == ("sent", 2)
        assert post["remote_id"] == str(made.id)
        assert [s.id for s in account.statuses()] == [made.id]
    finally:
        proxy.stop()


def interrupted(store: Store, config: Config, ago: timedelta) -> dict[str, Any]:
    """Plan an item's post and claim it ``ago``: as if the process died while sending it."""
    then = utcnow() - ago
    channels = pipeline.make_channels(config)
    pipeline.plan(store, config, Renderer(config.service.templates), channels, then)
    [row] = select.claim(store, "mastodon", then, 20, timedelta(hours=1))
    assert posts_q.list_posts(store, status="sending")[0]["id"] == row["id"]
    return row


def test_a_post_interrupted_longer_ago_than_the_key_lives_is_found_not_posted_again(
    account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "crash", summary="Published just before the crash.")
    row = interrupted(store, config, timedelta(hours=2))
    # Published without a key: a server that has forgotten the key would post it again.
    made = account.client.status_post(row["text"])

    publish(store, config)

    post = only_post(store)
    assert (post["status"], post["remote_id"]) == ("sent", str(made.id))
    assert post["attempts"] == 1  # the interrupted claim is not charged (#9)
    assert [s.id for s in account.statuses()] == [made.id]


def test_an_interrupted_thread_is_completed_from_where_it_stopped(
    account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "long", title="Fabryka pomysłów", summary=LONG)
    row = interrupted(store, config, timedelta(hours=3))
    first = account.client.status_post(row["text"])

    publish(store, config)

    post = only_post(store)
    parts = [post["text"], *post["payload"]["thread"]]
    statuses = account.statuses()
    assert [account.source(s) for s in statuses] == parts
    assert statuses[0].id == first.id
    assert [s.in_reply_to_id for s in statuses[1:]] == [s.id for s in statuses[:-1]]
    assert (post["status"], post["remote_id"]) == ("sent", str(first.id))


def test_an_interrupted_post_the_server_never_got_is_posted_once(
    account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "lost", summary="The crash came before the request.")
    interrupted(store, config, timedelta(hours=2))

    publish(store, config)

    post = only_post(store)
    [status] = account.statuses()
    assert (post["status"], post["remote_id"]) == ("sent", str(status.id))
    assert account.source(status) == post["text"]


def test_an_interrupted_post_within_the_key_lifetime_is_deduplicated_by_its_key(
    account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "recent", summary="Sent twenty minutes ago.")
    row = interrupted(store, config, timedelta(minutes=20))
    made = account.client.status_post(row["text"], idempotency_key=row["idempotency_key"])

    publish(store, config)

    post = only_post(store)
    assert (post["status"], post["remote_id"]) == ("sent", str(made.id))
    assert [s.id for s in account.statuses()] == [made.id]


# -- errors -------------------------------------------------------------------------


def test_a_rejected_token_stops_the_channel_until_it_is_checked_again(
    tmp_path: Path, mock: MockMastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "not-a-valid-token")
    path = mastodon_config(tmp_path, mock.base_url, TOKEN_ENV)
    with Store(load_config(path).store.path) as store:
        reference(store)
        add_practice(store, "held", summary="Waits for a valid token.")
    reason = (
        f"{mock.base_url} refused the token in {TOKEN_ENV} (401: This method requires an "
        "authenticated user); fix it, then run `commsbot channels test mastodon`"
    )

    first = json.loads(invoke(path, "run", "--once", "--json").stdout)
    again = json.loads(invoke(path, "run", "--once", "--json").stdout)
    listing = invoke(path, "channels")

    assert first["problems"] == [f"mastodon is down: {reason}"]
    assert again["problems"] == [f"mastodon is down: {reason}"]
    assert f"down: {reason}" in listing.output
    with Store(load_config(path).store.path) as store:
        post = only_post(store)
    # Held back, not failed: the token is the channel's problem, not the post's.
    assert (post["status"], post["attempts"], post["last_error"]) == ("queued", 0, reason)

    username, token = mock.new_account()
    monkeypatch.setenv(TOKEN_ENV, token)
    checked = invoke(path, "channels", "test", "mastodon")
    assert checked.exit_code == 0, checked.output
    assert checked.output.endswith(
        f"mastodon: OK\nmastodon was down ({reason}); cleared: posting resumes\n"
    )

    result = json.loads(invoke(path, "run", "--once", "--json").stdout)
    assert result["problems"] == []
    assert result["channels"][0]["posted"] == 1
    assert len(Account(username, token, mock.client(token)).statuses()) == 1


def test_forbidden_stops_the_channel(mock: MockMastodon, account: Account, setup: Setup) -> None:
    config, store = setup()
    add_practice(store, "a")
    add_practice(store, "b")
    mock.fault(
        "/api/v1/statuses",
        {"type": "status", "status": 403, "body": {"error": "Your login is currently disabled"}},
    )

    summary = publish(store, config)

    assert summary.problems == [
        f"mastodon is down: {mock.base_url} refused the token in {TOKEN_ENV} (403: Your login "
        "is currently disabled); fix it, then run `commsbot channels test mastodon`"
    ]
    rows = posts_q.list_posts(store, channel="mastodon")
    assert [(r["status"], r["attempts"]) for r in rows] == [("queued", 0), ("queued", 0)]
    assert account.statuses() == []


def test_unprocessable_fails_at_once_with_the_servers_message(
    mock: MockMastodon, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "bad")
    message = "Validation failed: Text character limit of 500 exceeded"
    mock.fault("/api/v1/statuses", {"type": "status", "status": 422, "body": {"error": message}})

    summary = publish(store, config)

    post = only_post(store)
    assert (post["status"], post["attempts"]) == ("failed", 1)
    assert post["last_error"] == f"rejected by the server (422: {message})"
    assert summary.outcomes["mastodon"]["failed"] == 1


def test_a_rate_limit_pauses_the_channel_until_the_reset_and_not_the_others(
    mock: MockMastodon, account: Account, setup: Setup
) -> None:
    config, store = setup(outbox=True)
    add_practice(store, "a")
    add_practice(store, "b")
    reset = int(time.time()) + 120
    mock.fault(
        "/api/v1/statuses",
        {"type": "ratelimit", "headers": {"X-RateLimit-Reset": str(reset)}},
    )
    start = utcnow()

    summary = publish(store, config, fixed(start))

    assert summary.outcomes["outbox"]["sent"] == 2
    state = engagement_q.channel_state(store, "mastodon")
    assert state is not None
    paused = datetime.fromisoformat(state["paused_until"])
    # The reset as the client computes it: the server's clock has a resolution of 1 s.
    assert start + timedelta(seconds=117) <= paused <= start + timedelta(seconds=122)
    first, second = posts_q.list_posts(store, channel="mastodon")
    assert (first["status"], first["attempts"]) == ("queued", 0)
    assert first["next_attempt_at"] == state["paused_until"]
    assert first["last_error"].startswith("rate limit reached; paused for ")
    assert (second["status"], second["attempts"], second["last_error"]) == ("queued", 0, None)

    later = publish(store, config, fixed(start + timedelta(seconds=30)))
    assert later.problems == [f"mastodon is paused until {state['paused_until']}"]
    assert account.statuses() == []

    publish(store, config, fixed(paused + timedelta(seconds=1)))
    assert len(account.statuses()) == 2


def test_a_post_that_would_not_fit_the_remaining_requests_waits_for_the_reset(
    mock: MockMastodon, account: Account, setup: Setup
) -> None:
    instance = requests.get(f"{mock.base_url}/api/v2/instance", timeout=10).json()
    headers = {"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": str(int(time.time()) + 100)}
    mock.fault(
        "/api/v2/instance*",  # Mastodon.py asks for /api/v2/instance/
        {"type": "status", "status": 200, "body": instance, "headers": headers},
        methods=("GET",),
        count=None,
    )
    config, store = setup()
    add_practice(store, "long", summary=LONG)  # three statuses, two requests left

    summary = publish(store, config)

    post = only_post(store)
    assert (post["status"], post["attempts"]) == ("queued", 0)
    assert post["last_error"] == (
        "rate limit nearly used (2 requests left); paused until the server's reset"
    )
    assert summary.problems[0].startswith("mastodon is paused until ")
    assert account.statuses() == []


def test_server_errors_are_retried_with_backoff(
    mock: MockMastodon, account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "a")
    add_practice(store, "b")
    mock.fault("/api/v1/statuses", {"type": "status", "status": 503})
    start = utcnow()

    publish(store, config, fixed(start))

    first, second = posts_q.list_posts(store, channel="mastodon")
    assert (first["status"], first["attempts"]) == ("queued", 1)
    assert first["last_error"] == "server error 503: Service temporarily unavailable"
    assert first["next_attempt_at"] == iso(start + timedelta(seconds=60))
    assert second["status"] == "sent"

    publish(store, config, fixed(start + timedelta(seconds=60)))

    assert [r["status"] for r in posts_q.list_posts(store, channel="mastodon")] == ["sent"] * 2
    assert len(account.statuses()) == 2


def test_three_transient_failures_in_a_row_leave_the_rest_for_the_next_run(
    mock: MockMastodon, account: Account, setup: Setup
) -> None:
    config, store = setup()
    for slug in "abcd":
        add_practice(store, slug)
    mock.fault("/api/v1/statuses", {"type": "status", "status": 502}, count=3)

    summary = publish(store, config)

    rows = posts_q.list_posts(store, channel="mastodon")
    assert [(r["status"], r["attempts"]) for r in rows] == [("queued", 1)] * 3 + [("queued", 0)]
    assert summary.outcomes["mastodon"]["retrying"] == 4
    assert account.statuses() == []


# -- images -------------------------------------------------------------------------


def test_a_local_image_is_uploaded_with_the_items_alt_text(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "workshop.png").write_bytes(PNG)
    config, store = setup()
    alt = "Projektanci i właściciele firm przy jednym stole."
    add_practice(store, "pic", summary=alt, image="images/workshop.png")

    publish(store, config)

    [status] = account.statuses()
    assert [(m.type, m.description) for m in status.media_attachments] == [("image", alt)]
    assert requests.get(status.media_attachments[0].url, timeout=10).content == PNG


def coloured(name: str, size: tuple[int, int] = (6, 4)) -> bytes:
    """A small PNG of the colour ``name``."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, name).save(out, "PNG")
    return out.getvalue()


def test_an_announcement_carries_up_to_four_images_each_with_its_own_alt_text(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    desk = tmp_path / "desk"
    desk.mkdir()
    colours = ("red", "green", "blue")
    for colour in colours:
        (desk / f"{colour}.png").write_bytes(coloured(colour))
    config, store = setup()
    args = [a for c in colours for a in ("--image", str(desk / f"{c}.png"), "--alt", f"A {c} wall")]
    queued = invoke(tmp_path / "commsbot.toml", "queue", "add", "Three walls", *args, "--now")
    assert queued.exit_code == 0, queued.output
    shown = invoke(tmp_path / "commsbot.toml", "queue", "show", "1").output
    assert [
        line.split(None, 1)[1] for line in shown.splitlines() if line.startswith("image_alt")
    ] == [
        "A red wall",
        "A green wall",
        "A blue wall",
    ]
    shutil.rmtree(desk)  # kept with the store when queued

    publish(store, config)

    [status] = account.statuses()
    media = status.media_attachments
    assert [(m.type, m.description) for m in media] == [("image", f"A {c} wall") for c in colours]
    assert [requests.get(m.url, timeout=10).content for m in media] == [
        coloured(c) for c in colours
    ]


def test_queue_add_refuses_a_fifth_image_and_an_image_without_its_own_alt_text(
    tmp_path: Path, setup: Setup
) -> None:
    (tmp_path / "a.png").write_bytes(coloured("red"))
    setup()
    image = ["--image", str(tmp_path / "a.png")]
    five = invoke(
        tmp_path / "commsbot.toml", "queue", "add", "Hi", *image * 5, *["--alt", "x"] * 5, "--now"
    )
    assert five.exit_code == 2
    assert "5 --image files; an announcement carries at most 4" in five.output
    short = invoke(tmp_path / "commsbot.toml", "queue", "add", "Hi", *image * 2, "--alt", "x")
    assert short.exit_code == 2
    assert "one --alt for each --image, in the same order" in short.output
    blank = invoke(
        tmp_path / "commsbot.toml", "queue", "add", "Hi", *image * 2, "--alt", "x", "--alt", " "
    )
    assert blank.exit_code == 2 and "--image needs --alt TEXT" in blank.output
    assert "Traceback" not in five.output + short.output + blank.output
    listed = invoke(tmp_path / "commsbot.toml", "queue", "list", "--format", "json")
    assert json.loads(listed.output)["posts"] == []


def test_a_practice_with_five_images_posts_the_four_a_status_takes_naming_the_fifth(
    tmp_path: Path, account: Account, setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    colours = ("red", "green", "blue", "white", "black")
    for colour in colours:
        (tmp_path / f"{colour}.png").write_bytes(coloured(colour))
    config, store = setup()
    add_practice(
        store,
        "walls",
        summary="Five walls of the old mill.",
        image=str(tmp_path / "red.png"),
        images=[str(tmp_path / f"{c}.png") for c in colours[1:]],
    )

    publish(store, config)

    [status] = account.statuses()
    media = status.media_attachments
    assert [m.description for m in media] == ["Five walls of the old mill."] * 4
    assert [requests.get(m.url, timeout=10).content for m in media] == [
        coloured(c) for c in colours[:4]
    ]
    assert "5 images, the server takes 4 a status; " in caplog.text
    assert caplog.text.count("left out") == 1 and "black.png left out" not in caplog.text
    assert f"{kept(coloured('black'))} left out" in caplog.text


def kept(data: bytes) -> str:
    """The name of an image kept with the store."""
    import hashlib

    return f"{hashlib.sha256(data).hexdigest()}.png"


def test_an_image_url_is_fetched_and_uploaded(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "logo.png").write_bytes(PNG)
    files = FileServer(tmp_path / "site").start()
    try:
        config, store = setup()
        add_practice(store, "pic", summary="Logo", image=f"{files.base_url}/logo.png")

        publish(store, config)
    finally:
        files.stop()

    [status] = account.statuses()
    assert [m.description for m in status.media_attachments] == ["Logo"]
    assert requests.get(status.media_attachments[0].url, timeout=10).content == PNG


def test_the_post_waits_until_its_image_is_processed(
    tmp_path: Path, mock: MockMastodon, account: Account, setup: Setup
) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    ready = account.client.media_post(PNG, mime_type="image/png", description="Processed")
    # The server answers the upload "still processing" (202, no url), as real Mastodon does.
    mock.fault(
        "/api/v2/media",
        {"type": "status", "status": 202, "body": {"id": str(ready.id), "type": "image"}},
    )
    config, store = setup()
    add_practice(store, "pic", image="a.png")

    publish(store, config)

    [status] = account.statuses()
    assert [m.id for m in status.media_attachments] == [ready.id]


def test_an_image_never_processed_is_retried_later(
    tmp_path: Path, mock: MockMastodon, account: Account, setup: Setup
) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    pending = {"id": "1", "type": "image", "url": None}
    mock.fault("/api/v2/media", {"type": "status", "status": 202, "body": pending})
    mock.fault(
        "/api/v1/media/*",
        {"type": "status", "status": 206, "body": pending},
        methods=("GET",),
        count=None,
    )
    config, store = setup("media_wait_seconds = 0.5")
    add_practice(store, "pic", image="a.png")

    publish(store, config)

    post = only_post(store)
    assert (post["status"], post["attempts"]) == ("queued", 1)
    assert post["last_error"] == "the server had not processed the image a.png after 0.5 s"
    assert account.statuses() == []


def test_a_missing_image_file_fails_the_post_naming_it(
    tmp_path: Path, account: Account, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "pic", image="nowhere.png")

    publish(store, config)

    post = only_post(store)
    assert post["status"] == "failed"
    assert post["last_error"] == f"image {tmp_path / 'nowhere.png'}: No such file or directory"
    assert account.statuses() == []


# -- engagement ---------------------------------------------------------------------


def test_engagement_counts_a_partners_favourite_boost_and_reply(
    mock: MockMastodon, setup: Setup
) -> None:
    config, store = setup()
    add_practice(store, "liked", summary="Partners will like this.")
    add_practice(store, "long", summary=LONG)
    start = utcnow()
    publish(store, config, fixed(start))
    liked, long = posts_q.list_posts(store, channel="mastodon")
    partner = mock.client(mock.login("partner"))
    partner.status_favourite(liked["remote_id"])
    partner.status_reblog(liked["remote_id"])
    partner.status_post("Great idea!", in_reply_to_id=liked["remote_id"])
    partner.status_favourite(long["remote_id"])

    # Nothing to read minutes after posting: first polled an interval (an hour) on (#13).
    assert collect(store, config, fixed(start + timedelta(minutes=5))) == {"mastodon": 0}
    result = collect(store, config, fixed(start + timedelta(minutes=60)))

    assert result == {"mastodon": 2}
    counts = [engagement_q.latest(store, post["id"]) or {} for post in (liked, long)]
    assert [(c.get("favourites"), c.get("boosts"), c.get("replies")) for c in counts] == [
        (1, 1, 1),
        (1, 0, 0),  # the thread's own next post is not a reply
    ]
    # A decaying schedule: hourly in the first day.
    assert collect(store, config, fixed(start + timedelta(minutes=90))) == {"mastodon": 0}
    assert collect(store, config, fixed(start + timedelta(minutes=125))) == {"mastodon": 2}


def test_one_engagement_poll_stays_within_its_request_budget(setup: Setup) -> None:
    config, store = setup("engagement_requests_per_run = 1")
    for number in range(25):
        add_practice(store, f"p{number}")
    start = utcnow()
    publish(store, config, fixed(start))

    later = fixed(start + timedelta(hours=1))
    assert collect(store, config, later) == {"mastodon": 20}  # 20 statuses a request
    assert collect(store, config, later) == {"mastodon": 5}


# -- channels test ------------------------------------------------------------------


def test_channels_test_prints_the_account_and_the_servers_limits(
    tmp_path: Path, mock: MockMastodon, account: Account
) -> None:
    path = mastodon_config(tmp_path, mock.base_url, TOKEN_ENV)

    result = invoke(path, "channels", "test", "mastodon")

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"account  @{account.username}@127.0.0.1\n"
        f"name     {account.username}\n"
        f"profile  http://127.0.0.1/@{account.username}\n"
        f"server   {mock.base_url} (Mastodon 4.6.0)\n"
        "limit    500 characters, each link counts 23\n"
        "images   up to 4 a status, up to 10485760 bytes each\n"
        "posting  public, long posts as a thread, no rate limit announced yet\n"
        "mastodon: OK\n"
    )


def test_channels_test_names_a_missing_token_variable(
    tmp_path: Path, mock: MockMastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    path = mastodon_config(tmp_path, mock.base_url, TOKEN_ENV)

    result = invoke(path, "channels", "test", "mastodon")

    assert result.exit_code == 1
    assert result.output == (
        f"Error: mastodon: channels.mastodon.access_token_env names the environment variable "
        f"{TOKEN_ENV}, which is not set\n"
    )


def test_channels_test_says_when_the_server_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "a-token")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    path = mastodon_config(tmp_path, url, TOKEN_ENV)

    result = invoke(path, "channels", "test", "mastodon")

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: mastodon: cannot reach {url}: ")
    assert "a-token" not in result.output
