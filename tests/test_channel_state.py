"""Channel state (down, paused), interrupted sends and the engagement schedule, with the
outbox channel: what dispatch, select and record do for every channel."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from commsbot.channels.base import EngagementPolling
from commsbot.clock import local_text
from commsbot.config import Config, load_config
from commsbot.errors import ConfigError
from commsbot.posting import pipeline, select
from commsbot.render import Renderer
from commsbot.store import Store, iso
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q
from commsbot.store import service as service_q
from tests.support.base import NOW, Invoke


def publish(store: Store, config: Config, at: datetime) -> pipeline.Summary:
    async def go() -> pipeline.Summary:
        channels = await pipeline.open_channels(config, [])
        try:
            return await pipeline.publish(store, config, channels, clock=lambda: at)
        finally:
            await pipeline.close_channels(channels)

    return asyncio.run(go())


def statuses(store: Store) -> dict[str, int]:
    return {r["status"]: r["posts"] for r in posts_q.status_counts(store)}


def test_a_down_channel_is_skipped_and_says_why(
    sample_store: Store, config: Config, invoke: Invoke
) -> None:
    engagement_q.set_channel_state(sample_store, "outbox", NOW, down_reason="disk unplugged")

    summary = publish(sample_store, config, NOW)

    assert summary.problems == ["outbox is down: disk unplugged"]
    assert summary.outcomes["outbox"] == {"blocked": 1}
    assert statuses(sample_store) == {"queued": 58}
    listing = invoke("channels").output.splitlines()
    assert listing[2].split() == [
        "outbox",
        "outbox",
        "yes",
        "down:",
        "disk",
        "unplugged",
        "58",
        "0",
        "0",
        "0",
    ]


def test_a_paused_channel_sends_once_its_pause_is_over(sample_store: Store, config: Config) -> None:
    engagement_q.set_channel_state(
        sample_store, "outbox", NOW, paused_until=NOW + timedelta(seconds=60)
    )

    paused = publish(sample_store, config, NOW)
    resumed = publish(sample_store, config, NOW + timedelta(seconds=60))

    assert paused.problems == ["outbox is paused until 2026-11-23T12:01:00Z"]
    assert resumed.problems == []
    assert statuses(sample_store) == {"sent": 58}


def interrupt(store: Store, config: Config, at: datetime, count: int) -> list[int]:
    """Claim posts at a time and never record them: a run that died while sending."""
    channels = pipeline.make_channels(config)
    pipeline.plan(store, config, Renderer(config.service.templates), channels, at)
    return [row["id"] for row in select.claim(store, "outbox", at, count, timedelta(hours=1))]


def test_posts_an_interrupted_run_left_sending_become_unknown_where_the_channel_cannot_tell(
    sample_store: Store, config: Config
) -> None:
    # Every sender holds the store lock, so whatever is ``sending`` when a dispatch starts
    # was left by a process that is gone, however recent.
    old = interrupt(sample_store, config, NOW - timedelta(hours=5), 2)
    recent = interrupt(sample_store, config, NOW - timedelta(seconds=5), 1)

    publish(sample_store, config, NOW)

    for post_id in old + recent:
        post = posts_q.get_post(sample_store, post_id)
        assert post is not None
        assert (post["status"], post["last_error"]) == ("unknown", service_q.LEFT_BY_CRASH)
    assert statuses(sample_store) == {"sent": 55, "unknown": 3}


POLLING = EngagementPolling(
    max_age=timedelta(days=14),
    first_day_every=timedelta(minutes=60),
    later_every=timedelta(hours=24),
)


def test_engagement_is_polled_often_in_the_first_day_then_daily(
    sample_store: Store, config: Config
) -> None:
    publish(sample_store, config, NOW)
    sent = [r["id"] for r in posts_q.list_posts(sample_store, status="sent", limit=3)]

    def due(after: timedelta) -> list[int]:
        # Only three posts are observed; the others stay due, so look only at these.
        found = select.engagement_due(sample_store, "outbox", POLLING, NOW + after)
        return [r["id"] for r in found if r["id"] in sent]

    def observe(after: timedelta) -> None:
        engagement_q.add_snapshots(sample_store, [{"post_id": i} for i in sent], NOW + after)

    # Not in the run that sent them: they would read zeros (#13); one interval later.
    assert due(timedelta(0)) == []
    assert due(timedelta(minutes=30)) == []
    assert due(timedelta(minutes=55)) == sent  # never observed, an hour after sending
    observe(timedelta(minutes=55))
    assert due(timedelta(minutes=80)) == []
    assert due(timedelta(minutes=110)) == sent  # an hour, with a tenth of slack
    observe(timedelta(minutes=110))
    assert due(timedelta(hours=20)) == sent  # still in the first day
    observe(timedelta(days=2))
    assert due(timedelta(days=2, hours=12)) == []  # daily after the first day
    assert due(timedelta(days=3)) == sent
    assert due(timedelta(days=14, minutes=1)) == []  # too old to poll


def test_an_enabled_mastodon_channel_needs_its_server(tmp_path: Path) -> None:
    path = tmp_path / "commsbot.toml"
    path.write_text("[channels.mastodon]\nenabled = true\n", encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_config(path)

    assert str(error.value) == (
        f"{path}: channels.mastodon.api_base_url: needed when the channel is enabled, "
        "e.g. https://mastodon.social"
    )


def test_channels_test_works_for_any_channel(invoke: Invoke) -> None:
    result = invoke("channels", "test", "outbox")

    assert (result.exit_code, result.output) == (0, "limit  500 characters\noutbox: OK\n")


def test_channels_test_names_an_unknown_channel(invoke: Invoke, config_path: Path) -> None:
    result = invoke("channels", "test", "fax")

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config_path}: no channel 'fax' is configured (configured: outbox)\n"
    )


def test_a_post_recorded_while_sending_is_never_counted_twice(
    sample_store: Store, config: Config
) -> None:
    [post_id] = interrupt(sample_store, config, NOW - timedelta(hours=1), 1)

    publish(sample_store, config, NOW)
    post = posts_q.get_post(sample_store, post_id)

    assert post is not None
    assert (post["attempts"], post["attempted_at"]) == (1, iso(NOW - timedelta(hours=1)))


# -- retry times (#13) -----------------------------------------------------------------


def test_a_retry_recorded_by_a_clock_far_ahead_is_listed_and_sent_at_the_next_run(
    sample_store: Store, config: Config
) -> None:
    from commsbot.channels.base import Delivery
    from commsbot.posting import record
    from commsbot.service import status

    far = NOW + timedelta(days=3650)  # the clock was ten years ahead when the send failed
    channels = pipeline.make_channels(config)
    pipeline.plan(sample_store, config, Renderer(config.service.templates), channels, NOW)
    [claimed] = select.claim(sample_store, "outbox", far, 1, timedelta(hours=1))
    post_id = claimed["id"]
    failed = Delivery.retry_later(post_id, "connection reset")
    record.apply(sample_store, [claimed], [failed], far, pipeline.retry_policy(config))
    held = posts_q.get_post(sample_store, post_id)
    assert held is not None and held["next_attempt_at"] == iso(far + timedelta(seconds=60))

    # Back at the right time: status names the post, and the next run sends it.
    attention = status.gather(sample_store, config, NOW)["attention"]
    [row] = [a for a in attention if a["status"] == "held"]
    assert row["id"] == post_id
    assert row["last_error"].startswith(
        f"retry held until {local_text(held['next_attempt_at'], config.zone)}, longer than the "
        "back-off allows (3600 s)"
    )
    publish(sample_store, config, NOW)
    sent = posts_q.get_post(sample_store, post_id)
    assert sent is not None and sent["status"] == "sent"
    assert not [
        a for a in status.gather(sample_store, config, NOW)["attention"] if a["status"] == "held"
    ]


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [(30.0, 30), (1e12, 3600), (float("inf"), 3600), (-5.0, 0), (float("nan"), 0)],
)
def test_a_platforms_retry_after_never_exceeds_the_longest_back_off(
    config: Config, retry_after: float, seconds: int
) -> None:
    policy = pipeline.retry_policy(config)
    assert policy.platform_wait(retry_after) == timedelta(seconds=seconds)
