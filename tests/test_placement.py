"""Where new posts go: slots, the approval policy and the backlog policy, on a real store
with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commsbot.config import ApprovalConfig, ChannelApproval, Config
from commsbot.content.items import load_sample
from commsbot.errors import ConfigError
from commsbot.posting.pipeline import make_channels, plan, publish
from commsbot.posting.placement import approval_time, backlog_reason, content_date
from commsbot.posting.queue import announce, approve
from commsbot.render import Renderer
from commsbot.store import Store, iso
from commsbot.store import posts as posts_q
from tests.support.base import NOW
from tests.support.service import make_config

# NOW is Monday 2026-11-23 12:00 UTC (13:00 in Brussels).
TUE = datetime(2026, 11, 24, 9, tzinfo=UTC)  # Tue 10:00 CET
THU = datetime(2026, 11, 26, 13, tzinfo=UTC)  # Thu 14:00 CET
NEXT_TUE = TUE + timedelta(days=7)
SLOTS = 'slots = ["Tue 10:00", "Thu 14:00"]'


def open_store(config: Config) -> Iterator[Store]:
    with Store(config.store.path) as store:
        load_sample(store, NOW)
        yield store


def run_plan(store: Store, config: Config, now: datetime = NOW) -> None:
    plan(store, config, Renderer(None), make_channels(config), now)


def posts(
    store: Store, status: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    return posts_q.list_posts(store, status=status, channel=channel, limit=1000)


@pytest.fixture
def slotted(tmp_path: Path) -> Iterator[tuple[Store, Config]]:
    config = make_config(tmp_path, outbox=SLOTS)
    for store in open_store(config):
        yield store, config


def test_new_content_takes_consecutive_free_slots(slotted: tuple[Store, Config]) -> None:
    store, config = slotted
    run_plan(store, config)
    rows = store.rows("SELECT item_ref, status, not_before FROM posts ORDER BY id")
    assert len(rows) == 58
    assert {r["status"] for r in rows} == {"queued"}
    assert [r["not_before"] for r in rows[:4]] == [
        iso(TUE),
        iso(THU),
        iso(NEXT_TUE),
        iso(THU + timedelta(days=7)),
    ]
    assert len({r["not_before"] for r in rows}) == 58  # one post per slot


def test_slotted_posts_go_out_in_their_slot_only(slotted: tuple[Store, Config]) -> None:
    store, config = slotted

    async def publish_at(moment: datetime) -> int:
        channels = make_channels(config)
        for c in channels.values():
            await c.open()
        summary = await publish(store, config, channels, clock=lambda: moment)
        for c in channels.values():
            await c.close()
        return summary.total("sent")

    assert asyncio.run(publish_at(NOW)) == 0
    assert asyncio.run(publish_at(TUE - timedelta(seconds=1))) == 0
    assert asyncio.run(publish_at(TUE)) == 1
    sent = posts(store, status="sent")
    assert [p["item_ref"] for p in sent] == ["birmingham-creative-innovation-vouchers"]


def test_a_second_plan_continues_after_the_held_slots(tmp_path: Path) -> None:
    config = make_config(tmp_path, outbox=SLOTS, extra='[posting]\ncontent_types = ["newsletter"]')
    for store in open_store(config):
        run_plan(store, config)
        ids = announce(
            store, config, make_channels(config), "General meeting", at=NOW, next_slot=True
        )
        # The two newsletters hold Tue and Thu; the announcement takes next Tuesday.
        assert posts_q.get_post(store, ids[0])["not_before"] == iso(NEXT_TUE)  # type: ignore[index]


def test_announcement_at_a_time_or_now_ignores_slots(slotted: tuple[Store, Config]) -> None:
    store, config = slotted
    at = NOW + timedelta(hours=3)
    [post_id] = announce(store, config, make_channels(config), "Soon", at=at)
    post = posts_q.get_post(store, post_id)
    assert post is not None
    assert (post["status"], post["not_before"]) == ("queued", iso(at))


def test_approval_policy_resolution() -> None:
    approval = ApprovalConfig(
        default="approve",
        types={"news": "auto", "event": "auto"},
        channels={
            "outbox": ChannelApproval(default="auto", types={"event": "approve"}),
            "telegram": ChannelApproval(types={"practice": "auto"}),
        },
    )
    assert approval.policy("event", "outbox") == "approve"  # channel and type
    assert approval.policy("practice", "outbox") == "auto"  # channel default
    assert approval.policy("practice", "telegram") == "auto"  # channel and type
    assert approval.policy("event", "telegram") == "auto"  # type
    assert approval.policy("newsletter", "telegram") == "approve"  # default
    assert approval.policy("news", "mastodon") == "auto"  # type


def test_posts_needing_approval_wait_and_hold_no_slot(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, outbox=SLOTS, extra='[approval]\ntypes = { practice = "approve" }'
    )
    for store in open_store(config):
        run_plan(store, config)
        pending = posts(store, status="pending_approval")
        queued = store.rows("SELECT not_before FROM posts WHERE status = 'queued' ORDER BY id")
        assert len(pending) == 44
        assert {p["item_type"] for p in pending} == {"practice"}
        assert {p["not_before"] for p in pending} == {iso(NOW)}
        assert len(queued) == 14
        # The first queued event takes the first slot: waiting posts hold none.
        assert queued[0]["not_before"] == iso(TUE)


def test_approving_late_takes_the_next_free_slot(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        outbox=SLOTS,
        extra='[posting]\ncontent_types = ["newsletter"]\n[approval]\ndefault = "approve"',
    )
    for store in open_store(config):
        run_plan(store, config)
        first, second = posts(store, status="pending_approval")
        later = NOW + timedelta(hours=1)
        for post in (first, second):
            approve(store, post["id"], later, not_before=approval_time(store, config, post, later))
        assert [p["not_before"] for p in posts(store, status="queued")] == [iso(TUE), iso(THU)]


def test_approving_keeps_a_time_still_ahead(slotted: tuple[Store, Config]) -> None:
    store, config = slotted
    post = {"channel": "outbox", "not_before": iso(NOW + timedelta(hours=2))}
    assert approval_time(store, config, post, NOW) == NOW + timedelta(hours=2)


def test_approving_on_a_channel_without_slots_is_now(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store(config.store.path) as store:
        post = {"channel": "outbox", "not_before": iso(NOW - timedelta(days=2))}
        assert approval_time(store, config, post, NOW) == NOW


def test_backlog_skip_is_recorded_never_silent(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra='[posting]\nbacklog = "skip"\nbacklog_after_days = 30')
    for store in open_store(config):
        run_plan(store, config)
        cancelled = posts(store, status="cancelled")
        assert {p["item_type"] for p in cancelled} == {"event", "newsletter"}
        assert len(cancelled) == 14
        newsletter = next(p for p in cancelled if p["item_ref"] == "newsletter-1")
        assert newsletter["last_error"] == (
            "skipped as backlog: newsletter 'newsletter-1' dates from 2013-06-30, 4894 days ago "
            "(posting.backlog_after_days = 30, backlog = skip)"
        )
        assert len(posts(store, status="queued")) == 44  # practices were added today
        # Recorded, so the next run does not consider them again.
        run_plan(store, config, NOW + timedelta(minutes=1))
        assert store.scalar("SELECT count(*) FROM posts") == 58


def test_backlog_approve_waits_with_the_reason_then_clears_it(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra='[posting]\nbacklog = "approve"')
    for store in open_store(config):
        run_plan(store, config)
        pending = posts(store, status="pending_approval")
        assert len(pending) == 14
        assert all(
            str(p["last_error"]).endswith("backlog = approve); approve to post") for p in pending
        )
        post = approve(store, pending[0]["id"], NOW)
        assert (post["status"], post["last_error"]) == ("queued", None)


def test_backlog_post_queues_old_content(tmp_path: Path) -> None:
    config = make_config(tmp_path)  # backlog = "post" by default
    for store in open_store(config):
        run_plan(store, config)
        assert len(posts(store, status="queued")) == 58
        assert store.scalar("SELECT count(*) FROM posts WHERE last_error IS NOT NULL") == 0


def test_content_dates() -> None:
    assert content_date(
        "event", {"end_date": "2013-05-02", "created_at": "2026-01-01T00:00:00Z"}
    ) == (datetime(2013, 5, 2, tzinfo=UTC))
    assert content_date("news", {"published": "2026-11-20T08:30:00+01:00"}) == datetime(
        2026, 11, 20, 7, 30, tzinfo=UTC
    )
    # Unreadable or missing: when it was added.
    assert content_date(
        "news", {"published": "yesterday", "created_at": "2026-11-01T00:00:00Z"}
    ) == (datetime(2026, 11, 1, tzinfo=UTC))
    assert content_date("practice", {"created_at": "2026-11-01T00:00:00Z"}) == datetime(
        2026, 11, 1, tzinfo=UTC
    )


def test_backlog_boundary(tmp_path: Path) -> None:
    config = make_config(tmp_path, extra="[posting]\nbacklog_after_days = 10")
    item = {"slug": "x", "published": iso(NOW - timedelta(days=10))}
    assert backlog_reason(config, "newsletter", item, NOW) is None
    item["published"] = iso(NOW - timedelta(days=10, seconds=1))
    assert backlog_reason(config, "newsletter", item, NOW) == (
        "backlog: newsletter 'x' dates from 2026-11-13, 10 days ago "
        "(posting.backlog_after_days = 10, backlog = approve)"
    )


@pytest.mark.parametrize(
    ("outbox", "extra", "message"),
    [
        (
            'slots = ["Tue 10:00", "Tus 10:00"]',
            "",
            "channels.outbox.slots[1]: 'Tus 10:00': 'Tus' is not a day",
        ),
        ('slots = "Tue 10:00"', "", "channels.outbox.slots: must be a list, not a string"),
        ("", '[approval]\ndefault = "maybe"', "approval.default: must be one of auto | approve"),
        (
            "",
            '[approval]\ntypes = { practise = "approve" }',
            "approval.types.practise: unknown content type (known: practice, event, "
            "newsletter, news, announcement)",
        ),
        (
            "",
            '[approval.channels.mastodon]\ndefault = "approve"',
            "approval.channels.mastodon: unknown channel 'mastodon' (known: outbox)",
        ),
        (
            "",
            '[approval.channels.outbox]\ntypes = { event = "later" }',
            "approval.channels.outbox.types.event: must be one of auto | approve, not 'later'",
        ),
        ("", "[approval]\nsometimes = 1", "approval.sometimes: unknown key"),
        (
            "",
            '[posting]\nbacklog = "drop"',
            "posting.backlog: must be one of post | approve | skip",
        ),
        ("", "[posting]\nbacklog_after_days = 0", "posting.backlog_after_days: must be 1 or more"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, outbox: str, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        make_config(tmp_path, extra=extra, outbox=outbox)
    assert str(exc.value).startswith(f"{tmp_path / 'commsbot.toml'}: {message}")
