"""Movement tracking against mastodon_mock: seeded accounts post with and without the
campaign hashtag and mention our account; commsbot reads it all over real HTTP, through a
loopback proxy that counts every request it makes.

Each test posts as a fresh account of its own and follows a hashtag of its own, so the
tests share one server without seeing each other's statuses.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.clock import utcnow
from commsbot.config import Config, load_config
from commsbot.insights import tracking
from commsbot.posting import pipeline
from commsbot.posting.queue import announce
from commsbot.service.jobs import JobContext
from commsbot.store import Store
from commsbot.store import audience as audience_q
from commsbot.store import posts as posts_q
from tests.support.mastodon import (
    MOVEMENT_MOCK_CONFIG,
    OTHERS,
    LossyProxy,
    MockMastodon,
    mastodon_config,
)

TOKEN_ENV = "COMMSBOT_TEST_MOVEMENT_TOKEN"
# What commsbot asks that is not tracking: opening the channel reads the instance.
OPENING = ("/api/v1/instance", "/api/v2/instance")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockMastodon]:
    mock = MockMastodon(tmp_path_factory.mktemp("movement_mock"), MOVEMENT_MOCK_CONFIG).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def proxy(server: MockMastodon) -> Iterator[LossyProxy]:
    """Forwards to the mock and holds nothing back: it lists the requests."""
    counting = LossyProxy(server.port, lambda method, path: False, hold_count=0).start()
    try:
        yield counting
    finally:
        counting.stop()
        server.clear_faults()


@dataclass
class World:
    """Our account (a fresh one), the seeded others, the campaign tag and commsbot's side."""

    server: MockMastodon
    proxy: LossyProxy
    tmp_path: Path
    me: Any  # our Mastodon.py client
    me_id: str
    others: dict[str, Any]
    tag: str
    store: Store

    def config(self, movement: str = "", channel: str = "", tags: tuple[str, ...] = ()) -> Config:
        names = ", ".join(json.dumps(t) for t in (self.tag, *tags))
        extra = f"{channel}\n\n[movement]\nhashtags = [{names}]\n{movement}"
        return load_config(mastodon_config(self.tmp_path, self.proxy.base_url, TOKEN_ENV, extra))

    def requests(self) -> list[str]:
        """Paths asked since the last call, opening the channel left out; then forgotten."""
        seen = [path for _, path in self.proxy.seen]
        self.proxy.seen.clear()
        return [p for p in seen if not p.startswith(OPENING)]

    def post(self, who: str, text: str, **kwargs: Any) -> Any:
        return self.others[who].status_post(text, **kwargs)

    def rows(self) -> list[dict[str, Any]]:
        return self.store.rows(
            "SELECT s.remote_id, acct, account_url, language, favourites, boosts, replies, own, "
            "mention, reply_to_post, group_concat(t.tag) AS tags FROM movement_statuses s "
            "LEFT JOIN movement_tags t ON t.status_id = s.id GROUP BY s.id ORDER BY s.remote_id"
        )


