"""Constructed engagement data for the stats tests, written through the store's functions.

The scenario (times UTC, the config's zone Europe/Brussels) and the figures it must give are
worked out by hand in tests/test_stats.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from commsbot.store import Store, iso
from commsbot.store import audience as audience_q
from commsbot.store import content as content_q
from commsbot.store import engagement as engagement_q
from commsbot.store import posts as posts_q


def at(text: str) -> datetime:
    """'2026-11-10 09:00' as a UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def item_id(store: Store, item_type: str, slug: str) -> int:
    item = content_q.get_item(store, item_type, slug)
    assert item is not None, slug
    return int(item["id"])


def add_post(
    store: Store,
    channel: str,
    item_type: str,
    ref: str | int,
    sent: str | None,
    *,
    status: str = "sent",
    text: str = "",
) -> int:
    """A post of a content item (by slug) or an announcement (by id), sent at ``sent``."""
    iid = ref if isinstance(ref, int) else item_id(store, item_type, ref)
    moment = at(sent) if sent else at("2026-11-01 00:00")
    posts_q.insert_posts(
        store,
        [
            {
                "item_type": item_type,
                "item_id": iid,
                "item_ref": str(ref),
                "channel": channel,
                "status": status,
                "text": text or f"{item_type} {ref}",
                "not_before": iso(moment),
            }
        ],
        moment,
    )
    post = next(p for p in posts_q.posts_for_item(store, item_type, iid) if p["channel"] == channel)
    changes: dict[str, Any] = {"remote_url": f"https://{channel}.example/p/{post['id']}"}
    if sent:
        changes["sent_at"] = iso(moment)
    assert posts_q.change_post(store, post["id"], (status,), moment, **changes)
    return int(post["id"])


def snapshot(store: Store, post_id: int, observed: str, **counts: int) -> None:
    engagement_q.add_snapshots(store, [{"post_id": post_id, **counts}], at(observed))


def subscriber(
    store: Store,
    channel: str,
    address: str,
    frequency: str,
    created: str,
    *,
    left: str | None = None,
    status: str = "unsubscribed",
) -> None:
    row = audience_q.upsert_subscriber(store, channel, address, frequency, [], [], at(created))
    if left:
        assert audience_q.set_subscriber_status(store, row["id"], status, at(left))


def build_scenario(store: Store) -> dict[str, int]:
    """Posts, snapshots, subscribers and bot queries; returns the post ids by name."""
    ids = {
        # W46 in Brussels. Snapshots of P1 arrive out of order: the 11-11 one is written last.
        "p1": add_post(store, "mastodon", "practice", "plzen-creative-voucher", "2026-11-10 09:00"),
        "p2": add_post(store, "telegram", "practice", "plzen-creative-voucher", "2026-11-10 10:00"),
        # W47. P3 is deleted on the platform after its one snapshot.
        "p3": add_post(
            store, "mastodon", "practice", "vilnius-games-health-brokerage", "2026-11-17 08:00"
        ),
        "p4": add_post(
            store, "mastodon", "event", "kick-off-meeting-birmingham", "2026-11-18 12:00"
        ),
        # Sunday 23:30 UTC is Monday 00:30 in Brussels: W48 there, W47 in UTC.
        "p5": add_post(store, "telegram", "newsletter", "newsletter-1", "2026-11-22 23:30"),
        "p6": add_post(
            store,
            "outbox",
            "announcement",
            1,
            "2026-11-23 09:00",
            text="General Meeting 5 opens tomorrow in Vilnius\n\nhttps://x.example/gm5",
        ),
        # Not sent: its snapshot must not count.
        "p7": add_post(
            store, "mastodon", "practice", "tallinn-baltic-broker-pool", None, status="failed"
        ),
        # Sent before the period the tests ask for.
        "p8": add_post(
            store, "mastodon", "practice", "lisbon-lisboa-creative-seed-fund", "2026-10-01 12:00"
        ),
    }
    snapshot(store, ids["p1"], "2026-11-10 12:00", favourites=2, boosts=1)
    snapshot(store, ids["p1"], "2026-11-12 12:00", favourites=5, boosts=2, replies=1)
    snapshot(store, ids["p1"], "2026-11-11 12:00", favourites=3, boosts=1, replies=1)
    snapshot(store, ids["p2"], "2026-11-11 12:00", reactions=4)
    snapshot(store, ids["p2"], "2026-11-13 12:00", reactions=7)
    snapshot(store, ids["p3"], "2026-11-18 12:00", favourites=10, boosts=4, replies=2)
    assert engagement_q.mark_remote_deleted(store, ids["p3"], at("2026-11-20 12:00"))
    snapshot(store, ids["p5"], "2026-11-23 08:00", reactions=3)
    snapshot(store, ids["p7"], "2026-11-20 12:00", favourites=100)
    snapshot(store, ids["p8"], "2026-10-02 12:00", favourites=50)

    subscriber(store, "email", "s1@example.org", "weekly", "2026-10-01 12:00")
    subscriber(
        store, "email", "s2@example.org", "weekly", "2026-10-05 12:00", left="2026-11-12 12:00"
    )
    subscriber(store, "email", "s3@example.org", "monthly", "2026-11-10 12:00")
    subscriber(store, "telegram", "4004", "weekly", "2026-11-11 12:00", left="2026-11-20 12:00")
    subscriber(
        store,
        "email",
        "s5@example.org",
        "monthly",
        "2026-10-20 12:00",
        left="2026-11-15 10:00",
        status="bounced",
    )
    subscriber(store, "telegram", "6006", "weekly", "2026-11-24 12:00")
    subscriber(
        store, "email", "s7@example.org", "weekly", "2026-09-01 12:00", left="2026-10-15 12:00"
    )
    subscriber(store, "telegram", "9009", "weekly", "2026-11-25 12:00")

    for command, chat, when in (
        ("search", "chat-a", "2026-11-10 08:00"),
        ("search", "chat-b", "2026-11-12 08:00"),
        ("search", "chat-a", "2026-11-20 08:00"),
        ("practices", "chat-a", "2026-11-11 08:00"),
        ("practices", "chat-c", "2026-11-24 08:00"),
        ("start", "chat-d", "2026-11-09 08:00"),
        ("subscribe", "chat-e", "2026-11-01 08:00"),
    ):
        audience_q.log_bot_query(store, command, chat, at(when))
    return ids
