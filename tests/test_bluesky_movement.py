"""The movement on Bluesky (#18) against a real local network with its AppView: another
account posts with the campaign hashtag, mentions ours and replies to our post; the
hashtag is read through searchPosts, the mentions and replies through notifications, the
audience is the profile's followers; ``stats movement`` shows the same figures as for
Mastodon, per account, and a second run counts nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.config import Config, load_config
from commsbot.insights import tracking
from commsbot.store import Store
from commsbot.store import movement as movement_q
from commsbot.store import posts as posts_q
from tests.support.bluesky import Network, bluesky_config, our_account
from tests.test_mastodon import add_practice, publish, reference
from tests.test_movement_accounts import movement_json, run_jobs, without_week

TAG = "CrossInnovation"


def movement_config(
    folder: Path,
    network: Network,
    handle: str,
    movement: str = "",
    *,
    mentions: bool = True,
    tag: str = TAG,
) -> Config:
    """The channel as the other Bluesky tests have it, and the movement read by it."""
    extra = f'\n[movement]\nhashtags = ["{tag}"]\nmentions = {json.dumps(mentions)}\n{movement}'
    return load_config(bluesky_config(folder, network, handle, extra))


def post(client: Any, text: str, **extra: Any) -> Any:
    """A post as the Bluesky app makes it: its hashtags and mentions as facets."""
    return client.send_post(text, facets=client.detect_facets(text) or None, **extra)


@pytest.fixture
def ours(bsky_appview: Network, monkeypatch: pytest.MonkeyPatch) -> str:
    return our_account(bsky_appview, monkeypatch)


def test_hashtags_mentions_replies_and_followers_reach_stats_movement_once(
    tmp_path: Path, bsky_appview: Network, ours: str
) -> None:
    from atproto import models

    config = movement_config(tmp_path, bsky_appview, ours)
    with Store(config.store.path) as store:
        reference(store)
        add_practice(store, "clinic", summary="A clinic for cultural start-ups.")
        publish(store, config)
        (sent,) = posts_q.list_posts(store, channel="bluesky")
    alice_handle, _ = bsky_appview.account("alice")
    bob_handle, _ = bsky_appview.account("bob")
    alice, bob = bsky_appview.client(alice_handle), bsky_appview.client(bob_handle)
    me = bsky_appview.client(ours)
    post(alice, f"Joining the #{TAG} movement from Vilnius", langs=["lt"])
    post(alice, f"Not the campaign: #{TAG}Later is another tag", langs=["en"])
    post(bob, f"@{ours} thanks for the clinic", langs=["en"])
    bsky_appview.process_all()
    ref = bob.get_posts([sent["remote_id"]]).posts[0]
    strong = models.ComAtprotoRepoStrongRef.Main(uri=ref.uri, cid=ref.cid)
    reply = post(
        alice,
        "Count us in",
        reply_to=models.AppBskyFeedPost.ReplyRef(root=strong, parent=strong),
        langs=["lt"],
    )
    alice.like(reply.uri, reply.cid)
    post(me, f"Our own #{TAG} post", langs=["en"])
    bob.follow(me.me.did)
    bsky_appview.process_all()

    tracked, audience = run_jobs(config, tracking.track_movement, tracking.snapshot_audience)

    run = tracked["bluesky"]
    # The tag: alice's post and our own (not the other tag); mentions: bob's, alice's reply.
    assert (run.new, run.skipped, run.stopped) == (4, 0, [])
    assert audience["bluesky"] == 1
    with Store(config.store.path) as store:
        read = {
            (r["acct"], r["mention"], r["own"], r["reply_to_post"], r["language"])
            for r in store.rows(
                "SELECT acct, mention, own, reply_to_post, language FROM movement_statuses"
            )
        }
        assert read == {
            (alice_handle, 0, 0, None, "lt"),
            (alice_handle, 1, 0, sent["id"], "lt"),
            (bob_handle, 1, 0, None, "en"),
            (ours, 0, 1, None, "en"),
        }
        urls = [r["url"] for r in store.rows("SELECT url FROM movement_statuses")]
        assert all(u.startswith("https://bsky.app/profile/") for u in urls)
        assert set(movement_q.cursors(store, "bluesky")) == {
            "tag:crossinnovation",
            "mentions",
        }

    figures = movement_json(config)
    expected = {
        "tagged": 1,
        "accounts": 1,
        "mentions": 2,
        "replies": 1,
        "conversations": 1,
        "voices": 2,
        "new_voices": 2,
        "own": 1,
        "reach": 1,  # the like on alice's reply
    }
    assert without_week(figures["total"]) == expected
    assert sorted(v["account"] for v in figures["top_voices"]) == sorted([alice_handle, bob_handle])
    (account,) = figures["by_account"]
    assert account["account"] == "bluesky"
    assert without_week(account) == expected
    assert (account["audience_start"], account["audience_end"]) == (1, 1)
    one = movement_json(config, "--channel", "bluesky")
    assert without_week(one["total"]) == expected

    # A second run counts nothing twice; a new mention is the only new status after it.
    (again,) = run_jobs(config, tracking.track_movement)
    assert again["bluesky"].new == 0
    post(bob, f"@{ours} and Tallinn too", langs=["et"])
    bsky_appview.process_all()
    (third,) = run_jobs(config, tracking.track_movement)
    assert third["bluesky"].new == 1
    with Store(config.store.path) as store:
        assert store.scalar("SELECT count(*) FROM movement_statuses") == 5
    assert movement_json(config)["total"]["mentions"] == 3


def test_a_read_cut_short_by_its_page_limit_carries_on_next_run_without_a_gap(
    tmp_path: Path, bsky_appview: Network, ours: str
) -> None:
    """One post a page, one page a run: each run reads one further down, then a new post
    at the top is read and the runs stop where the first read began."""
    # A tag of its own: the network is shared with the other tests, which post #{TAG}.
    tag = "GapFreeReading"
    config = movement_config(
        tmp_path, bsky_appview, ours, "page_size = 1\nmax_pages = 1", mentions=False, tag=tag
    )
    partner_handle, _ = bsky_appview.account("partner")
    partner = bsky_appview.client(partner_handle)
    for n in range(3):
        post(partner, f"Practice {n} for #{tag}")
    bsky_appview.process_all()

    def runs_until_caught_up() -> list[int]:
        news: list[int] = []
        for _ in range(10):
            (tracked,) = run_jobs(config, tracking.track_movement)
            news.append(tracked["bluesky"].new)
            if not tracked["bluesky"].stopped:
                return news
        raise AssertionError(f"still reading after 10 runs: {news}")

    assert sum(runs_until_caught_up()) == 3
    post(partner, f"Practice 3 for #{tag}")
    bsky_appview.process_all()
    assert sum(runs_until_caught_up()) == 1
    with Store(config.store.path) as store:
        texts = store.scalar("SELECT count(DISTINCT remote_id) FROM movement_statuses")
        cursor = movement_q.cursors(store, "bluesky")["tag:gapfreereading"]
    assert texts == 4
    assert set(json.loads(cursor["newest_id"])) == {"newest"}


def test_stats_movement_channel_takes_a_bluesky_account(
    tmp_path: Path, bsky_appview: Network, ours: str
) -> None:
    config = movement_config(tmp_path, bsky_appview, ours)
    result = CliRunner().invoke(
        cli, ["--config", str(config.file), "stats", "movement", "--channel", "outbox"]
    )
    assert result.exit_code == 2
    assert "no Mastodon or Bluesky account 'outbox' (known: bluesky)" in result.output