@pytest.fixture
def world(
    server: MockMastodon, proxy: LossyProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    _, token = server.new_account()
    monkeypatch.setenv(TOKEN_ENV, token)
    me = server.client(token)
    others = {name: server.client(server.login(name)) for name in OTHERS}
    store = Store(tmp_path / "commsbot.db")
    try:
        yield World(
            server,
            proxy,
            tmp_path,
            me,
            str(me.account_verify_credentials().id),
            others,
            f"Move{secrets.token_hex(4)}",
            store,
        )
    finally:
        store.close()


Job = Callable[[JobContext], Awaitable[dict[str, Any]]]


def run_job(
    world: World, config: Config, job: Job, clock: Callable[[], datetime] = utcnow
) -> dict[str, Any]:
    """A job as the service runs it: channels opened, the job, channels closed."""

    async def go() -> dict[str, Any]:
        problems: list[str] = []
        channels = await pipeline.open_channels(config, problems)
        assert problems == []
        try:
            return await job(JobContext(world.store, config, clock, channels))
        finally:
            await pipeline.close_channels(channels)

    world.proxy.seen.clear()
    return asyncio.run(go())


def track(world: World, config: Config, **kwargs: Any) -> tracking.Tracked:
    result = run_job(world, config, tracking.track_movement, **kwargs)
    tracked = result["movement"]
    assert isinstance(tracked, tracking.Tracked)
    return tracked


def publish_our_post(world: World, config: Config) -> tuple[int, str]:
    """An announcement posted by commsbot: (its outbox id, its status id)."""

    async def go() -> None:
        problems: list[str] = []
        channels = await pipeline.open_channels(config, problems)
        try:
            announce(world.store, config, channels, "Policy clinic in Plzeň", at=utcnow())
            await pipeline.publish(world.store, config, channels)
        finally:
            await pipeline.close_channels(channels)

    asyncio.run(go())
    (post,) = posts_q.list_posts(world.store, channel="mastodon")
    assert post["status"] == "sent"
    return post["id"], post["remote_id"]


def test_public_statuses_with_the_tag_and_mentions_are_stored_once(world: World) -> None:
    config = world.config("mentions = true", channel=f"hashtags = [{json.dumps(world.tag)}]")
    post_id, our_status = publish_our_post(world, config)
    tag = world.tag
    first = world.post("alice", f"Joining the #{tag} movement", language="pl")
    world.post("alice", "A status without the campaign tag")
    second = world.post("alice", f"More #{tag.upper()} from Vilnius", language="pl")
    carol = world.post("carol", f"@{world.me.me().acct} great work #{tag}", language="lt")
    reply = world.post("bob", f"@{world.me.me().acct} see you there", in_reply_to_id=our_status)
    world.post("bob", f"@{world.me.me().acct} a secret #{tag}", visibility="private")
    world.post("dave", f"@{world.me.me().acct} a direct message", visibility="direct")
    world.others["bob"].status_favourite(first.id)
    world.others["carol"].status_reblog(first.id)
    world.post("dave", "Count me in", in_reply_to_id=first.id)
    world.others["dave"].status_favourite(carol.id)
    world.requests()

    tracked = track(world, config)

    acct = world.me.me().acct
    mine = f"{acct}@127.0.0.1"
    # carol's status is found twice: by its tag, and as a mention.
    assert tracked.describe() == (
        "new 5, seen again 1, not public 2, refreshed 0, removed 0, requests 3"
    )
    assert [r.split("?")[0] for r in world.requests()] == [
        "/api/v1/accounts/verify_credentials",
        f"/api/v1/timelines/tag/{tag.lower()}",
        "/api/v1/notifications",
    ]
    url = world.server.base_url.replace(f":{world.server.port}", "")
    assert world.rows() == sorted(
        [
            {
                "remote_id": our_status,
                "acct": mine,
                "account_url": f"{url}/@{acct}",
                "language": None,
                "favourites": 0,
                "boosts": 0,
                "replies": 1,
                "own": 1,
                "mention": 0,
                "reply_to_post": None,
                "tags": tag.lower(),
            },
            {
                "remote_id": str(first.id),
                "acct": "alice@127.0.0.1",
                "account_url": f"{url}/@alice",
                "language": "pl",
                "favourites": 1,
                "boosts": 1,
                "replies": 1,
                "own": 0,
                "mention": 0,
                "reply_to_post": None,
                "tags": tag.lower(),
            },
            {
                "remote_id": str(second.id),
                "acct": "alice@127.0.0.1",
                "account_url": f"{url}/@alice",
                "language": "pl",
                "favourites": 0,
                "boosts": 0,
                "replies": 0,
                "own": 0,
                "mention": 0,
                "reply_to_post": None,
                "tags": tag.lower(),
            },
            {
                "remote_id": str(carol.id),
                "acct": "carol@127.0.0.1",
                "account_url": f"{url}/@carol",
                "language": "lt",
                "favourites": 1,
                "boosts": 0,
                "replies": 0,
                "own": 0,
                "mention": 1,
                "reply_to_post": None,
                "tags": tag.lower(),
            },
            {
                "remote_id": str(reply.id),
                "acct": "bob@127.0.0.1",
                "account_url": f"{url}/@bob",
                "language": None,
                "favourites": 0,
                "boosts": 0,
                "replies": 0,
                "own": 0,
                "mention": 1,
                "reply_to_post": post_id,
                "tags": None,
            },
        ],
        key=lambda r: str(r["remote_id"]),
    )
    # Nothing of the private or direct statuses, and no names or pictures at all.
    columns = {r["name"] for r in world.store.rows("PRAGMA table_info(movement_statuses)")}
    assert not columns & {"display_name", "avatar", "note", "content", "text"}

    # The figures of this week, exactly.
    result = CliRunner().invoke(
        cli, ["--config", str(config.file), "stats", "movement", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["total"] == {
        "tagged": 3,
        "accounts": 2,
        "mentions": 2,
        "replies": 1,
        "conversations": 1,
        "voices": 3,
        "new_voices": 3,
        "own": 1,
        "reach": 4,
    }
    assert [(v["account"], v["statuses"], v["reach"]) for v in figures["top_voices"]] == [
        ("alice@127.0.0.1", 2, 3),
        ("carol@127.0.0.1", 1, 1),
        ("bob@127.0.0.1", 1, 0),
    ]
    assert figures["languages"] == [
        {"language": "pl", "statuses": 2, "accounts": 1, "share_pct": 50.0},
        {"language": "(unknown)", "statuses": 1, "accounts": 1, "share_pct": 25.0},
        {"language": "lt", "statuses": 1, "accounts": 1, "share_pct": 25.0},
    ]

    # A second run finds nothing new and adds nothing twice.
    again = track(world, config)
    assert again.describe() == (
        "new 0, seen again 0, not public 0, refreshed 0, removed 0, requests 3"
    )
    assert len(world.rows()) == 5

    # Then: alice again, and a voice never heard before.
    newcomer, token = world.server.new_account()
    world.post("alice", f"Still #{tag}")
    world.server.client(token).status_post(f"First time with #{tag}")
    third = track(world, config)
    assert (third.new, third.seen) == (2, 2)
    assert [r["acct"] for r in world.rows()].count(f"{newcomer}@127.0.0.1") == 1
    assert len(world.rows()) == 7


def test_the_request_budget_is_respected_and_the_rest_read_next_run(world: World) -> None:
    config = world.config("page_size = 2\nmax_pages = 10\nrequests_per_run = 4")
    posted = [world.post(OTHERS[i % 4], f"Voice {i} #{world.tag}") for i in range(9)]
    world.requests()

    first = track(world, config)

    asked = world.requests()
    assert len(asked) == 4
    assert asked[0] == "/api/v1/accounts/verify_credentials"
    assert all(path.startswith(f"/api/v1/timelines/tag/{world.tag.lower()}?") for path in asked[1:])
    assert first.requests == 4
    assert (first.new, first.stopped) == (
        6,
        [f"#{world.tag.lower()}: used its 4 requests (movement.requests_per_run)"],
    )
    # The six oldest, with no gap: the next run starts after them.
    assert [r["remote_id"] for r in world.rows()] == sorted(str(s.id) for s in posted[:6])

    second = track(world, config)

    assert len(world.requests()) == 3  # credentials, a full page, a last short one
    assert (second.new, second.stopped) == (3, [])
    assert [r["remote_id"] for r in world.rows()] == sorted(str(s.id) for s in posted)


def test_a_page_limit_holds_back_one_tag_not_the_others(world: World) -> None:
    other_tag = f"Other{secrets.token_hex(4)}"
    config = world.config("page_size = 2\nmax_pages = 1\nmentions = true", tags=(other_tag,))
    for i in range(3):
        world.post("bob", f"#{world.tag} {i}")
    world.post("carol", f"#{other_tag}")
    world.post("dave", f"@{world.me.me().acct} hello")

    first = track(world, config)

    assert first.new == 2 + 1 + 1
    assert first.stopped == [
        f"#{world.tag.lower()}: read 1 pages (movement.max_pages); more next run"
    ]
    assert track(world, config).new == 1


def test_a_rate_limit_stops_the_run_and_loses_nothing(world: World) -> None:
    config = world.config("mentions = true")
    for i in range(3):
        world.post("alice", f"#{world.tag} {i}")
    world.post("bob", f"@{world.me.me().acct} hello")
    world.server.fault("/api/v1/timelines/tag/*", {"type": "ratelimit"}, methods=("GET",))

    stopped = track(world, config)

    assert stopped.new == 0
    assert stopped.stopped == [
        f"#{world.tag.lower()}: the server's rate limit is reached; more next run"
    ]
    cursors = world.store.rows("SELECT source, newest_id FROM movement_cursors")
    assert cursors == [{"source": f"tag:{world.tag.lower()}", "newest_id": None}]

    resumed = track(world, config)

    assert (resumed.new, resumed.stopped) == (4, [])


def test_no_request_while_the_server_allows_only_what_posting_needs(world: World) -> None:
    """The server says 5 requests are left until its reset: below the channel's reserve of
    60, so tracking asks nothing more and posting keeps them."""
    config = world.config("mentions = true")
    world.post("alice", f"#{world.tag} waiting")
    me = world.me.account_verify_credentials()
    world.server.fault(
        "/api/v1/accounts/verify_credentials",
        {
            "type": "status",
            "status": 200,
            "body": json.loads(json.dumps(me, default=str)),
            "headers": {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "5",
                "X-RateLimit-Reset": str(int(time.time()) + 120),
            },
        },
        methods=("GET",),
    )

    held = track(world, config)

    assert world.requests() == ["/api/v1/accounts/verify_credentials"]
    assert (held.new, held.requests) == (0, 1)
    assert held.stopped == [
        f"#{world.tag.lower()}: the server allows 5 more requests until its reset; "
        "they are kept for posting (reserve_requests 60)"
    ]
    assert track(world, config).new == 1  # the next run, past the fault


def test_counts_are_refreshed_and_deleted_statuses_removed(world: World) -> None:
    config = world.config("refresh_days = 7")
    kept = world.post("alice", f"#{world.tag} kept")
    deleted = world.post("bob", f"#{world.tag} deleted later")
    assert track(world, config).new == 2
    world.others["carol"].status_favourite(kept.id)
    world.others["dave"].status_reblog(kept.id)
    world.others["bob"].status_delete(deleted.id)

    # Within the hour counts are not read again.
    assert track(world, config).refreshed == 0
    later = track(world, config, clock=lambda: utcnow() + timedelta(hours=2))

    assert (later.refreshed, later.removed) == (1, 1)
    assert [(r["remote_id"], r["favourites"], r["boosts"]) for r in world.rows()] == [
        (str(kept.id), 1, 1)
    ]


def test_forget_removes_exactly_that_account(world: World) -> None:
    config = world.config("mentions = true")
    world.post("alice", f"#{world.tag} one")
    world.post("alice", f"@{world.me.me().acct} two #{world.tag}")
    world.post("alice", f"@{world.me.me().acct} three")
    world.post("bob", f"#{world.tag} four")
    assert track(world, config).new == 4

    def forget(account: str) -> str:
        result = CliRunner().invoke(
            cli, ["--config", str(config.file), "movement", "forget", account]
        )
        assert result.exit_code == 0, result.output
        return result.output

    assert forget("@ALICE@127.0.0.1") == (
        "Forgot ALICE@127.0.0.1: removed 1 hashtag status and 2 mentions.\n"
    )
    assert [r["acct"] for r in world.rows()] == ["bob@127.0.0.1"]
    assert world.store.scalar("SELECT count(*) FROM movement_tags") == 1
    assert forget("alice@127.0.0.1") == "Nothing is stored about alice@127.0.0.1.\n"
    assert forget("bob") == "Nothing is stored about bob; give the full handle, user@server.\n"
    profile = world.rows()[0]["account_url"]
    assert forget(profile) == f"Forgot {profile}: removed 1 hashtag status and 0 mentions.\n"
    assert world.rows() == []


def test_audience_snapshot_counts_followers_and_digest_subscribers(world: World) -> None:
    config = world.config()
    for name in ("alice", "bob"):
        world.others[name].account_follow(world.me_id)
    now = utcnow()
    audience_q.upsert_subscriber(world.store, "email", "a@example.org", "weekly", [], [], now)
    gone = audience_q.upsert_subscriber(world.store, "telegram", "42", "weekly", [], [], now)
    audience_q.set_subscriber_status(world.store, gone["id"], "unsubscribed", now)

    result = run_job(world, config, tracking.snapshot_audience)

    assert result == {"mastodon": 2, "email subscribers": 1, "telegram subscribers": 0}
    assert world.requests() == ["/api/v1/accounts/verify_credentials"]
    rows = world.store.rows("SELECT channel, kind, size FROM audience_snapshots ORDER BY id")
    assert rows == [
        {"channel": "mastodon", "kind": "audience", "size": 2},
        {"channel": "email", "kind": "subscribers", "size": 1},
        {"channel": "telegram", "kind": "subscribers", "size": 0},
    ]
